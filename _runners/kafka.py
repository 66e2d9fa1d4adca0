"""Master-side Kafka operations: validate the cluster pillar, verify brokers one at a time,
check the cluster, and roll restarts safely.

``salt/kafka/deploy.sls`` uses these; operators can call them directly:

.. code-block:: bash

    salt-run kafka.plan
    salt-run kafka.health
    salt-run kafka.rolling_restart test=True
"""

import logging
import os
import time


try:
    from kafkasalt import saltglue
    from kafkasalt.common import data
    from kafkasalt.kafka import kraft
    from kafkasalt.kafka import model as brokermodel
    from kafkasalt.zookeeper import model as zkmodel
    from kafkasalt.common.errors import PillarError, PillarErrors
    from kafkasalt.common.validation import load_reporting_all, section_shape_errors
    from kafkasalt.ops import gates, steps
    from kafkasalt.ops import host as hostmodel

    HAS_CORE = True
except ImportError:
    HAS_CORE = False

log = logging.getLogger(__name__)

__virtualname__ = "kafka"
EVENT_PREFIX = "kafkasalt/kafka"
# Seconds before the runner asks whether a minion's kafka.restart still runs (see _RollDriver.act).
RESTART_RETURN_TIMEOUT = 60


def __virtual__():
    if not HAS_CORE:
        return (False, "kafka runner: the kafkasalt core package cannot be imported; "
                       "install the extension with pip or run `salt-run saltutil.sync_all`")
    # A formula install syncs Python files only; the data files are in the file roots.
    data.add_file_roots(__opts__.get("file_roots"))
    return __virtualname__


def _compiled_pillars(tgt, tgt_type):
    minions = saltglue.targeted_minions(__opts__, tgt, tgt_type)
    return saltglue.compiled_pillars(__opts__, __salt__, minions)


def _load(tgt="*", tgt_type="glob", pillars=None):
    """Compile (unless ``pillars`` are given) and validate the kafka (and zookeeper) pillar on
    the master.

    Every broker must see the same ``kafka`` pillar apart from its own per-broker keys; a broker
    with a different view would render a different cluster.
    """
    pillars = _compiled_pillars(tgt, tgt_type) if pillars is None else pillars
    shape_errors = section_shape_errors(pillars, "kafka") + section_shape_errors(pillars, "zookeeper")
    if shape_errors:
        raise PillarErrors(shape_errors)
    views = {m: p for m, p in pillars.items() if isinstance(p.get("kafka"), dict)}
    if not views:
        raise PillarError("kafka", f"no minion matching {tgt!r} has a kafka pillar")
    reference_minion, reference = next(iter(views.items()))
    zk_pillar = reference.get("zookeeper") or {}
    named = zk_pillar.get("members") if isinstance(zk_pillar, dict) else None
    zk_members = list(named) if isinstance(named, dict) else []
    # Heaps are checked against each host's RAM from the grains the master has cached.
    hosts = sorted(set(views) | {m for m in zk_members if isinstance(m, str)})
    grains = __salt__["cache.grains"](tgt=",".join(hosts), tgt_type="list") or {}
    sizing = {m: (grains.get(m) or {}).get("kafka_hardware") for m in hosts}
    refusal = kraft.deploy_refusal(reference["kafka"])
    if refusal is not None:
        # Never a false green: until the KRaft deploy exists every runner refuses, after
        # reporting what else is wrong with the pillar.
        load_reporting_all(lambda: brokermodel.ClusterModel.from_pillar(reference["kafka"], sizing_by_minion=sizing),
                           [refusal])
    zk = zkmodel.EnsembleModel.from_pillar(zk_pillar, sizing_by_minion=sizing)
    model = brokermodel.ClusterModel.from_pillar(reference["kafka"], zookeeper_model=zk, sizing_by_minion=sizing)
    unknown = [b.minion_id for b in model.brokers if b.minion_id not in pillars]
    if unknown:
        raise PillarError("kafka:brokers", f"brokers {unknown} are not accepted minions matching {tgt!r}")
    differing = [b.minion_id for b in model.brokers if pillars[b.minion_id].get("kafka") != reference["kafka"]]
    if differing:
        raise PillarError("kafka", f"brokers {differing} see a different kafka pillar than {reference_minion}")
    return model, zk


def plan(tgt="*", tgt_type="glob"):
    """
    Validate the Kafka and ZooKeeper pillar on the master before any host changes. Returns the
    broker start order (by broker id) or an error naming every bad pillar key.

    CLI Example:

    .. code-block:: bash

        salt-run kafka.plan
    """
    try:
        pillars = _compiled_pillars(tgt, tgt_type)
        # kafka_host may differ from host to host: every targeted minion's is checked.
        model, ensemble = load_reporting_all(lambda: _load(tgt, tgt_type, pillars),
                                             hostmodel.minion_errors(pillars))
    except (PillarError, PillarErrors) as exc:
        return saltglue.fail(__context__, f"invalid pillar: {exc}")
    # A broker marked drain is left to kafka.scale (emptied, then retired): no state touches it.
    order = [b.minion_id for b in sorted(model.serving_brokers, key=lambda b: b.broker_id)]
    orphaned = _orphaned_replicas(model)
    if orphaned:
        return saltglue.fail(__context__, "invalid pillar: kafka:brokers: " + "; ".join(
            f"broker {broker} holds {count} replica(s) but is no longer in kafka:brokers: put it back with "
            f"drain: true and re-run kafka.deploy until it is retired, then delete it"
            for broker, count in sorted(orphaned.items())))
    converge = _converge_mode(order)
    comment = f"pillar valid: brokers {order}"
    if converge == "first_start":
        comment += " (bare hosts: first start of every broker at once)"
    elif converge == "all_running":
        comment += " (every broker runs: files converged on all at once, restarts rolled one at a time)"
    return {"result": True, "changes": {}, "comment": comment, "brokers": order,
            "broker_ids": {b.minion_id: b.broker_id for b in model.serving_brokers},
            "draining": [b.minion_id for b in model.draining_brokers],
            "zookeeper_members": ensemble.minion_ids, "converge": converge,
            "first_start": converge == "first_start"}


def _orphaned_replicas(model):
    """``{broker id: replicas}`` for brokers that hold replicas but are not in the pillar (empty
    when the cluster does not answer yet: bare hosts hold nothing)."""
    topics = _ask([b.minion_id for b in model.serving_brokers], "kafka.describe_topics", timeout=30)
    if "error" in topics and "replies" in topics:
        return {}
    known = {b.broker_id for b in model.brokers}
    orphaned = {}
    for info in topics.values():
        for partition in info.get("partitions", []) if isinstance(info, dict) else []:
            for broker in partition.get("replicas", []):
                if broker not in known:
                    orphaned[broker] = orphaned.get(broker, 0) + 1
    return orphaned


def _converge_mode(hosts):
    """How the deploy may apply the broker state:

    ``first_start``: every host answers that no broker ever ran there, so there is no data to
    lose and no partition to keep available: all start at once (as Strimzi creates all pods at
    once). ``all_running``: every broker runs; the state never restarts a running broker (static
    changes are rolled by the gated roll), so applying it everywhere at once starts nothing.
    ``serial``: anything else (a broker to start beside running ones, a host that does not
    answer): one broker at a time, each registered before the next starts.
    """
    replies = saltglue.cmd(__opts__, hosts, "kafka.ever_started", tgt_type="list", timeout=30)
    answers = [replies.get(h) for h in hosts]
    if not all(isinstance(a, dict) for a in answers):
        return "serial"
    if all(a.get("ever_started") is False and not a.get("running") for a in answers):
        return "first_start"
    if all(a.get("running") is True for a in answers):
        return "all_running"
    return "serial"


def _ask(minions, function, *args, timeout=60):
    """First good answer of ``function`` among ``minions`` (the admin client runs on a broker host).

    Every function asked this way is cluster-wide (one answer is the answer), so the hosts are
    asked one at a time, in order, the next only when one gives no good answer: a change such as
    a reassignment or a leader election is made once, not by every host at the same moment, and
    a read costs one admin connection instead of one per broker on hosts that also run the
    brokers."""
    errors = {}
    for minion in minions:
        reply = saltglue.cmd(__opts__, [minion], function, arg=args, tgt_type="list", timeout=timeout).get(minion)
        if isinstance(reply, dict) and not (isinstance(reply.get("Error"), str) or "error" in reply):
            return reply
        errors[minion] = reply
    return {"error": f"no broker host answered {function}", "replies": errors}


def wait_broker(broker_id, timeout=120, tgt="*", tgt_type="glob"):
    """
    Wait until broker ``broker_id`` is registered in the cluster metadata (asked through any
    broker host). Used by the deploy after each broker starts.

    CLI Example:

    .. code-block:: bash

        salt-run kafka.wait_broker 2
    """
    model, _ = _load(tgt, tgt_type)
    hosts = [b.minion_id for b in model.serving_brokers]
    started = time.monotonic()
    deadline = started + timeout
    last = None
    while time.monotonic() < deadline:
        last = _ask(hosts, "kafka.describe_cluster", timeout=20)
        ids = {b["id"] for b in last.get("brokers", [])} if "brokers" in last else set()
        if int(broker_id) in ids:
            took = round(time.monotonic() - started, 2)
            saltglue.fire(__opts__, f"{EVENT_PREFIX}/broker/{broker_id}/registered", {"seconds": took})
            return {"result": True, "changes": {}, "comment": f"broker {broker_id} registered after {took}s",
                    "broker_id": int(broker_id), "waited_seconds": took, "controller_id": last.get("controller_id")}
        time.sleep(1)
    return saltglue.fail(__context__, f"broker {broker_id} not registered after {timeout}s", last=last)


def health(tgt="*", tgt_type="glob"):
    """
    Cluster health: every broker in metadata, one controller, no offline or under-replicated
    partitions, none under min ISR — with reasons.

    CLI Example:

    .. code-block:: bash

        salt-run kafka.health
    """
    model, _ = _load(tgt, tgt_type)
    return _ask([b.minion_id for b in model.serving_brokers], "kafka.health", timeout=60)


def verify_cluster(timeout=120, tgt="*", tgt_type="glob"):
    """
    Wait until the cluster is healthy with every pillar broker registered; fail with reasons.

    CLI Example:

    .. code-block:: bash

        salt-run kafka.verify_cluster
    """
    model, _ = _load(tgt, tgt_type)
    hosts = [b.minion_id for b in model.serving_brokers]
    expected = sorted(b.broker_id for b in model.serving_brokers)
    started = time.monotonic()
    last = None
    while time.monotonic() - started < timeout:
        last = _ask(hosts, "kafka.health", timeout=30)
        registered = sorted(b["id"] for b in last.get("brokers", []))
        # A draining broker may still be registered until kafka.scale retires it.
        if last.get("verdict") == "healthy" and set(expected) <= set(registered):
            return {"result": True, "changes": {}, "comment": f"cluster healthy: brokers {registered}, "
                    f"controller {last.get('controller_id')}", "verdict": "healthy", "brokers": registered,
                    "controller_id": last.get("controller_id"), "waited_seconds": round(time.monotonic() - started, 2)}
        time.sleep(1)
    return saltglue.fail(__context__, f"cluster not healthy after {timeout}s", health=last)


def _zookeeper_health(opts, members):
    """The ensemble's verdict as the first member that answers sees it."""
    replies = saltglue.cmd(opts, members, "zookeeper_ensemble.health", tgt_type="list", timeout=15)
    # Every member's host also says whether its own process runs: those that do not are "stopped".
    stopped = sorted(m for m in members if isinstance(replies.get(m), dict)
                     and (replies[m].get("local") or {}).get("running") is False)
    for member in members:
        reply = replies.get(member)
        if isinstance(reply, dict) and "verdict" in reply:
            return dict(reply, stopped=stopped)
    return {"verdict": "unknown", "reasons": [f"no ZooKeeper member answered: {sorted(replies)}"], "stopped": stopped}


class _RollDriver:
    """What the step engine asks of the cluster during a broker roll, done through the minions."""

    def __init__(self, opts, model, ensemble=None):
        self.opts = opts
        self.hosts = [b.minion_id for b in model.serving_brokers]
        self.broker_of = {b.minion_id: b.broker_id for b in model.serving_brokers}
        self.zk_members = list(ensemble.minion_ids) if ensemble is not None else []

    def observe(self, step, phase):
        # The cluster view, every host's process state and (before a step, at the end) the
        # ensemble's verdict are independent round trips through the minions: ask them at once.
        import contextvars
        from concurrent.futures import ThreadPoolExecutor

        def submit(pool, fn, *args, **kwargs):
            # Salt's loader dunders (__opts__ ...) live in context variables, which a new thread
            # does not inherit: each task runs in its own copy of this one.
            return pool.submit(contextvars.copy_context().run, fn, *args, **kwargs)

        # Ask from another host when possible: the restarting broker's own host may be busy.
        asked = [h for h in self.hosts if h not in step.targets] + [h for h in step.targets if h in self.hosts]
        with ThreadPoolExecutor(max_workers=3) as pool:
            cluster = submit(pool, _ask, asked, "kafka.gate_view", timeout=60)
            processes = submit(pool, saltglue.cmd, self.opts, self.hosts, "kafka.process_running",
                               tgt_type="list", timeout=15)
            zookeeper = (submit(pool, _zookeeper_health, self.opts, self.zk_members)
                         if self.zk_members and phase in ("before", "final") else None)
            view, replies = cluster.result(), processes.result()
            if "topics" not in view:
                view = {"error": view.get("error", "no answer")}
            view["processes"] = {self.broker_of[h]: (replies[h].get("running") if isinstance(replies.get(h), dict)
                                                     else None) for h in self.hosts}
            view["pids"] = {self.broker_of[h]: replies[h].get("pid") for h in self.hosts
                            if isinstance(replies.get(h), dict)}
            if zookeeper is not None:
                view["zookeeper"] = zookeeper.result()
        return view

    def act(self, step):
        for host in step.targets:
            # Not a deadline: past it Salt asks the minion (saltutil.find_job) and keeps waiting
            # while the restart still runs, so a long controlled shutdown is waited for. A long
            # value only hid a dead master: salt-run then waited an hour for a return that could
            # not come; now the ask fails and the roll halts with that error.
            result = saltglue.cmd(self.opts, host, "kafka.restart", timeout=RESTART_RETURN_TIMEOUT)
            if not isinstance(result.get(host), dict) or not result[host].get("restarted"):
                raise RuntimeError(f"restart of {host} failed: {result.get(host)}")
            # The after-gates check that this process stays: one that dies halts the step at once.
            step.params.setdefault("started_pids", {})[self.broker_of[host]] = result[host].get("pid")
        return {"restarted": list(step.targets)}

    def event(self, tag, data):
        saltglue.fire(self.opts, f"{EVENT_PREFIX}/roll/{tag}", data)


def rolling_restart(test=False, force=False, restart_all=False, rack_parallel=False,
                    elect_leaders=True, start_timeout=None, tgt="*", tgt_type="glob"):
    """
    Restart the brokers whose files changed since they started, one at a time, the active
    controller last, as gated steps of the step engine. Before each broker: the cluster
    answers, every broker's process runs, no offline partitions, no partition it hosts would
    drop below ``min.insync.replicas``, no reassignment in flight (unless ``force``). After:
    registered again, every process running, no offline or under-replicated partitions, within
    a timeout that grows with the broker's data. At the end every pillar broker must be
    registered and running. The roll stops at the first failed gate, naming it, and leaves the
    remaining brokers untouched; a re-run resumes with what is still pending.

    test
        Print the plan: order and reason per broker, and the gates of each step.
    restart_all
        Restart every broker, changed or not.
    rack_parallel
        Restart a whole rack at once when no partition has two replicas in one rack.
    elect_leaders
        Run a preferred leader election at the end.
    start_timeout
        Seconds to wait for each broker's after-restart gates (default: grows with its data).

    CLI Example:

    .. code-block:: bash

        salt-run kafka.rolling_restart test=True
        salt-run kafka.rolling_restart
    """
    from kafkasalt.kafka import roll

    try:
        model, ensemble = _load(tgt, tgt_type)
    except (PillarError, PillarErrors) as exc:
        return saltglue.fail(__context__, f"invalid pillar: {exc}")
    hosts = [b.minion_id for b in model.serving_brokers]
    host_of = {b.broker_id: b.minion_id for b in model.serving_brokers}
    replies = saltglue.cmd(__opts__, hosts, "kafka.restart_pending", tgt_type="list", timeout=30)
    pending = {}
    for broker in model.serving_brokers:
        reply = replies.get(broker.minion_id)
        if not isinstance(reply, dict):
            return saltglue.fail(__context__, f"{broker.minion_id} did not report its restart state: {reply}")
        if restart_all or reply.get("changed_files"):
            pending[broker.broker_id] = "restart_all" if restart_all else "changed: " + ", ".join(reply["changed_files"])
    if not pending:
        return {"result": True, "changes": {}, "comment": "no broker has a pending configuration change"}
    cluster = _ask(hosts, "kafka.describe_cluster", timeout=30)
    controller = cluster.get("controller_id")
    topics = _ask(hosts, "kafka.describe_topics", timeout=60) if rack_parallel else None
    timeouts = {}
    if not test:
        if start_timeout:
            timeouts = {b: int(start_timeout) for b in pending}
        else:
            sizes = saltglue.cmd(__opts__, [host_of[b] for b in pending], "kafka.data_bytes", tgt_type="list", timeout=120)
            timeouts = {b: gates.start_timeout(sizes.get(host_of[b]) if isinstance(sizes.get(host_of[b]), int) else 0)
                        for b in pending}
    try:
        plan = roll.plan_roll(pending, host_of, controller, racks={b.broker_id: b.rack for b in model.brokers},
                              topics=topics, rack_parallel=rack_parallel, force=force, timeouts=timeouts)
    except ValueError as exc:
        return saltglue.fail(__context__, str(exc))
    summary = roll.plan_summary(plan)
    if test:
        return {"result": None, "changes": {"plan": summary, "steps": steps.preview(plan)["described"]},
                "comment": "would restart " + " then ".join("+".join(step["brokers"]) for step in summary)}
    timing = steps.Timing(gate_timeout=30, step_timeout=gates.BASE_START_TIMEOUT, poll_interval=1)
    try:
        report = steps.run(plan, _RollDriver(__opts__, model, ensemble), timing)
    except steps.Halted as exc:
        done = [t for s in exc.report["steps"] for t in s["targets"]]
        return saltglue.fail(__context__, f"roll halted: {exc}", changes={"restarted": done},
                             gates=list(exc.gates), remaining=[t for s in plan.steps for t in s.targets if t not in done])
    restarted = [t for s in report["steps"] for t in s["targets"]]
    if elect_leaders:
        _ask(hosts, "kafka.elect_preferred_leaders", timeout=60)
    changes = {"restarted": restarted, "plan": summary,
               "seconds": {t: s["seconds"] for s in report["steps"] for t in s["targets"]},
               "gate_overhead_seconds": {t: s["gate_seconds"] for s in report["steps"] for t in s["targets"]},
               "recovery_seconds": {t: s["wait_seconds"] for s in report["steps"] for t in s["targets"]}}
    return {"result": True, "changes": changes, "comment": "restarted " + ", ".join(restarted) + " one at a time"}


def list_topics(include_internal=False, tgt="*", tgt_type="glob"):
    """
    Topic names, from the master (asked through a broker host, which holds the credentials).

    CLI Example:

    .. code-block:: bash

        salt-run kafka.list_topics
    """
    model, _ = _load(tgt, tgt_type)
    replies = saltglue.cmd(__opts__, [b.minion_id for b in model.serving_brokers], "kafka.list_topics",
                   arg=[f"include_internal={include_internal}"], tgt_type="list", timeout=60)
    for broker in model.brokers:
        if isinstance(replies.get(broker.minion_id), list):
            return replies[broker.minion_id]
    return saltglue.fail(__context__, "no broker host answered kafka.list_topics", replies=replies)


def describe_cluster(tgt="*", tgt_type="glob"):
    """
    Cluster id, controller and brokers, from the master.

    CLI Example:

    .. code-block:: bash

        salt-run kafka.describe_cluster
    """
    model, _ = _load(tgt, tgt_type)
    return _ask([b.minion_id for b in model.serving_brokers], "kafka.describe_cluster", timeout=60)


def apply_config(test=False, tgt="*", tgt_type="glob"):
    """
    Apply pillar config changes that Kafka can take live, before any rolling restart: keys
    changed to the same value on every broker become cluster-wide dynamic defaults; the rest of
    each broker's dynamic changes go to its own entity. Static changes are left to
    ``kafka.rolling_restart``, which then restarts only the brokers that still need it.

    CLI Example:

    .. code-block:: bash

        salt-run kafka.apply_config test=True
    """
    from kafkasalt.kafka import dynamic_config

    try:
        model, _ = _load(tgt, tgt_type)
    except (PillarError, PillarErrors) as exc:
        return saltglue.fail(__context__, f"invalid pillar: {exc}")
    hosts = [b.minion_id for b in model.serving_brokers]
    replies = saltglue.cmd(__opts__, hosts, "kafka.pending_changes", tgt_type="list", timeout=30)
    plans = {h: (replies.get(h) or {}).get("plan") if isinstance(replies.get(h), dict) else None for h in hosts}
    cluster_wide = None
    for host in hosts:
        wanted = {k: v["new"] for k, v in ((plans[host] or {}).get("dynamic_cluster") or {}).items()}
        cluster_wide = wanted if cluster_wide is None else {k: v for k, v in cluster_wide.items() if wanted.get(k) == v}
    cluster_wide = cluster_wide or {}
    per_broker = {}
    for host in hosts:
        plan = plans[host] or {}
        keys = {k: v["new"] for k, v in (plan.get("dynamic_per_broker") or {}).items()}
        keys.update({k: v["new"] for k, v in (plan.get("dynamic_cluster") or {}).items() if k not in cluster_wide})
        if keys:
            per_broker[host] = keys
    if not cluster_wide and not per_broker:
        return {"result": True, "changes": {}, "comment": "no dynamic config change pending"}
    changes = {}
    if cluster_wide:
        changes["cluster_default"] = dynamic_config.redact(cluster_wide)
    if per_broker:
        changes["per_broker"] = {h: dynamic_config.redact(v) for h, v in per_broker.items()}
    if test:
        return {"result": None, "changes": changes, "comment": "would apply dynamic configs live (no restart)"}
    if cluster_wide:
        reply = _ask(hosts, "kafka.alter_broker_config", {"set_configs": cluster_wide, "__kwarg__": True}, timeout=60)
        if "error" in reply:
            return saltglue.fail(__context__, f"setting cluster-wide defaults failed: {reply}")
    for host in hosts:
        if plans[host]:
            reply = saltglue.cmd(__opts__, host, "kafka.apply_dynamic_changes",
                         arg=[{"cluster_defaults_applied": sorted(cluster_wide), "__kwarg__": True}], timeout=60)
            if not isinstance(reply.get(host), dict):
                return saltglue.fail(__context__, f"applying dynamic configs on {host} failed: {reply.get(host)}", changes=changes)
    saltglue.fire(__opts__, f"{EVENT_PREFIX}/config/applied", changes)
    return {"result": True, "changes": changes, "comment": "dynamic configs applied live, no restart"}


class _RotationDriver:
    """What the step engine asks of the hosts during a CA rotation, through the minions."""

    def __init__(self, opts, model, ensemble, hosts):
        self.opts = opts
        self.hosts = hosts
        self.broker_hosts = [b.minion_id for b in model.serving_brokers]
        self.zk_members = list(ensemble.minion_ids) if ensemble is not None else []

    def holdings(self):
        replies = saltglue.cmd(self.opts, self.hosts, "kafka_tls.holdings", tgt_type="list", timeout=60)
        return {h: (replies[h] if isinstance(replies.get(h), dict)
                    else {"phase": None, "problems": [f"no answer: {replies.get(h)!r}"]}) for h in self.hosts}

    def observe(self, step, phase):
        import contextvars
        from concurrent.futures import ThreadPoolExecutor

        def submit(pool, fn, *args, **kwargs):
            return pool.submit(contextvars.copy_context().run, fn, *args, **kwargs)

        with ThreadPoolExecutor(max_workers=3) as pool:
            holdings = submit(pool, self.holdings)
            zookeeper = submit(pool, _zookeeper_health, self.opts, self.zk_members) if self.zk_members else None
            kafka = submit(pool, _ask, self.broker_hosts, "kafka.health", timeout=60)
            view = {"holdings": holdings.result(), "kafka": kafka.result()}
            if zookeeper is not None:
                view["zookeeper"] = zookeeper.result()
        return view

    def act(self, step):
        host, phase = step.target, step.params["phase"]
        reply = saltglue.cmd(self.opts, host, "kafka_tls.apply", arg=(phase,), timeout=120).get(host)
        if not isinstance(reply, dict) or "changed" not in reply:
            raise RuntimeError(f"{host} could not write its TLS files for {phase}: {reply}")
        done = {"changed": reply["changed"], "reloaded": reply.get("reloaded", False)}
        if step.params.get("restart_member"):
            # A member reads its stores at start; restarted only when they changed since.
            pending = saltglue.cmd(self.opts, host, "zookeeper_ensemble.restart_pending", timeout=30).get(host)
            if not isinstance(pending, dict):
                raise RuntimeError(f"{host} did not say whether its ZooKeeper member needs a restart: {pending}")
            if pending.get("changed_files"):
                restarted = saltglue.cmd(self.opts, host, "zookeeper_ensemble.restart", timeout=120).get(host)
                if not isinstance(restarted, dict) or not restarted.get("restarted"):
                    raise RuntimeError(f"restart of ZooKeeper member {host} failed: {restarted}")
                done["member_restarted"] = True
        return done

    def event(self, tag, data):
        saltglue.fire(self.opts, f"{EVENT_PREFIX}/ca_rotation/{tag}", data)


def _rotation_hosts(model, ensemble):
    hosts = [b.minion_id for b in model.serving_brokers]
    if ensemble is not None and ensemble.tls.enabled:
        hosts += [m for m in ensemble.minion_ids if m not in hosts]
    return hosts


def _external_certificates(store, hosts):
    """Certificates the store issued to names that are not a host's own (operators' clients)."""
    own = {f"{prefix}-{h}" for h in hosts for prefix in ("broker", "client", "zookeeper", "zkclient")}
    names = {name.rsplit(".", 1)[0] for name in os.listdir(os.path.join(store.directory, "issued"))}
    return sorted(names - own)


def rotate_ca(test=False, timeout=180, tgt="*", tgt_type="glob"):
    """
    Replace the cluster CA without downtime. Starts a rotation (a new CA on the master) unless
    one is pending, then moves every broker and ZooKeeper member through three phases, one host
    at a time, as gated steps: ``trust`` (every trust store holds the old and the new CA),
    ``reissue`` (every certificate comes from the new CA), ``drop`` (trust stores hold only the
    new CA). Brokers reload their stores live; ZooKeeper members restart one at a time. Each
    step is verified on the host (files, what the broker serves, what the member started with)
    before the next; the phase is read from the hosts, so an interrupted rotation resumes on the
    next run. At the end the master's store promotes the new CA.

    Clients outside Salt must trust the new CA before ``reissue``: the answer names it and the
    certificates the store issued to them (re-issue those from the new CA).

    test
        Print the phase the hosts are in and the steps left; change nothing (no CA is created).

    CLI Example:

    .. code-block:: bash

        salt-run kafka.rotate_ca test=True
        salt-run kafka.rotate_ca
    """
    from kafkasalt.security import pki, pki_store, rotation

    started = time.monotonic()
    try:
        model, ensemble = _load(tgt, tgt_type)
    except (PillarError, PillarErrors) as exc:
        return saltglue.fail(__context__, f"invalid pillar: {exc}")
    if not any(listener.uses_tls for listener in model.listeners) and not (ensemble and ensemble.tls.enabled):
        return saltglue.fail(__context__, "no listener and no ZooKeeper port uses TLS: there is no CA to rotate")
    store = pki_store.store_for(__opts__["pki_dir"], model.cluster_name)
    hosts = _rotation_hosts(model, ensemble)
    upcoming = store.next_ca_cert()
    redistribute = {"external_certificates": _external_certificates(store, hosts)}
    if upcoming is None and test:
        return {"result": None, "changes": {"phases": list(rotation.PHASES), "hosts": hosts},
                "comment": f"would create a new CA and move {len(hosts)} hosts through "
                           + ", ".join(rotation.PHASES) + ", one host at a time", "redistribute": redistribute}
    created = False
    if upcoming is None:
        upcoming, created = store.start_rotation()
    redistribute.update(new_ca_fingerprint=pki.fingerprint(upcoming), new_ca=upcoming)
    saltglue.cmd(__opts__, hosts, "saltutil.refresh_pillar", kwarg={"wait": True}, tgt_type="list", timeout=60)
    driver = _RotationDriver(__opts__, model, ensemble, hosts)
    holdings = driver.holdings()
    plan = rotation.plan_rotation(holdings, members=driver.zk_members, timeout=timeout)
    phase = rotation.cluster_phase(holdings)
    if test:
        return {"result": None, "changes": {"phase": phase, "steps": steps.preview(plan)["described"]},
                "comment": f"rotation pending; the hosts are before {phase}", "redistribute": redistribute}
    timing = steps.Timing(gate_timeout=60, step_timeout=timeout, poll_interval=1)
    try:
        report = steps.run(plan, driver, timing)
    except steps.Halted as exc:
        done = [f"{s['action']} {'+'.join(s['targets'])}" for s in exc.report["steps"]]
        return saltglue.fail(__context__, f"CA rotation halted: {exc}", changes={"steps": done, "ca_created": created},
                             gates=list(exc.gates), redistribute=redistribute)
    retired = store.promote()
    saltglue.cmd(__opts__, hosts, "saltutil.refresh_pillar", kwarg={"wait": True}, tgt_type="list", timeout=60)
    per_phase = {}
    for entry in report["steps"]:
        name = entry["action"].removeprefix("ca-")
        per_phase[name] = round(per_phase.get(name, 0) + entry["seconds"], 2)
    changes = {"ca_created": created, "resumed_from": phase, "seconds_per_phase": per_phase,
               "steps": [f"{s['action']} {'+'.join(s['targets'])}" for s in report["steps"]],
               "skipped": [f"{s['action']} {'+'.join(s['targets'])}" for s in report["skipped"]],
               "members_restarted": [t for s in report["steps"] if s["done"].get("member_restarted") for t in s["targets"]],
               "retired": retired, "new_ca_fingerprint": redistribute["new_ca_fingerprint"]}
    return {"result": True, "changes": changes, "redistribute": redistribute,
            "comment": f"every host trusts and serves only the new CA {redistribute['new_ca_fingerprint'][:16]}; "
                       f"the old CA is retired ({round(time.monotonic() - started, 1)}s)"}


class _RebalanceDriver:
    """What the step engine asks of the cluster during a rebalance, through a broker host."""

    def __init__(self, opts, model, throttle_bytes):
        self.opts = opts
        self.hosts = [b.minion_id for b in model.serving_brokers]
        self.broker_of = {b.minion_id: b.broker_id for b in model.serving_brokers}
        self.throttle_bytes = throttle_bytes
        self.throttled = []

    def observe(self, step, phase):
        return _cluster_view(self.opts, self.hosts, self.broker_of)

    def act(self, step):
        if step.params.get("wait_only"):
            return {"waited_for": len(step.params["moves"])}
        plan = {f"{topic}:{partition}": list(target) for (topic, partition), target in step.params["moves"].items()}
        reply = _ask(self.hosts, "kafka.execute_reassignment", plan, {"throttle_bytes": self.throttle_bytes,
                                                                      "__kwarg__": True}, timeout=120)
        if "error" in reply:
            raise RuntimeError(f"starting the batch failed: {reply}")
        self.throttled.append({"brokers": reply.get("brokers"), "topics": sorted(reply.get("topic_throttles") or {})})
        return {"partitions": len(reply.get("partitions") or []), "throttled_brokers": reply.get("brokers"),
                "throttled_topics": sorted(reply.get("topic_throttles") or {})}

    def event(self, tag, data):
        saltglue.fire(self.opts, f"{EVENT_PREFIX}/rebalance/{tag}", data)


def _broker_ids(model, names, key):
    """Broker ids from ids or minion ids; PillarError-like message naming ``key``."""
    by_minion = {b.minion_id: b.broker_id for b in model.brokers}
    known = set(by_minion.values())
    out = []
    for name in ([] if names in (None, "") else (names if isinstance(names, (list, tuple)) else str(names).split(","))):
        text = str(name).strip()
        if text in by_minion:
            out.append(by_minion[text])
        elif text.isdigit() and int(text) in known:
            out.append(int(text))
        else:
            raise ValueError(f"{key}: {text!r} is not a broker of kafka:brokers (minion ids {sorted(by_minion)}, "
                             f"broker ids {sorted(known)})")
    return sorted(set(out))


def rebalance(test=False, drain=None, max_moves_per_broker=None, throttle_bytes=None, timeout=900,
              tgt="*", tgt_type="glob"):
    """
    Balance replicas, preferred leaders (and bytes, where known) over the pillar's brokers with
    the fewest moves (:mod:`kafkasalt.rebalance`), then carry the moves out in throttled batches
    as gated engine steps: at most ``max_moves_per_broker`` moves per broker at once (default
    ``kafka:rebalance:max_moves_per_broker``), each batch verified done before the next, halted
    with the reason on a failed gate (a broker down, something offline, a partition to move that
    is under-replicated). The replication throttle (``kafka:rebalance:throttle_bytes``, default
    sized from the slowest NIC, see ``kafka.sizing``) is set on the moving replicas only and
    removed on every exit. Reassignments found running are waited for first, so an interrupted
    rebalance resumes. Preferred leaders are elected at the end. Brokers marked
    ``drain: true`` in pillar are emptied.

    test
        Print the plan (Cruise Control style: moves, MB to move, leaders, per-broker before and
        after, estimated time at the throttle) and its batches; move nothing.
    drain
        More brokers (minion ids or broker ids, comma-separated) to empty.

    CLI Example:

    .. code-block:: bash

        salt-run kafka.rebalance test=True
        salt-run kafka.rebalance drain=kafka4
    """
    try:
        model, _ = _load(tgt, tgt_type)
        drained = sorted(set(_broker_ids(model, drain, "drain")) | {b.broker_id for b in model.draining_brokers})
    except (PillarError, PillarErrors) as exc:
        return saltglue.fail(__context__, f"invalid pillar: {exc}")
    except ValueError as exc:
        return saltglue.fail(__context__, str(exc))
    return _run_rebalance(model, drained, max_moves_per_broker, throttle_bytes, timeout, test)


def _layout(hosts):
    """``({(topic, partition): replicas}, in-flight targets)`` as the cluster holds them, or
    ``(None, reason)``."""
    from kafkasalt.rebalance import execute

    topics = _ask(hosts, "kafka.describe_topics", timeout=60)
    if "error" in topics and "replies" in topics:
        return None, f"cannot read the partitions: {topics['error']}"
    current = {(name, p["partition"]): list(p["replicas"]) for name, info in topics.items()
               for p in info.get("partitions", [])}
    replies = saltglue.cmd(__opts__, hosts, "kafka.list_reassignments", tgt_type="list", timeout=60)
    running = next((r for r in replies.values() if isinstance(r, list)), None)
    if running is None:
        return None, f"cannot list the reassignments in flight: {replies}"
    return current, execute.in_flight_targets(running)


def _run_rebalance(model, drained, max_moves_per_broker=None, throttle_bytes=None, timeout=900, test=False):
    from kafkasalt.rebalance import execute, planner
    from kafkasalt.rebalance.model import PlanError

    hosts = [b.minion_id for b in model.serving_brokers]
    current, in_flight = _layout(hosts)
    if current is None:
        return saltglue.fail(__context__, in_flight)
    start = {**current, **in_flight}
    racks = {b.broker_id: b.rack for b in model.brokers} if all(b.rack for b in model.brokers) else None
    cap = max_moves_per_broker or model.rebalance.max_moves_per_broker
    throttle_bytes = _throttle(model, hosts, throttle_bytes)
    try:
        proposal = planner.plan(start, [b.broker_id for b in model.brokers], racks=racks, drain=drained)
        plan = execute.plan_execution(proposal.moves, start, in_flight, cap=int(cap), timeout=timeout)
    except (PlanError, ValueError) as exc:
        return saltglue.fail(__context__, str(exc))
    summary = proposal.summary(throttle_bytes)
    if not plan.steps:
        return {"result": True, "changes": {}, "comment": "the cluster is balanced: nothing to move", "summary": summary}
    if test:
        return {"result": None, "changes": {"summary": summary, "steps": steps.preview(plan)["described"]},
                "comment": f"would move {proposal.replica_moves} replica(s) of {len(proposal.moves)} partition(s) "
                           f"in {len(plan.steps)} step(s)"}
    driver = _RebalanceDriver(__opts__, model, throttle_bytes)
    timing = steps.Timing(gate_timeout=60, step_timeout=timeout, poll_interval=1)
    try:
        report = steps.run(plan, driver, timing)
    except steps.Halted as exc:
        return saltglue.fail(__context__, f"rebalance halted: {exc}", gates=list(exc.gates),
                             changes={"batches_done": len(exc.report["steps"]), "throttles": _clear_throttles(hosts)})
    except BaseException:
        _clear_throttles(hosts)
        raise
    cleared = _clear_throttles(hosts)
    elected = _ask(hosts, "kafka.elect_preferred_leaders", timeout=120)
    changes = {"replica_moves": proposal.replica_moves, "leader_changes": proposal.leader_changes,
               "partitions": len(proposal.moves), "drained": drained,
               "batches": len([s for s in report["steps"] if s["action"].startswith("move-batch")]),
               "seconds": report["seconds"], "throttle_bytes": throttle_bytes, "throttled": driver.throttled,
               "throttles_cleared": cleared, "leaders_elected": len(elected.get("elected") or [])}
    return {"result": True, "changes": changes, "summary": summary,
            "comment": f"moved {proposal.replica_moves} replica(s) of {len(proposal.moves)} partition(s) in "
                       f"{changes['batches']} batch(es); throttles removed"}


def _replica_counts(current):
    counts = {}
    for replicas in current.values():
        for broker in replicas:
            counts[broker] = counts.get(broker, 0) + 1
    return counts


def scale(test=False, timeout=900, tgt="*", tgt_type="glob"):
    """
    Bring the cluster's layout to what ``kafka:brokers`` says, after a deploy: brokers marked
    ``drain: true`` are emptied by a rebalance (a new replica catches up before an old one
    leaves), then retired: stopped and removed from the service manager, their data kept; the
    answer says when a broker is safe to delete from pillar. With ``kafka:rebalance:on_scale``
    (default on), a broker that holds no replica while others do (a scale-out) gets its share.

    CLI Example:

    .. code-block:: bash

        salt-run kafka.scale test=True
    """
    try:
        model, _ = _load(tgt, tgt_type)
    except (PillarError, PillarErrors) as exc:
        return saltglue.fail(__context__, f"invalid pillar: {exc}")
    hosts = [b.minion_id for b in model.serving_brokers]
    current, reason = _layout(hosts)
    if current is None:
        return saltglue.fail(__context__, reason)
    counts = _replica_counts(current)
    draining = [b for b in model.draining_brokers]
    to_empty = [b.minion_id for b in draining if counts.get(b.broker_id)]
    empty = [b.minion_id for b in model.serving_brokers if not counts.get(b.broker_id)]
    scale_out = model.rebalance.on_scale and bool(empty) and bool(counts)
    changes = {}
    if to_empty or scale_out:
        why = (f"draining {', '.join(to_empty)}" if to_empty else "") + \
              ("; " if to_empty and scale_out else "") + (f"scale-out onto {', '.join(empty)}" if scale_out else "")
        moved = _run_rebalance(model, [b.broker_id for b in draining], timeout=timeout, test=test)
        if moved.get("result") is False:
            return saltglue.fail(__context__, f"{why}: {moved.get('Error') or moved.get('comment')}",
                                 changes=moved.get("changes", {}))
        changes["rebalance"] = dict(moved.get("changes") or {}, reason=why)
        if not test:
            current, reason = _layout(hosts)
            if current is None:
                return saltglue.fail(__context__, reason, changes=changes)
            counts = _replica_counts(current)
    retired, still = [], []
    for broker in draining:
        if counts.get(broker.broker_id):
            still.append(f"{broker.minion_id} still holds {counts[broker.broker_id]} replica(s)")
            continue
        if test:
            retired.append(broker.minion_id)
            continue
        reply = saltglue.cmd(__opts__, broker.minion_id, "kafka.retire", timeout=gates.MAX_START_TIMEOUT).get(broker.minion_id)
        if not isinstance(reply, dict):
            return saltglue.fail(__context__, f"retiring {broker.minion_id} failed: {reply}", changes=changes)
        if reply.get("retired"):
            retired.append(broker.minion_id)
    if retired:
        changes["retired"] = retired
    if still:
        return saltglue.fail(__context__, "; ".join(still), changes=changes)
    if test:
        return {"result": None if changes else True, "changes": changes,
                "comment": "would " + (", ".join(f"retire {m}" for m in retired) or "change nothing")}
    notes = [f"{m} is empty and stopped (its data is kept): safe to delete kafka:brokers:{m} from pillar"
             for m in [b.minion_id for b in draining]]
    return {"result": True, "changes": changes,
            "comment": "; ".join(notes) or ("rebalanced" if changes else "every broker holds its share: nothing to do")}


def _throttle(model, hosts, given=None):
    """Bytes/s for moves: the argument, else ``kafka:rebalance:throttle_bytes``, else the slowest
    NIC's share as ``kafka.sizing`` sizes it on the first broker host (None when unknown)."""
    value = given or model.rebalance.throttle_bytes
    if value is None:
        sizing = saltglue.cmd(__opts__, hosts[0], "kafka.sizing", timeout=60).get(hosts[0])
        item = sizing.get("replication_throttle_bytes_per_sec") if isinstance(sizing, dict) else None
        value = item.get("value") if isinstance(item, dict) else None
    return int(value) if value is not None else None


def _cluster_view(opts, hosts, broker_of):
    """``kafka.gate_view`` through a broker host plus each host's own word on its process."""
    view = _ask(hosts, "kafka.gate_view", timeout=60)
    if "topics" not in view:
        view = {"error": view.get("error", "no answer")}
    replies = saltglue.cmd(opts, hosts, "kafka.process_running", tgt_type="list", timeout=15)
    view["processes"] = {broker_of[h]: (replies[h].get("running") if isinstance(replies.get(h), dict) else None)
                         for h in hosts}
    return view


def _clear_throttles(hosts):
    """Every replication throttle removed (every exit path of a rebalance)."""
    reply = _ask(hosts, "kafka.clear_throttles", timeout=120)
    return reply if "error" not in reply else {"error": reply["error"]}


class _DiskDriver:
    """The step engine's view of the brokers' log directories during a disk balance."""

    def __init__(self, opts, model, evacuate_only, throttle_bytes):
        self.opts = opts
        self.hosts = [b.minion_id for b in model.serving_brokers]
        self.broker_of = {b.minion_id: b.broker_id for b in model.serving_brokers}
        self.evacuate_only = evacuate_only
        self.throttle_bytes = throttle_bytes

    def observe(self, step, phase):
        view = _cluster_view(self.opts, self.hosts, self.broker_of)
        if step.targets:
            host = step.target
            reply = saltglue.cmd(self.opts, host, "kafka.disk_plan", kwarg={"evacuate_only": self.evacuate_only},
                                 timeout=60).get(host)
            view["disks"] = {host: reply if isinstance(reply, dict) else {"error": str(reply)}}
        return view

    def act(self, step):
        host = step.target
        reply = saltglue.cmd(self.opts, host, "kafka.move_between_log_dirs", arg=[step.params["moves"]],
                             kwarg={"throttle_bytes": self.throttle_bytes}, timeout=120).get(host)
        if not isinstance(reply, list):
            raise RuntimeError(f"moving replicas between the log directories of {host} failed: {reply}")
        return {"moved": len(reply)}

    def event(self, tag, data):
        saltglue.fire(self.opts, f"{EVENT_PREFIX}/disks/{tag}", data)


def _disk_gate():
    from kafkasalt.ops.steps import gate

    @gate("disks_settled")
    def disks_settled(step, view):
        """No replica is being copied between the broker's directories, none is left in a
        directory the pillar dropped, and (balancing) its directories are even."""
        plan = (view.get("disks") or {}).get(step.target) or {}
        if plan.get("error"):
            return [f"{step.target}: {plan['error']}"]
        out = []
        if plan.get("future"):
            out.append(f"{step.target}: {len(plan['future'])} replica(s) still copying between directories")
        if plan.get("left_behind"):
            out.append(f"{step.target}: {len(plan['left_behind'])} replica(s) left in {', '.join(plan['leaving'])}")
        if not out and plan.get("moves") and not step.params.get("evacuate_only"):
            out.append(f"{step.target}: {len(plan['moves'])} move(s) still planned")
        if plan.get("offline"):
            out.append(f"{step.target}: offline log directories {plan['offline']}")
        return out

    return disks_settled


def balance_disks(test=False, evacuate_only=False, throttle_bytes=None, timeout=900, tgt="*", tgt_type="glob"):
    """
    Balance each broker's replicas over its log directories (JBOD), one broker at a time as
    gated engine steps: replicas leave directories the broker's log dirs no longer list
    (``kafka:brokers:<minion>:log_dirs``, else ``kafka:log_dirs``; the
    deploy does this with ``evacuate_only`` before the roll that drops them), then counts are
    evened out over the directories in use (after the roll that adds one). Copies are throttled
    (``replica.alter.log.dirs.io.max.bytes.per.second``, default ``kafka:rebalance:throttle_bytes``
    or the NIC-sized rate) and the throttle is removed on every exit.

    CLI Example:

    .. code-block:: bash

        salt-run kafka.balance_disks test=True
    """
    from kafkasalt.kafka import roll as kafka_gates
    from kafkasalt.ops.steps import Plan, Step

    try:
        model, _ = _load(tgt, tgt_type)
    except (PillarError, PillarErrors) as exc:
        return saltglue.fail(__context__, f"invalid pillar: {exc}")
    hosts = [b.minion_id for b in model.serving_brokers]
    replies = saltglue.cmd(__opts__, hosts, "kafka.disk_plan", kwarg={"evacuate_only": bool(evacuate_only)},
                           tgt_type="list", timeout=60)
    bad = {h: r for h, r in replies.items() if not isinstance(r, dict)} | {h: "no answer" for h in hosts if h not in replies}
    if bad:
        return saltglue.fail(__context__, f"cannot read the log directories: {bad}")
    settled = _disk_gate()
    plan_steps = []
    for host in hosts:
        reply = replies[host]
        if not reply["moves"]:
            continue
        plan_steps.append(Step(action="move-between-dirs", targets=(host,), timeout=timeout,
                               reason=f"{len(reply['moves'])} replica(s) of broker {reply['broker_id']}: "
                                      f"{reply['before']} -> {reply['after']}",
                               before=(kafka_gates.cluster_reachable, kafka_gates.brokers_running,
                                       kafka_gates.no_offline_partitions),
                               after=(settled, kafka_gates.no_offline_partitions, kafka_gates.others_running),
                               params={"moves": reply["moves"], "evacuate_only": bool(evacuate_only)}))
    if not plan_steps:
        return {"result": True, "changes": {}, "comment": "every broker's log directories are balanced"}
    plan = Plan("disk balance", plan_steps)
    if test:
        return {"result": None, "changes": {"steps": steps.preview(plan)["described"]},
                "comment": f"would move replicas between directories on {len(plan_steps)} broker(s)"}
    driver = _DiskDriver(__opts__, model, bool(evacuate_only), _throttle(model, hosts, throttle_bytes))
    try:
        report = steps.run(plan, driver, steps.Timing(gate_timeout=60, step_timeout=timeout, poll_interval=1))
    except steps.Halted as exc:
        return saltglue.fail(__context__, f"disk balance halted: {exc}", gates=list(exc.gates),
                             changes={"throttles": _clear_throttles(hosts)})
    except BaseException:
        _clear_throttles(hosts)
        raise
    cleared = _clear_throttles(hosts)
    changes = {host: {"moved": len(replies[host]["moves"]), "before": replies[host]["before"],
                      "after": replies[host]["after"]} for s in report["steps"] for host in s["targets"]}
    return {"result": True, "changes": changes, "throttles_cleared": cleared,
            "comment": f"balanced the log directories of {', '.join(changes)} in {report['seconds']}s"}


def _backup_session(tgt, tgt_type):
    """A :class:`kafkasalt.kafka.backup.ClusterSession` from the master's compiled pillar (the
    backup's data goes from the cluster to the master's file directly, never through the job
    cache), and the cluster model."""
    from kafkasalt.kafka import backup

    pillars = _compiled_pillars(tgt, tgt_type)
    model, ensemble = _load(tgt, tgt_type, pillars)
    if ensemble is None:
        raise backup.BackupError("kafka.backup needs a ZooKeeper-mode cluster (the zookeeper pillar)")
    pillar = pillars[model.serving_brokers[0].minion_id]
    private_dir = os.path.join(__opts__["cachedir"], "kafkasalt", "backup-client")
    return backup.ClusterSession(model, ensemble, pillar.get("kafka_tls"), pillar.get("zookeeper_tls"),
                                 private_dir), model


def backup(path=None, tgt="*", tgt_type="glob"):
    """
    Back up the cluster's metadata into one versioned file on the master (mode 0600, written
    atomically): topics (partitions, replication factor, overrides), SCRAM users as Kafka
    stores them (salt, keys, iterations; never a password), user and client-id quotas, ACLs,
    cluster-wide and per-broker dynamic configs (sensitive ones are listed as unrestorable),
    consumer group offsets. The master connects to the brokers and ZooKeeper itself.

    path
        The file (default ``<cachedir>/kafkasalt/backups/<cluster>-<UTC time>.json``).

    CLI Example:

    .. code-block:: bash

        salt-run kafka.backup
        salt-run kafka.backup path=/srv/backups/kafka.json
    """
    from kafkasalt.kafka import backup as core
    from kafkasalt.kafka.admin.connection import KafkaAdminError
    from kafkasalt.zookeeper.client import ZkUnavailable

    started = time.monotonic()
    try:
        session, model = _backup_session(tgt, tgt_type)
        with session:
            document = core.collect(session.admin, session.zk, session.chroot, kafka_version=model.version)
        if path is None:
            stamp = document["taken_at"].replace("-", "").replace(":", "")
            path = os.path.join(__opts__["cachedir"], "kafkasalt", "backups", f"{model.cluster_name}-{stamp}.json")
        written = core.write(document, path)
    except (PillarError, PillarErrors) as exc:
        return saltglue.fail(__context__, f"invalid pillar: {exc}")
    except (core.BackupError, KafkaAdminError, ZkUnavailable, OSError) as exc:
        return saltglue.fail(__context__, f"backup failed: {exc}")
    counts = {section: len(document[section]) for section in core.SECTIONS}
    counts["quotas"] = sum(len(v) for v in document["quotas"].values())
    seconds = round(time.monotonic() - started, 2)
    return {"result": True, "changes": {"path": written, "counts": counts, "seconds": seconds},
            "unrestorable": document["unrestorable"],
            "comment": f"backed up cluster {document['cluster_id']} to {written} in {seconds}s"}


def restore(path, test=False, force=False, tgt="*", tgt_type="glob"):
    """
    Restore a ``kafka.backup`` file into the pillar's cluster and print the diff: missing topics
    created (with their overrides), overrides, SCRAM users (the cluster's own super and
    inter-broker users are kept), quotas, ACLs, dynamic broker configs and the offsets of groups
    without active members brought to the backup's values. A second restore changes nothing.
    Partition counts that differ are reported, never changed. A cluster holding topics is
    refused unless ``force=True``.

    test
        Print the diff; change nothing.
    force
        Merge the backup into a cluster that already holds topics.

    CLI Example:

    .. code-block:: bash

        salt-run kafka.restore /srv/backups/kafka.json test=True
        salt-run kafka.restore /srv/backups/kafka.json force=True
    """
    from kafkasalt.kafka import backup as core
    from kafkasalt.kafka.admin.connection import KafkaAdminError
    from kafkasalt.zookeeper.client import ZkUnavailable

    started = time.monotonic()
    try:
        document = core.read(path)
        session, _ = _backup_session(tgt, tgt_type)
        with session:
            result = core.restore(document, session.admin, session.zk, session.chroot,
                                  keep_users=session.keep_users, force=bool(force), test=bool(test),
                                  acl=session.znode_acl())
    except (PillarError, PillarErrors) as exc:
        return saltglue.fail(__context__, f"invalid pillar: {exc}")
    except core.RestoreRefused as exc:
        return saltglue.fail(__context__, str(exc), diff=exc.plan["actions"])
    except (core.BackupError, KafkaAdminError, ZkUnavailable, ValueError) as exc:
        return saltglue.fail(__context__, f"restore failed: {exc}")
    plan = result["plan"]
    report = {key: plan[key] for key in ("mismatches", "skipped", "unrestorable", "refused") if plan[key]}
    if not plan["actions"]:
        return {"result": True, "changes": {}, "comment": "the cluster already matches the backup", **report}
    seconds = round(time.monotonic() - started, 2)
    if test:
        return {"result": None, "changes": {"diff": plan["actions"], "counts": result["counts"]},
                "comment": f"would apply {len(plan['actions'])} change(s) from {path}", **report}
    return {"result": True, "changes": {"applied": result["applied"], "counts": result["counts"], "seconds": seconds},
            "comment": f"restored {len(result['applied'])} change(s) from {path} in {seconds}s", **report}

"""Master-side Kafka operations: validate the cluster pillar, verify brokers one at a time,
check the cluster, and roll restarts safely.

``salt/kafka/deploy.sls`` uses these; operators can call them directly:

.. code-block:: bash

    salt-run kafka.plan
    salt-run kafka.health
    salt-run kafka.rolling_restart test=True
"""

import logging
import time


try:
    from kafkasalt import saltglue
    from kafkasalt.common import data
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
    order = [b.minion_id for b in sorted(model.brokers, key=lambda b: b.broker_id)]
    converge = _converge_mode(order)
    comment = f"pillar valid: brokers {order}"
    if converge == "first_start":
        comment += " (bare hosts: first start of every broker at once)"
    elif converge == "all_running":
        comment += " (every broker runs: files converged on all at once, restarts rolled one at a time)"
    return {"result": True, "changes": {}, "comment": comment, "brokers": order,
            "broker_ids": {b.minion_id: b.broker_id for b in model.brokers},
            "zookeeper_members": ensemble.minion_ids, "converge": converge,
            "first_start": converge == "first_start"}


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
    """First good answer of ``function`` among ``minions`` (the admin client runs on a broker host)."""
    replies = saltglue.cmd(__opts__, minions, function, arg=args, tgt_type="list", timeout=timeout)
    errors = {}
    for minion in minions:
        reply = replies.get(minion)
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
    hosts = [b.minion_id for b in model.brokers]
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
    return _ask([b.minion_id for b in model.brokers], "kafka.health", timeout=60)


def verify_cluster(timeout=120, tgt="*", tgt_type="glob"):
    """
    Wait until the cluster is healthy with every pillar broker registered; fail with reasons.

    CLI Example:

    .. code-block:: bash

        salt-run kafka.verify_cluster
    """
    model, _ = _load(tgt, tgt_type)
    hosts = [b.minion_id for b in model.brokers]
    expected = sorted(b.broker_id for b in model.brokers)
    started = time.monotonic()
    last = None
    while time.monotonic() - started < timeout:
        last = _ask(hosts, "kafka.health", timeout=30)
        registered = sorted(b["id"] for b in last.get("brokers", []))
        if last.get("verdict") == "healthy" and registered == expected:
            return {"result": True, "changes": {}, "comment": f"cluster healthy: brokers {registered}, "
                    f"controller {last.get('controller_id')}", "verdict": "healthy", "brokers": registered,
                    "controller_id": last.get("controller_id"), "waited_seconds": round(time.monotonic() - started, 2)}
        time.sleep(1)
    return saltglue.fail(__context__, f"cluster not healthy after {timeout}s", health=last)


def _zookeeper_health(opts, members):
    """The ensemble's verdict as the first member that answers sees it."""
    replies = saltglue.cmd(opts, members, "zookeeper_ensemble.health", tgt_type="list", timeout=15)
    for member in members:
        reply = replies.get(member)
        if isinstance(reply, dict) and "verdict" in reply:
            return reply
    return {"verdict": "unknown", "reasons": [f"no ZooKeeper member answered: {sorted(replies)}"]}


class _RollDriver:
    """What the step engine asks of the cluster during a broker roll, done through the minions."""

    def __init__(self, opts, model, ensemble=None):
        self.opts = opts
        self.hosts = [b.minion_id for b in model.brokers]
        self.broker_of = {b.minion_id: b.broker_id for b in model.brokers}
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
    hosts = [b.minion_id for b in model.brokers]
    host_of = {b.broker_id: b.minion_id for b in model.brokers}
    replies = saltglue.cmd(__opts__, hosts, "kafka.restart_pending", tgt_type="list", timeout=30)
    pending = {}
    for broker in model.brokers:
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
    replies = saltglue.cmd(__opts__, [b.minion_id for b in model.brokers], "kafka.list_topics",
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
    return _ask([b.minion_id for b in model.brokers], "kafka.describe_cluster", timeout=60)


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
    hosts = [b.minion_id for b in model.brokers]
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

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
    from kafkasalt.kafka import model as brokermodel
    from kafkasalt.zookeeper import model as zkmodel
    from kafkasalt.common.errors import PillarError, PillarErrors

    HAS_CORE = True
except ImportError:
    HAS_CORE = False

log = logging.getLogger(__name__)

__virtualname__ = "kafka"
EVENT_PREFIX = "kafkasalt/kafka"


def __virtual__():
    if not HAS_CORE:
        return (False, "kafka runner: the kafkasalt core package cannot be imported; "
                       "install the extension with pip or run `salt-run saltutil.sync_all`")
    return __virtualname__


def _load(tgt="*", tgt_type="glob"):
    """Compile and validate the kafka (and zookeeper) pillar on the master.

    Every broker must see the same ``kafka`` pillar apart from its own per-broker keys; a broker
    with a different view would render a different cluster.
    """
    minions = saltglue.targeted_minions(__opts__, tgt, tgt_type)
    pillars = {m: __salt__["pillar.show_pillar"](m) for m in sorted(minions)}
    views = {m: p for m, p in pillars.items() if isinstance(p.get("kafka"), dict)}
    if not views:
        raise PillarError("kafka", f"no minion matching {tgt!r} has a kafka pillar")
    reference_minion, reference = next(iter(views.items()))
    zk = zkmodel.EnsembleModel.from_pillar(reference.get("zookeeper") or {})
    # Heap is checked against each broker's RAM from the grains the master has cached.
    grains = __salt__["cache.grains"](tgt=",".join(views), tgt_type="list") or {}
    sizing = {m: (grains.get(m) or {}).get("kafka_hardware") for m in views}
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
        model, ensemble = _load(tgt, tgt_type)
    except (PillarError, PillarErrors) as exc:
        return saltglue.fail(__context__, f"invalid pillar: {exc}")
    order = [b.minion_id for b in sorted(model.brokers, key=lambda b: b.broker_id)]
    return {"result": True, "changes": {}, "comment": f"pillar valid: brokers {order}", "brokers": order, "broker_ids": {b.minion_id: b.broker_id for b in model.brokers},
            "zookeeper_members": ensemble.minion_ids}


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


def _gate(hosts, target_host, broker_id, phase, force=False):
    # Ask from another host when possible: the restarting broker's own host may be busy.
    asked = [h for h in hosts if h != target_host] + [target_host]
    return _ask(asked, "kafka.restart_gate", broker_id, f"phase={phase}", f"force={force}", timeout=60)


def _failed_reasons(result):
    return [c["reason"] for c in result.get("checks", []) if not c.get("passed")] or [result.get("error", "no answer")]


def _wait_gate(hosts, target_host, broker_id, timeout):
    """Poll the after-restart gates every second until they pass or ``timeout`` runs out."""
    deadline = time.monotonic() + timeout
    last = {}
    while time.monotonic() < deadline:
        last = _gate(hosts, target_host, broker_id, "after")
        if last.get("passed"):
            return True, last
        time.sleep(1)
    return False, last


def rolling_restart(test=False, force=False, restart_all=False, rack_parallel=False,
                    elect_leaders=True, start_timeout=None, tgt="*", tgt_type="glob"):
    """
    Restart the brokers whose files changed since they started, one at a time, the active
    controller last. Before each broker: no offline partitions, no partition it hosts would
    drop below ``min.insync.replicas``, no reassignment in flight (unless ``force``). After:
    registered again, no offline or under-replicated partitions, within a timeout that grows
    with the broker's data. The roll stops at the first failed gate and leaves the remaining
    brokers untouched; a re-run resumes with what is still pending.

    test
        Print the plan: order and reason per broker.
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
    from kafkasalt.ops import gates as gate

    try:
        model, _ = _load(tgt, tgt_type)
    except (PillarError, PillarErrors) as exc:
        return saltglue.fail(__context__, f"invalid pillar: {exc}")
    hosts = [b.minion_id for b in model.brokers]
    host_of = {b.broker_id: b.minion_id for b in model.brokers}
    replies = saltglue.cmd(__opts__, hosts, "kafka.restart_pending", tgt_type="list", timeout=30)
    pending, reasons = [], {}
    for broker in model.brokers:
        reply = replies.get(broker.minion_id)
        if not isinstance(reply, dict):
            return saltglue.fail(__context__, f"{broker.minion_id} did not report its restart state: {reply}")
        if restart_all or reply.get("changed_files"):
            pending.append(broker.broker_id)
            reasons[broker.broker_id] = "restart_all" if restart_all else "changed: " + ", ".join(reply["changed_files"])
    if not pending:
        return {"result": True, "changes": {}, "comment": "no broker has a pending configuration change"}
    cluster = _ask(hosts, "kafka.describe_cluster", timeout=30)
    controller = cluster.get("controller_id")
    if rack_parallel:
        topics = _ask(hosts, "kafka.describe_topics", timeout=60)
        batches, why = gate.rack_batches(pending, {b.broker_id: b.rack for b in model.brokers}, topics, controller)
        if batches is None:
            return saltglue.fail(__context__, f"rack-parallel restart refused: {why}")
    else:
        batches = [[b] for b in gate.restart_order(pending, controller)]
    plan = [{"brokers": [host_of[b] for b in batch],
             "reasons": {host_of[b]: reasons[b] + (" (active controller: last)" if b == controller else "") for b in batch}}
            for batch in batches]
    if test:
        return {"result": None, "changes": {"plan": plan}, "comment": "would restart " +
                " then ".join("+".join(step["brokers"]) for step in plan)}

    report = {"restarted": [], "seconds": {}, "gate_overhead_seconds": {}}
    for batch in batches:
        for broker_id in batch:
            host = host_of[broker_id]
            started = time.monotonic()
            before = _gate(hosts, host, broker_id, "before", force)
            if not before.get("passed"):
                saltglue.fire(__opts__, f"{EVENT_PREFIX}/roll/{host}/halted", {"gate": "before", "reasons": _failed_reasons(before)})
                return saltglue.fail(__context__, f"halted before {host} (broker {broker_id}): " + "; ".join(_failed_reasons(before)),
                             changes={"restarted": report["restarted"]}, gate=before, remaining=[
                                 host_of[b] for step in batches for b in step if host_of[b] not in report["restarted"]])
            report["gate_overhead_seconds"][host] = round(time.monotonic() - started, 2)
        for broker_id in batch:
            host = host_of[broker_id]
            saltglue.fire(__opts__, f"{EVENT_PREFIX}/roll/{host}/start", {"broker_id": broker_id, "reason": reasons[broker_id]})
            data = _ask([host], "kafka.data_bytes", timeout=120)
            timeout = int(start_timeout) if start_timeout else gate.start_timeout(data if isinstance(data, int) else 0)
            restart_started = time.monotonic()
            result = saltglue.cmd(__opts__, host, "kafka.restart", timeout=gate.MAX_START_TIMEOUT)
            if not isinstance(result.get(host), dict) or not result[host].get("restarted"):
                return saltglue.fail(__context__, f"restart of {host} failed: {result.get(host)}", changes={"restarted": report["restarted"]})
            ok, after = _wait_gate(hosts, host, broker_id, timeout)
            if not ok:
                saltglue.fire(__opts__, f"{EVENT_PREFIX}/roll/{host}/halted", {"gate": "after", "reasons": _failed_reasons(after)})
                return saltglue.fail(__context__, f"{host} (broker {broker_id}) did not pass the after-restart gates within {timeout}s: "
                             + "; ".join(_failed_reasons(after)), changes={"restarted": report["restarted"]}, gate=after)
            report["restarted"].append(host)
            report["seconds"][host] = round(time.monotonic() - restart_started, 2)
            saltglue.fire(__opts__, f"{EVENT_PREFIX}/roll/{host}/done", {"broker_id": broker_id, "seconds": report["seconds"][host]})
    if elect_leaders:
        _ask(hosts, "kafka.elect_preferred_leaders", timeout=60)
    changes = {"restarted": report["restarted"], "plan": plan, "seconds": report["seconds"],
               "gate_overhead_seconds": report["gate_overhead_seconds"]}
    return {"result": True, "changes": changes, "comment": "restarted " + ", ".join(report["restarted"]) + " one at a time"}


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

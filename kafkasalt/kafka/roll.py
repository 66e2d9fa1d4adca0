"""The Kafka broker roll as a plan of gated steps (run by :mod:`kafkasalt.ops.steps`).

The gates read a *view* of the cluster, plain data a driver gathers through one admin
connection::

    {"topics": describe_topics() output, "min_isr": {topic: int}, "default_min_isr": int,
     "reassignments": [...], "registered": [broker ids], "controller": id,
     "processes": {broker id: True | False | None},   # optional: the host's own word
     "pids": {broker id: pid | None},                 # optional: hosts that answered
     "zookeeper": zookeeper_ensemble.health verdict,   # optional, before a step and at the end,
                  # with "stopped": the members whose own host says their process does not run

The rules are those of :mod:`kafkasalt.ops.gates` (Strimzi's KafkaAvailability rule before a
restart; registered, nothing offline, nothing under-replicated after it). ``processes`` lets the
gates see a dead broker at once (its process is gone) instead of after its ZooKeeper session
times out; a broker whose host cannot say is judged by registration alone.
"""

from __future__ import annotations

from kafkasalt.ops import gates as rules
from kafkasalt.ops.steps import Plan, Step, gate


def _reasons(checks) -> list:
    return [check.reason for check in checks if not check.passed]


def _ids(step):
    return step.params.get("broker_ids", ())


@gate("cluster_reachable")
def cluster_reachable(step, view):
    """An admin client reached the cluster."""
    if view.get("error"):
        return [f"cluster not reachable: {view['error']}"]
    return []


@gate("no_offline_partitions")
def no_offline_partitions(step, view):
    """Every partition has a leader."""
    if view.get("error"):
        return []
    return _reasons([rules.no_offline_partitions(view.get("topics") or {})])


@gate("min_isr_kept")
def min_isr_kept(step, view):
    """Every partition a restarting broker hosts keeps min.insync.replicas without it (and
    without the other brokers of its batch)."""
    if view.get("error"):
        return []
    topics = view.get("topics") or {}
    batch = set(_ids(step))
    if len(batch) > 1:
        # A rack batch: every broker of the batch is down at once.
        topics = {name: dict(info, partitions=[dict(p, isr=[r for r in p.get("isr", []) if r not in batch])
                                               for p in info.get("partitions", [])])
                  for name, info in topics.items()}
    out = []
    for broker_id in sorted(batch):
        out += _reasons([rules.min_isr_kept_without(broker_id, topics, view.get("min_isr") or {},
                                                    view.get("default_min_isr", rules.DEFAULT_MIN_ISR))])
    return out


@gate("no_reassignment")
def no_reassignment(step, view):
    """No partition reassignment is in flight (unless forced)."""
    if view.get("error"):
        return []
    return _reasons([rules.no_reassignment_in_flight(view.get("reassignments") or [], step.params.get("force", False))])


def _down(view, skip=()):
    return sorted(b for b, up in (view.get("processes") or {}).items() if up is False and b not in skip)


@gate("brokers_running")
def brokers_running(step, view):
    """Every broker's process runs, as its own host says."""
    return [f"broker {b} is down (its process does not run)" for b in _down(view)]


@gate("others_running", fatal=True)
def others_running(step, view):
    """No broker other than the restarting ones is down: one that died will not come back by
    waiting, so the step halts at once."""
    return [f"broker {b} is down (its process does not run)" for b in _down(view, skip=_ids(step))]


@gate("restarted_stays_up", fatal=True)
def restarted_stays_up(step, view):
    """A restarted broker still runs the process its restart started: one that died after the
    restart (or that its supervisor already replaced after a crash) will not pass by waiting,
    so the step halts at once instead of after its whole timeout."""
    started = step.params.get("started_pids") or {}  # pid (None: none ran) when the restart returned
    now = view.get("pids") or {}  # only the hosts that answered
    out = []
    for b in _ids(step):
        if b not in started or b not in now:
            continue
        was, running = started[b], now[b]
        if running is None:
            # ``was`` is None when the process had already died when the restart returned.
            process = f"its process (pid {was})" if was else "its process"
            out.append(f"broker {b} is down: {process} died after the restart")
        elif was and running != was:
            out.append(f"broker {b} crashed after the restart: pid {was} was replaced by pid {running}")
    return out


@gate("broker_registered")
def broker_registered(step, view):
    """The restarted broker is registered again."""
    if view.get("error"):
        return [f"cluster not reachable: {view['error']}"]
    return [reason for b in _ids(step) for reason in _reasons([rules.broker_registered(b, view.get("registered") or [])])]


@gate("no_under_replicated")
def no_under_replicated(step, view):
    """Every replica caught up again."""
    if view.get("error"):
        return []
    return _reasons([rules.no_under_replicated(view.get("topics") or {})])


@gate("every_broker_registered")
def every_broker_registered(step, view):
    """Every broker of the pillar is registered (the end-of-change verdict)."""
    if view.get("error"):
        return [f"cluster not reachable: {view['error']}"]
    registered = set(view.get("registered") or [])
    missing = sorted(set(view.get("expected") or []) - registered)
    return [f"broker {b} is not registered" for b in missing]


@gate("zookeeper_quorum")
def zookeeper_quorum(step, view):
    """The ZooKeeper ensemble the brokers use holds a quorum (a broker cannot register without)."""
    zk = view.get("zookeeper")
    if zk is None or zk.get("quorum_held", zk.get("verdict") == "healthy"):
        return []
    return [f"ZooKeeper has no quorum: {'; '.join(zk.get('reasons') or [zk.get('verdict', 'unknown')])}"]


@gate("zookeeper_members_serving")
def zookeeper_members_serving(step, view):
    """Every ZooKeeper member serves (the end-of-change verdict: nothing may be left down)."""
    zk = view.get("zookeeper")
    if zk is None:
        return []
    if zk.get("verdict") == "unknown":
        return [f"ZooKeeper health unknown: {'; '.join(zk.get('reasons') or [])}"]
    return [f"ZooKeeper member {member} is down" for member in zk.get("down") or []]


@gate("zookeeper_members_running", fatal=True)
def zookeeper_members_running(step, view):
    """No ZooKeeper member's process is stopped, as its own host says: a stopped member will not
    serve by waiting, so the roll halts at once (as for a broker that is down)."""
    zk = view.get("zookeeper") or {}
    return [f"ZooKeeper member {member} is down (its process does not run)" for member in zk.get("stopped") or []]


# Every ZooKeeper member must serve before a broker restarts, not only a quorum: the final verdict
# requires it anyway, and with a member down one more failure takes ZooKeeper (and every
# broker's registration) away, so the roll stops before the next restart, naming the member.
BEFORE_RESTART = (cluster_reachable, brokers_running, zookeeper_quorum, zookeeper_members_running, zookeeper_members_serving,
                  no_offline_partitions, min_isr_kept, no_reassignment)
AFTER_RESTART = (others_running, restarted_stays_up, broker_registered, brokers_running, no_offline_partitions, no_under_replicated)
FINAL = (every_broker_registered, brokers_running, no_offline_partitions, zookeeper_members_running,
         zookeeper_members_serving)


def plan_roll(pending: dict, hosts: dict, controller, racks: dict | None = None, topics: dict | None = None,
              rack_parallel: bool = False, force: bool = False, timeouts: dict | None = None) -> Plan:
    """The roll of the brokers in ``pending`` (``{broker id: reason}``), the active controller last.

    ``hosts`` maps broker id -> minion id; with ``rack_parallel`` whole racks restart at once
    when no partition has two replicas in one rack (``topics`` is then required). ``timeouts``
    gives a per-broker after-restart timeout. Raises ``ValueError`` when a rack-parallel roll is
    refused (the message says why).
    """
    if rack_parallel:
        batches, why = rules.rack_batches(list(pending), racks or {}, topics or {}, controller)
        if batches is None:
            raise ValueError(f"rack-parallel restart refused: {why}")
    else:
        batches = [[b] for b in rules.restart_order(list(pending), controller)]
    steps = []
    for batch in batches:
        reasons = {hosts[b]: pending[b] + (" (active controller: last)" if b == controller else "") for b in batch}
        timeout = max((timeouts or {}).get(b, 0) for b in batch) or None
        steps.append(Step(
            action="restart",
            targets=tuple(hosts[b] for b in batch),
            reason="; ".join(f"{h}: {r}" for h, r in reasons.items()) if len(batch) > 1 else reasons[hosts[batch[0]]],
            before=BEFORE_RESTART,
            after=AFTER_RESTART,
            params={"broker_ids": tuple(batch), "force": force, "reasons": reasons},
            timeout=timeout,
        ))
    return Plan("kafka roll", steps, final=FINAL, final_label="the cluster is not healthy after the roll")


def plan_summary(plan: Plan) -> list:
    """The roll as ``test=True`` and the runner's ``changes`` have always shown it."""
    return [{"brokers": list(step.targets), "reasons": dict(step.params["reasons"])} for step in plan.steps]


__all__ = ["plan_roll", "plan_summary", "BEFORE_RESTART", "AFTER_RESTART", "FINAL"]

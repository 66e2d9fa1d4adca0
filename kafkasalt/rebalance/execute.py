"""Carrying out a rebalance: the planner's moves in throttled batches, as engine steps.

Rules (Cruise Control's executor, done with Kafka's own reassignment API):

* a batch moves at most ``cap`` partitions per broker at once (a broker counts a move when it
  gains or loses a replica of the partition; default 5, Cruise Control's
  ``num.concurrent.partition.movements.per.broker``); leader-only changes cost nothing;
* before a batch: the cluster answers, every broker runs, nothing is offline, every partition
  of the batch has all its replicas in sync (copying a replica away from a partition that
  already lost one would leave it with less redundancy than its replication factor), and no
  reassignment that is not ours runs;
* after a batch: none of its partitions moves any more and each holds exactly its target
  replicas, nothing went offline, every broker still runs;
* reassignments found in flight when a rebalance starts are waited for first (a resumed
  rebalance), then the plan is made from where they end.

The throttle (bytes/s) is set by ``execute_reassignment`` on the moving replicas of each batch
only; the runner removes every throttle on every exit, success or not.
"""

from __future__ import annotations

from kafkasalt.kafka import roll as kafka_gates
from kafkasalt.ops.steps import Plan, Step, gate

DEFAULT_CAP = 5


def label(key) -> str:
    topic, partition = key
    return f"{topic}-{partition}"


def involved(current, target) -> set:
    """Brokers that gain or lose a replica of the partition."""
    return set(current) ^ set(target)


def batches(moves: dict, current: dict, cap: int = DEFAULT_CAP) -> list:
    """``moves`` (``{(topic, partition): target}``) split into batches in which no broker takes
    part in more than ``cap`` moves; first fit, in partition order (deterministic)."""
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise ValueError(f"max_moves_per_broker: must be an integer >= 1, got {cap!r}")
    out, load = [], []
    for key in sorted(moves):
        brokers = involved(current.get(key, ()), moves[key])
        for index, batch in enumerate(out):
            if all(load[index].get(b, 0) < cap for b in brokers):
                batch[key] = moves[key]
                for b in brokers:
                    load[index][b] = load[index].get(b, 0) + 1
                break
        else:
            out.append({key: moves[key]})
            load.append({b: 1 for b in brokers})
    return out


def in_flight_targets(reassignments: list) -> dict:
    """Where reassignments running now end: ``{(topic, partition): replicas - removing}``."""
    return {(r["topic"], r["partition"]): [b for b in r["replicas"] if b not in r.get("removing", ())]
            for r in reassignments}


def _partitions(view):
    for topic, info in (view.get("topics") or {}).items():
        for part in info.get("partitions", []):
            yield (topic, part["partition"]), part


@gate("batch_in_sync")
def batch_in_sync(step, view):
    """Every partition the batch moves has all its replicas in sync."""
    if view.get("error"):
        return []
    moving = step.params["moves"]
    behind = [f"{label(key)} (replicas {p.get('replicas')}, isr {p.get('isr')})" for key, p in _partitions(view)
              if key in moving and set(p.get("isr", [])) != set(p.get("replicas", []))]
    return [f"{len(behind)} partition(s) to move are under-replicated: {', '.join(behind[:5])}"] if behind else []


@gate("no_other_reassignment")
def no_other_reassignment(step, view):
    """No reassignment runs that this rebalance did not start."""
    if view.get("error"):
        return []
    ours = {label(key) for key in step.params.get("ours", ())}
    others = sorted(set(view.get("reassignments") or []) - ours)
    return [f"{len(others)} reassignment(s) not started by this rebalance run: {', '.join(others[:5])}"] if others else []


@gate("batch_done")
def batch_done(step, view):
    """No partition of the batch moves any more and each holds its target replicas."""
    if view.get("error"):
        return [f"cluster not reachable: {view['error']}"]
    moving = step.params["moves"]
    running = set(view.get("reassignments") or [])
    held = dict((key, p.get("replicas")) for key, p in _partitions(view))
    pending = [label(key) for key, target in sorted(moving.items())
               if label(key) in running or held.get(key) != list(target)]
    return [f"{len(pending)} of {len(moving)} partition(s) still moving: {', '.join(pending[:5])}"] if pending else []


@gate("every_partition_at_target")
def every_partition_at_target(step, view):
    """Every partition of the plan holds its target replicas (the end-of-change verdict)."""
    return batch_done.check(step, view)


BEFORE = (kafka_gates.cluster_reachable, kafka_gates.brokers_running, kafka_gates.no_offline_partitions,
          batch_in_sync, no_other_reassignment)
AFTER = (batch_done, kafka_gates.no_offline_partitions, kafka_gates.others_running)


def plan_execution(moves: dict, current: dict, in_flight: dict | None = None, cap: int = DEFAULT_CAP,
                   timeout: float | None = None) -> Plan:
    """The engine plan: wait for ``in_flight`` reassignments (``{key: target}``), then the
    batches of ``moves``. Each step's ``params["moves"]`` is ``{(topic, partition): target}``."""
    steps = []
    everything = dict(in_flight or {})
    everything.update(moves)
    if in_flight:
        steps.append(Step(action="finish-in-flight", targets=(), reason=f"{len(in_flight)} reassignment(s) already "
                          "running (an interrupted rebalance): wait for them first",
                          before=(kafka_gates.cluster_reachable,), after=AFTER,
                          params={"moves": dict(in_flight), "ours": tuple(in_flight), "wait_only": True},
                          timeout=timeout))
    for number, batch in enumerate(batches(moves, current, cap), 1):
        brokers = sorted({b for key, target in batch.items() for b in involved(current.get(key, ()), target)})
        steps.append(Step(
            action="move-batch", targets=(), timeout=timeout,
            reason=f"batch {number}: {len(batch)} partition(s), brokers {brokers}",
            before=BEFORE, after=AFTER,
            params={"moves": batch, "ours": tuple(batch), "brokers": brokers, "label_action": f"move-batch-{number}"},
        ))
    final_step_params = {"moves": everything, "ours": tuple(everything)}
    final = (_final(every_partition_at_target, final_step_params), kafka_gates.no_offline_partitions,
             kafka_gates.brokers_running)
    return Plan("rebalance", steps, final=final, final_label="the cluster does not hold the planned layout")


def _final(check, params):
    """A final gate bound to the whole plan's moves (final gates see a bare step)."""
    from kafkasalt.ops.steps import Gate

    def bound(step, view):
        return check.check(Step("verify", (), "", params=params), view)

    return Gate(check.name, bound, check.description)


__all__ = ["DEFAULT_CAP", "batches", "involved", "in_flight_targets", "plan_execution", "label"]

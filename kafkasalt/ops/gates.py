"""Whether a broker may restart now, and whether it came back: small named predicates.

Each check returns a :class:`Check` (name, passed, reason with numbers), so a halted roll says
exactly which gate failed and why. Inputs are plain data from the admin client
(``describe_topics`` output, per-topic ``min.insync.replicas``, in-flight reassignments), which
keeps the rules testable without a cluster.

The rule before a restart is Strimzi's KafkaAvailability rule: for every partition the broker
hosts, the ISR without this broker must still meet ``min.insync.replicas``; otherwise producers
with ``acks=all`` would fail while it is down. Partitions with a replication factor of 1 cannot
stay available and are reported, not waved through.
"""

from dataclasses import dataclass, field

DEFAULT_MIN_ISR = 1
# Log recovery after an unclean stop scans segments: allow time per GiB of data on the broker.
BASE_START_TIMEOUT = 120
SECONDS_PER_GIB = 10
MAX_START_TIMEOUT = 3600


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    reason: str
    details: dict = field(default_factory=dict)

    def as_dict(self):
        return {"name": self.name, "passed": self.passed, "reason": self.reason, **({"details": self.details} if self.details else {})}


def _partitions(topics):
    for topic, info in sorted(topics.items()):
        for part in info.get("partitions", []):
            yield topic, part


def _label(topic, part):
    return f"{topic}-{part['partition']}"


def _summary(labels, limit=8):
    shown = ", ".join(labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")


def min_isr_kept_without(broker_id, topics, min_isr_by_topic, default_min_isr=DEFAULT_MIN_ISR):
    """Every partition on ``broker_id`` keeps ``min.insync.replicas`` in-sync replicas without it."""
    at_risk = []
    for topic, part in _partitions(topics):
        if broker_id not in part.get("replicas", []):
            continue
        min_isr = int(min_isr_by_topic.get(topic, default_min_isr))
        remaining = [r for r in part.get("isr", []) if r != broker_id]
        if len(remaining) < min_isr:
            at_risk.append(f"{_label(topic, part)} (isr {part.get('isr')}, min.insync.replicas {min_isr})")
    if at_risk:
        return Check("min_isr_kept", False, f"restarting broker {broker_id} would drop {len(at_risk)} partition(s) "
                                            f"below min.insync.replicas: {_summary(at_risk)}", {"partitions": at_risk})
    return Check("min_isr_kept", True, f"every partition on broker {broker_id} keeps min.insync.replicas without it")


# The partition rules, shared by the gates below and the admin client's health verdict.

def offline(topics):
    """``[(topic, partition)]`` without a leader."""
    return [(t, p) for t, p in _partitions(topics) if p.get("leader") in (None, -1)]


def under_replicated(topics):
    """``[(topic, partition)]`` whose ISR is smaller than its replica set."""
    return [(t, p) for t, p in _partitions(topics) if len(p.get("isr", [])) < len(p.get("replicas", []))]


def under_min_isr(topics, min_isr_by_topic, default_min_isr=DEFAULT_MIN_ISR):
    """``[(topic, partition, min.insync.replicas)]`` whose ISR is below the topic's minimum."""
    out = []
    for t, p in _partitions(topics):
        min_isr = int(min_isr_by_topic.get(t, default_min_isr))
        if len(p.get("isr", [])) < min_isr:
            out.append((t, p, min_isr))
    return out


def no_offline_partitions(topics):
    offline_ = [_label(t, p) for t, p in offline(topics)]
    if offline_:
        return Check("no_offline_partitions", False, f"{len(offline_)} partition(s) offline: {_summary(offline_)}",
                     {"partitions": offline_})
    return Check("no_offline_partitions", True, "no partition is offline")


def no_under_replicated(topics):
    under = [_label(t, p) for t, p in under_replicated(topics)]
    if under:
        return Check("no_under_replicated", False, f"{len(under)} partition(s) under-replicated: {_summary(under)}",
                     {"partitions": under})
    return Check("no_under_replicated", True, "every partition is fully replicated")


def no_reassignment_in_flight(reassignments, force=False):
    if reassignments and not force:
        labels = sorted(str(r) for r in reassignments)
        return Check("no_reassignment", False, f"{len(labels)} reassignment(s) in flight: {_summary(labels)} "
                                               "(pass force=True to restart anyway)", {"reassignments": labels})
    return Check("no_reassignment", True, "no reassignment in flight" if not reassignments else "reassignments in flight, forced")


def broker_registered(broker_id, registered_ids):
    if broker_id in set(registered_ids):
        return Check("broker_registered", True, f"broker {broker_id} is registered")
    return Check("broker_registered", False, f"broker {broker_id} is not registered (registered: {sorted(registered_ids)})")


def before_restart(broker_id, topics, min_isr_by_topic, reassignments, default_min_isr=DEFAULT_MIN_ISR, force=False):
    """Gates before restarting ``broker_id``; the roll stops unless every one passes."""
    return [
        no_offline_partitions(topics),
        min_isr_kept_without(broker_id, topics, min_isr_by_topic, default_min_isr),
        no_reassignment_in_flight(reassignments, force),
    ]


def after_restart(broker_id, registered_ids, topics):
    """Gates after the restart: back in the cluster and every replica caught up again."""
    return [broker_registered(broker_id, registered_ids), no_offline_partitions(topics), no_under_replicated(topics)]


def passed(checks):
    return all(c.passed for c in checks)


def failures(checks):
    return [c for c in checks if not c.passed]


def start_timeout(data_bytes, base=BASE_START_TIMEOUT, per_gib=SECONDS_PER_GIB, ceiling=MAX_START_TIMEOUT):
    """Seconds to wait for a broker to come back, growing with the data it must recover."""
    gib = max(0, int(data_bytes or 0)) / 2**30
    return int(min(ceiling, base + per_gib * gib))


def restart_order(pending_ids, controller_id):
    """Brokers to restart, by id, the active controller last (restarting it moves the controller once)."""
    ordered = sorted(b for b in pending_ids if b != controller_id)
    if controller_id in pending_ids:
        ordered.append(controller_id)
    return ordered


def rack_batches(pending_ids, racks, topics, controller_id):
    """Rack-parallel order: whole racks at once, allowed only when no partition has two replicas in
    one rack (then a rack down loses at most one replica of anything). Returns (batches, reason)."""
    for topic, part in _partitions(topics):
        seen = {}
        for replica in part.get("replicas", []):
            rack = racks.get(replica)
            if rack is None:
                return None, f"broker {replica} has no rack: rack-parallel restart needs a rack on every broker"
            if rack in seen:
                return None, (f"{_label(topic, part)} has replicas {seen[rack]} and {replica} in rack {rack}: "
                              "a rack restart would take two of its replicas down")
            seen[rack] = replica
    by_rack = {}
    for broker_id in pending_ids:
        by_rack.setdefault(racks.get(broker_id), []).append(broker_id)
    controller_rack = racks.get(controller_id)
    ordered_racks = sorted((r for r in by_rack if r != controller_rack), key=str)
    if controller_rack in by_rack:
        ordered_racks.append(controller_rack)
    return [sorted(by_rack[r]) for r in ordered_racks], "no partition has two replicas in one rack"

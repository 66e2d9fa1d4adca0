"""Reassignment planning: new replica lists for a replication-factor change.

Rules: the current replicas stay (the first, the preferred leader, always stays first); added
replicas go to the brokers holding the fewest replicas, preferring racks the partition does not
use yet; removed replicas are taken from the end, never the preferred leader.
"""


def replication_factor_plan(assignment, broker_ids, new_rf, racks=None, load=None):
    """``assignment``: ``{partition: [replicas]}`` of one topic. Returns ``{partition: [new replicas]}``
    for the partitions that change. ``load`` (broker -> replica count, default: this topic's
    replicas) balances additions."""
    broker_ids = sorted(set(broker_ids))
    racks = racks or {}
    if not isinstance(new_rf, int) or isinstance(new_rf, bool) or new_rf < 1:
        raise ValueError(f"replication_factor: must be an integer >= 1, got {new_rf!r}")
    if new_rf > len(broker_ids):
        raise ValueError(f"replication_factor: {new_rf} is more than the {len(broker_ids)} brokers available")
    if load is None:
        load = {}
        for replicas in assignment.values():
            for broker in replicas:
                load[broker] = load.get(broker, 0) + 1
    load = dict(load)
    for broker in broker_ids:
        load.setdefault(broker, 0)
    plan = {}
    for partition in sorted(assignment):
        replicas = list(assignment[partition])
        if len(replicas) == new_rf:
            continue
        if len(replicas) > new_rf:
            kept = replicas[:new_rf]
            for broker in replicas[new_rf:]:
                load[broker] = max(0, load.get(broker, 0) - 1)
            plan[partition] = kept
            continue
        new = list(replicas)
        while len(new) < new_rf:
            used_racks = {racks.get(b) for b in new if racks.get(b) is not None}
            candidates = [b for b in broker_ids if b not in new]
            candidates.sort(key=lambda b: (racks.get(b) in used_racks, load[b], b))
            chosen = candidates[0]
            new.append(chosen)
            load[chosen] += 1
        plan[partition] = new
    return plan

"""The planner's result and its Cruise-Control-style report."""

from collections import Counter

from .model import MIB, PlanError, reassignment_json


class Proposal:
    """A rebalance plan.

    - ``moves``: ``{(topic, partition): [replicas]}`` for the partitions that change only, the
      preferred leader first (what ``kafka-reassign-partitions.sh --execute`` takes);
    - ``proposed``: the same for every partition;
    - ``replica_moves`` / ``replica_moves_bound``: replicas placed on a broker that did not hold
      them, and the fewest any balanced layout needs (:mod:`.bounds`);
    - ``leader_changes`` / ``leader_changes_bound``: partitions whose preferred leader changes,
      and the fewest that bring preferred leaders into a max - min <= 2 band;
    - ``repairs``: how often placement got stuck and how it recovered (``re-pointed``,
      ``exchanged``, ``demoted``: no extra move; ``chained``: one extra move each; ``unbalanced``:
      a broker left off its target);
    - ``summary(throttle)``: the report as a dict; ``reassignment()``: Kafka's JSON of ``moves``.
    """

    def __init__(self, cluster, final, replica_moves_bound, leader_changes_bound, repairs=None):
        self.cluster = cluster
        self.repairs = repairs or {}  # how often placement needed a repair, by kind
        self._final = final
        self.replica_moves_bound = replica_moves_bound
        self.leader_changes_bound = leader_changes_bound
        self.moves = {}
        replica_moves = leader_changes = 0
        for key, before, after in zip(cluster.keys, cluster.replicas, final):
            if after == before:
                continue
            self.moves[key] = list(after)
            replica_moves += len(set(after).difference(before))
            leader_changes += after[0] != before[0]
        self.replica_moves, self.leader_changes = replica_moves, leader_changes

    @property
    def proposed(self):
        return {key: list(replicas) for key, replicas in zip(self.cluster.keys, self._final)}

    @property
    def current(self):
        return {key: list(self.cluster.replicas[p]) for p, key in enumerate(self.cluster.keys)}

    def reassignment(self):
        """Kafka's reassignment JSON listing only the partitions that change."""
        return reassignment_json(self.moves)

    def summary(self, throttle=None):
        return summarize(self, throttle)


def _spread(values):
    values = list(values)
    return {"min": min(values), "max": max(values)} if values else {"min": 0, "max": 0}


def summarize(proposal, throttle=None):
    """The report: moves against their bounds, data to move, replicas/leaders/bytes per broker
    before and after, and (sizes and ``throttle`` in bytes/s given) the estimated duration.

    MB are MiB (2**20 bytes). Kafka's ``--throttle`` caps each broker's replication in and out at
    that rate, and a new replica copies from its partition's leader, so the estimate is the
    busiest broker's larger direction (bytes fetched in, or served out as leader) over the
    throttle; it ignores the catch-up of data produced meanwhile."""
    cluster = proposal.cluster
    if throttle is not None and (isinstance(throttle, bool) or not isinstance(throttle, (int, float))
                                 or not throttle > 0):
        raise PlanError("throttle", f"must be a positive number of bytes per second, got {throttle!r}")
    sizes = cluster.sizes
    brokers = sorted(set(cluster.targets) | set(cluster.drained)
                     | {b for replicas in cluster.replicas for b in replicas})
    before, after = Counter(), Counter()
    leaders_before, leaders_after = Counter(), Counter()
    bytes_before, bytes_after, bytes_in, bytes_out = Counter(), Counter(), Counter(), Counter()
    data = 0
    for p, old in enumerate(cluster.replicas):
        new = proposal._final[p]
        size = sizes[p] if sizes is not None else 0
        leaders_before[old[0]] += 1
        leaders_after[new[0]] += 1
        for broker in old:
            before[broker] += 1
            bytes_before[broker] += size
        for broker in new:
            after[broker] += 1
            bytes_after[broker] += size
        if new != old:
            arriving = [b for b in new if b not in old]
            for broker in arriving:
                bytes_in[broker] += size
                bytes_out[old[0]] += size
                data += size
    targets = cluster.targets
    per_broker = []
    for broker in brokers:
        row = {"broker": broker,
               "rack": (cluster.racks or {}).get(broker),
               "drained": broker in cluster.drained,
               "replicas_before": before[broker], "replicas_after": after[broker],
               "leaders_before": leaders_before[broker], "leaders_after": leaders_after[broker]}
        if sizes is not None:
            row.update({"mb_before": round(bytes_before[broker] / MIB, 1),
                        "mb_after": round(bytes_after[broker] / MIB, 1),
                        "mb_in": round(bytes_in[broker] / MIB, 1), "mb_out": round(bytes_out[broker] / MIB, 1)})
        per_broker.append(row)

    def ratio(value, bound):
        return round(value / bound, 3) if bound else (1.0 if value == 0 else None)

    seconds = None
    if sizes is not None and throttle:
        busiest = max([0] + [max(bytes_in[b], bytes_out[b]) for b in brokers])
        seconds = round(busiest / throttle, 1)
    balance = {}
    for label, counts, members in (("before", (before, leaders_before, bytes_before), brokers),
                                   ("after", (after, leaders_after, bytes_after), targets)):
        entry = {"replicas": _spread(counts[0][b] for b in members),
                 "leaders": _spread(counts[1][b] for b in members)}
        if sizes is not None:
            entry["mb"] = {k: round(v / MIB, 1) for k, v in _spread(counts[2][b] for b in members).items()}
        balance[label] = entry
    return {
        "partitions": len(cluster.keys),
        "partitions_changed": len(proposal.moves),
        "replica_moves": proposal.replica_moves,
        "replica_moves_lower_bound": proposal.replica_moves_bound,
        "replica_moves_ratio": ratio(proposal.replica_moves, proposal.replica_moves_bound),
        "leader_moves": proposal.leader_changes,
        "leader_moves_lower_bound": proposal.leader_changes_bound,
        "leader_moves_ratio": ratio(proposal.leader_changes, proposal.leader_changes_bound),
        "data_to_move_mb": round(data / MIB, 1) if sizes is not None else None,
        "throttle_bytes_per_s": throttle,
        "estimated_seconds": seconds,
        "brokers": list(targets),
        "drained": list(cluster.drained),
        "balance": balance,
        "repairs": dict(sorted(proposal.repairs.items())),
        "per_broker": per_broker,
    }


def one_line(summary):
    """The summary in one line (the CLI's stderr)."""
    after = summary["balance"]["after"]
    line = (f"{summary['replica_moves']} replica moves (lower bound {summary['replica_moves_lower_bound']}), "
            f"{summary['leader_moves']} leader moves (lower bound {summary['leader_moves_lower_bound']}), "
            f"{summary['partitions_changed']} of {summary['partitions']} partitions change; after: "
            f"{after['replicas']['min']}-{after['replicas']['max']} replicas and "
            f"{after['leaders']['min']}-{after['leaders']['max']} leaders per broker")
    if summary["data_to_move_mb"] is not None:
        line += f"; {summary['data_to_move_mb']:.1f} MB to move"
        if summary["estimated_seconds"] is not None:
            rate = summary["throttle_bytes_per_s"] / MIB
            line += f", about {_duration(summary['estimated_seconds'])} at {rate:.1f} MB/s"
    return line


def _duration(seconds):
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else (f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s")

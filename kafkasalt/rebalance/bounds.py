"""Balance targets and the lower bounds the planner is measured against.

Replica counts
--------------
"Balanced" means: every target broker holds ``floor`` or ``ceil`` of its group's mean, where a
group is a set of brokers whose replica total is fixed. Without racks the group is every target
broker and the total is every replica. With racks, each partition may put at most ``cap(RF)``
replicas in one rack (``ceil(RF / racks)``, raised only when small racks make that impossible) and
must therefore put at least ``RF - (caps of the other racks)`` in it. Summed over partitions this
gives each rack a floor and a ceiling on its replica total. The racks' totals are then water-filled:
the level ``x`` (replicas per broker) solves ``sum(clamp(size(rack) * x, floor(rack), ceiling(rack)))
= all replicas``; a rack whose clamp is active is *pinned* (its total is forced, e.g. 3 racks with
RF 3: every rack holds exactly one replica of every partition) and forms its own group; the other
racks form one shared group. So "within each rack where racks pin replicas", globally otherwise.

The move bound: a replica move takes one replica off one broker, so the moves of any plan are at
least ``sum over brokers of max(0, count - final count)``. Drained brokers end at 0. In a group of
``n`` brokers with total ``T`` (``f = T // n``, ``q = T % n`` brokers end at ``f + 1``) the cheapest
balanced finish gives the ``q`` upper slots to the brokers already highest, so the group costs
``sum(max(0, c - ceil)) + max(0, #{c >= ceil} - q)`` when ``q > 0`` and ``sum(max(0, c - f))``
otherwise. Replicas that break the rack rule (``F`` of them, after the drain) must move too; one can
double as a balance move only where its broker is above its ceil, so with ``e(b) = max(0,
count - ceil)`` and ``k(b)`` the over-full (partition, rack) pairs broker ``b`` sits in, moves >=
``drained + sum(e) + max(0, F - sum(min(k(b), e(b))))``; the bound is the larger of the two.
Every balanced layout needs at least that many moves; it ignores whether the moves can be found
(racks can make it unreachable), which only makes it lower.

Preferred leaders
-----------------
"Balanced" means every target broker leads within a band ``[a, a + 2]`` (max - min <= 2) that
contains the mean. A leader change moves one unit of leadership, so reaching band ``a`` costs at
least ``max(leaders above a + 2 plus every drained broker's leaders, leadership missing below
a)``; the bound is the cheapest band.
"""

from math import ceil


def rack_caps(rf_values, rack_sizes):
    """``{rf: at most this many replicas of one partition per rack}``: ``ceil(rf / racks)``, raised
    until the racks (each holding at most its broker count) can take ``rf`` replicas."""
    caps = {}
    racks = len(rack_sizes)
    for rf in rf_values:
        cap = ceil(rf / racks)
        while sum(min(cap, size) for size in rack_sizes) < rf:
            cap += 1
        caps[rf] = cap
    return caps


def replica_groups(rf_histogram, targets, racks=None):
    """Split the target brokers into balance groups: ``[(brokers, total, pinned)]``.
    ``rf_histogram``: ``{rf: partitions}``."""
    total = sum(rf * count for rf, count in rf_histogram.items())
    if not racks:
        return [(tuple(targets), total, False)]
    members = {}
    for broker in targets:
        members.setdefault(racks[broker], []).append(broker)
    names = sorted(members)
    sizes = [len(members[name]) for name in names]
    caps = rack_caps(rf_histogram, sizes)
    lows, highs = [0] * len(names), [0] * len(names)
    for rf, count in rf_histogram.items():
        per_rack = [min(caps[rf], size) for size in sizes]
        whole = sum(per_rack)
        for index, cap in enumerate(per_rack):
            highs[index] += count * cap
            lows[index] += count * max(0, rf - (whole - cap))

    def filled(level):
        return sum(min(max(size * level, low), high) for size, low, high in zip(sizes, lows, highs))

    lo_level, hi_level = 0.0, max(high / size for size, high in zip(sizes, highs)) + 1.0
    for _ in range(200):
        middle = (lo_level + hi_level) / 2
        if filled(middle) < total:
            lo_level = middle
        else:
            hi_level = middle
    level = (lo_level + hi_level) / 2
    groups, free, free_total = [], [], total
    for name, size, low, high in zip(names, sizes, lows, highs):
        share = size * level
        if low == high or share <= low + 1e-6 or share >= high - 1e-6:
            pinned = low if share <= low + 1e-6 else high
            groups.append((tuple(members[name]), pinned, True))
            free_total -= pinned
        else:
            free.extend(members[name])
    if free:
        groups.append((tuple(sorted(free)), free_total, False))
    elif free_total:  # a float guard: pinned totals are integers that add up; keep the sum exact anyway
        brokers, pinned_total, pinned = groups[-1]
        groups[-1] = (brokers, pinned_total + free_total, pinned)
    return groups


def group_targets(groups, counts, tiebreak=None):
    """Per-broker replica targets: each group's floor, plus one for the ``total % n`` brokers
    holding the most now (``counts``), so that as many replicas as possible stay."""
    tiebreak = tiebreak or {}
    targets = {}
    for brokers, total, _ in groups:
        floor_, extra = divmod(total, len(brokers))
        ranked = sorted(brokers, key=lambda b: (-counts.get(b, 0), -tiebreak.get(b, 0), b))
        for index, broker in enumerate(ranked):
            targets[broker] = floor_ + (1 if index < extra else 0)
    return targets


def group_excess(counts, total, brokers):
    """Fewest replicas that must leave ``brokers`` (``counts`` now) to reach floor/ceil of ``total``."""
    floor_, extra = divmod(total, len(brokers))
    if extra == 0:
        return sum(max(0, counts.get(b, 0) - floor_) for b in brokers)
    upper = floor_ + 1
    at_or_above = [counts.get(b, 0) for b in brokers if counts.get(b, 0) >= upper]
    return sum(c - upper for c in at_or_above) + max(0, len(at_or_above) - extra)


def replica_move_bound(groups, counts, drained_replicas, rack_excess=0, rack_candidates=None):
    """The fewest replica moves that reach balanced counts (see the module docstring).

    ``counts``: replicas per broker now; ``drained_replicas``: replicas on drained brokers;
    ``rack_excess``: replicas that must leave over-full racks (after the drain);
    ``rack_candidates``: per broker, in how many over-full (partition, rack) pairs it holds a
    replica. A forced replica can double as one of its broker's balance moves only on a broker
    above its ceil, at most ``min(candidates, excess over ceil)`` times per broker; the rest of
    the forced ones are moves on top."""
    balance = drained_replicas + sum(group_excess(counts, total, brokers) for brokers, total, _ in groups)
    if not rack_excess:
        return balance
    rack_candidates = rack_candidates or {}
    above_ceil = {}
    for brokers, total, _ in groups:
        ceil_ = -(-total // len(brokers))
        for broker in brokers:
            above_ceil[broker] = max(0, counts.get(broker, 0) - ceil_)
    absorbed = sum(min(rack_candidates.get(b, 0), extra) for b, extra in above_ceil.items())
    with_racks = drained_replicas + sum(above_ceil.values()) + max(0, rack_excess - absorbed)
    return max(balance, with_racks)


def leader_band(leaders, partitions, brokers, drained_leaders=0):
    """``(a, cost)``: the band ``[a, a + 2]`` around the mean reachable with the fewest leader
    changes, and that number (ties: the band centred on the mean)."""
    if not brokers or not partitions:
        return 0, drained_leaders
    mean = partitions / len(brokers)
    best = None
    for low in range(max(0, ceil(mean) - 2), int(mean) + 1):
        over = drained_leaders + sum(max(0, leaders.get(b, 0) - low - 2) for b in brokers)
        under = sum(max(0, low - leaders.get(b, 0)) for b in brokers)
        candidate = (max(over, under), abs(low + 1 - mean), low)
        if best is None or candidate < best:
            best = candidate
    return best[2], best[0]


def leader_change_bound(leaders, partitions, brokers, drained_leaders=0):
    """The fewest preferred-leader changes that bring every broker into a max - min <= 2 band."""
    return leader_band(leaders, partitions, brokers, drained_leaders)[1]

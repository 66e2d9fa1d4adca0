"""Minimal-move partition rebalancing: scale out, drain, even out.

The plan, in order of priority:

1. **Hard rules.** Never two replicas of a partition on one broker; at most ``cap(RF)`` per rack
   (one per rack while racks >= RF); nothing left on a drained broker. Replicas breaking these
   rules are *forced* off their broker.
2. **Replica counts.** Every target broker ends at floor/ceil of its group's mean (see
   :mod:`.bounds`). The brokers holding the most keep the ceil slots; each broker above its target
   (a *donor*) sheds exactly its excess, so apart from forced moves every move takes a replica from
   a broker above target to one below it, and the count equals the lower bound unless placement
   gets stuck (then a zero-cost exchange, and only then an extra move, repairs it).
3. **Preferred leaders.** A donor leading more than the leader band allows sheds those leaders
   with its replicas, but only onto receivers with leadership to spare (the moved replica takes
   the leader's slot); otherwise it sheds a follower instead. The rest are followers, preferably of
   partitions whose leader is forced off (the receiver then takes that leadership for free).
   Partitions whose leader left pick the replica broker leading least; brokers still outside the
   band are brought into it by a min-cost flow over brokers (:mod:`.leaders`), which also undoes
   needless changes.
4. **Bytes**, when sizes are known: a donor above its byte share sheds the replicas whose sizes
   add up closest to its surplus (otherwise its smallest, to move the least data), and replicas are
   placed largest first on the receiver furthest below its byte share per open slot.

Which replicas move among equals follows a fixed pseudo-random order of the partitions (CRC32 of
the topic mixed with the partition number), so the output is deterministic and the moves spread
over topics. A donor sheds preferably from partitions nothing else moves in, so no partition loses
more than one replica where avoidable. With racks, replicas only one receiver can take are placed
first.

Known limits: rack layouts can make the count bound unreachable (e.g. a drained broker's replicas
whose partners pin them to one rack holding too little room: each such replica costs an extra
move, and the plan takes exactly those); and with mixed replication factors on racks pinned at
their exact bounds, greedy placement can end a broker one replica off its target.
"""

import heapq
import zlib
from collections import Counter
from itertools import chain
from operator import itemgetter

from . import bounds, leaders
from .model import normalize
from .report import Proposal

_SCAN_LIMIT = 50000  # checks one repair step may spend before it tries the next, costlier one


class _Homeless:
    __slots__ = ("p", "slot", "origin", "forced", "leader", "to")

    def __init__(self, p, slot, origin, forced, leader):
        self.p, self.slot, self.origin, self.forced, self.leader, self.to = p, slot, origin, forced, leader, None


def plan(current, brokers, racks=None, drain=(), sizes=None):
    """Plan a rebalance. ``current``: ``{(topic, partition): [replicas]}`` (preferred leader
    first); ``brokers``: the brokers to balance over (drained ones may be listed too); ``racks``:
    ``{broker: rack}`` for every broker, or None; ``drain``: brokers to empty; ``sizes``:
    ``{(topic, partition): bytes}`` (one replica's size), or None. Returns a :class:`Proposal`.
    Raises :class:`~kafkasalt.rebalance.model.PlanError` (a ``ValueError`` naming the argument)."""
    cluster = normalize(current, brokers, racks=racks, drain=drain, sizes=sizes)
    return _Planner(cluster).run()


class _Planner:
    def __init__(self, cluster):
        self.cluster = cluster
        self.keys = cluster.keys
        self.orig = cluster.replicas
        self.targets = cluster.targets
        self.target_set = set(cluster.targets)
        self.rack = cluster.racks
        self.size = cluster.sizes
        count = len(self.keys)
        self.new = list(map(list, self.orig))
        topic_hash = {topic: zlib.crc32(topic.encode()) for topic, _ in self.keys}
        shift = count.bit_length()
        # A stable pseudo-random order: the topic's CRC32 mixed with the partition number.
        tagged = sorted([((((topic_hash[topic] ^ (number * 0x9E3779B1)) * 0x85EBCA6B) & 0xFFFFFFFF) << shift) | p
                         for p, (topic, number) in enumerate(self.keys)])
        mask = (1 << shift) - 1
        self.order = [value & mask for value in tagged]
        self.rank = [0] * count
        for position, p in enumerate(self.order):
            self.rank[p] = position
        self.rf_histogram = Counter(len(r) for r in self.orig)
        self.cap = self.rack_of = None
        if self.rack:
            self.rack_of = dict(self.rack)
            self.rack_of[None] = None  # an empty slot is in no rack
            rack_sizes = Counter(self.rack[b] for b in self.targets)
            caps = bounds.rack_caps(self.rf_histogram, list(rack_sizes.values()))
            self.cap = [caps[len(r)] for r in self.orig]

    # --- rules -------------------------------------------------------------------------------

    def fits(self, p, broker, skip=-1):
        """May ``broker`` take a replica of ``p`` (ignoring the replica in slot ``skip``)?"""
        current = self.new[p]
        if broker in current:
            return False
        rack = self.rack_of
        if rack is None:
            return True
        used = [rack[other] for other in current]
        if skip >= 0:
            used[skip] = None
        return used.count(rack[broker]) < self.cap[p]

    # --- phases ------------------------------------------------------------------------------

    def run(self):
        orig_counts = Counter(chain.from_iterable(self.orig))
        orig_leaders = Counter(map(itemgetter(0), self.orig))
        groups = bounds.replica_groups(self.rf_histogram, self.targets, self.rack)
        drained_leaders = sum(n for b, n in orig_leaders.items() if b not in self.target_set)
        if all(b in self.target_set for b in orig_counts):
            homeless, drained_replicas = [], 0
        else:
            homeless, drained_replicas = self.drain_off()
        rack_excess, candidates = 0, Counter()
        if self.rack is not None:
            # Replicas breaking the rack rule leave from brokers that must shed anyway, where they can.
            first_goal = bounds.group_targets(groups, orig_counts)
            excess = {b: orig_counts[b] - first_goal[b] for b in self.targets}
            forced, rack_excess, candidates = self.rack_off(excess)
            homeless.extend(forced)
        self.move_bound = bounds.replica_move_bound(groups, orig_counts, drained_replicas, rack_excess, candidates)
        low, self.leader_bound = bounds.leader_band(orig_leaders, len(self.keys), self.targets, drained_leaders)
        self.band = (low, low + 2)

        # Each target broker's replicas (``holdings``: followers, ``leading``: slot 0), in hash order,
        # or by size when sizes are known (so that pick() finds runs of sizes without sorting);
        # entries go stale as replicas leave (checked on use).
        self.holdings = {b: [] for b in self.targets}
        self.leading = {b: [] for b in self.targets}
        follows = {b: self.holdings[b].append for b in self.targets}
        leads = {b: self.leading[b].append for b in self.targets}
        new, rank = self.new, self.rank
        order = self.order
        if self.size is not None:
            size = self.size
            order = sorted(order, key=lambda p: (size[p], rank[p]))
        for p in order:
            replicas = new[p]
            if replicas[0] is not None:
                leads[replicas[0]]((p, 0))
            for slot in range(1, len(replicas)):
                if replicas[slot] is not None:
                    follows[replicas[slot]]((p, slot))
        self.count = {b: len(self.holdings[b]) + len(self.leading[b]) for b in self.targets}
        kept_leaders = {b: orig_leaders[b] for b in self.targets}
        for h in homeless:
            if h.slot == 0 and h.origin in kept_leaders:
                kept_leaders[h.origin] -= 1
        self.goal = bounds.group_targets(groups, self.count, tiebreak=kept_leaders)
        self.slots = {b: self.goal[b] - self.count[b] for b in self.targets}
        self.receivers = [b for b in self.targets if self.slots[b] > 0]
        self.lead_room = {b: self.band[1] - kept_leaders[b] for b in self.targets}
        self.bytes = self.byte_goal = None
        if self.size is not None:
            size = self.size
            self.bytes = dict.fromkeys(self.targets, 0)
            for p, replicas in enumerate(self.new):
                for broker in replicas:
                    if broker is not None:
                        self.bytes[broker] += size[p]
            total_bytes = sum(size[p] * len(r) for p, r in enumerate(self.orig))
            total = sum(len(r) for r in self.orig)
            self.byte_goal = {b: total_bytes * self.goal[b] / total for b in self.targets}
        self.touched = [0] * len(self.keys)
        self.orphaned = [False] * len(self.keys)  # the leader replica is forced off
        for h in homeless:
            self.touched[h.p] += 1
            if h.slot == 0:
                self.orphaned[h.p] = True

        homeless.extend(self.shed(kept_leaders))
        self.place(homeless)
        lead = self.elect()
        orig, touched, final = self.orig, self.touched, self.final
        # A partition no replica left and whose leader stays is unchanged: keep its tuple.
        result = [orig[p] if not touched[p] and leader == orig[p][0] else final(p, leader)
                  for p, leader in enumerate(lead)]
        return Proposal(self.cluster, result,
                        self.move_bound, self.leader_bound, repairs=dict(self.repairs))

    def drain_off(self):
        """Take every replica off the drained brokers."""
        homeless, target_set, new = [], self.target_set, self.new
        for p in self.order:
            current = new[p]
            for slot, broker in enumerate(current):
                if broker not in target_set:
                    homeless.append(_Homeless(p, slot, broker, True, slot == 0))
                    current[slot] = None
        return homeless, len(homeless)

    def rack_off(self, excess):
        """Take replicas out of racks holding more than the rule allows: from the brokers with
        the most to shed (``excess``, updated), followers before the leader. Returns the
        homeless, their number and per broker how many over-full racks it was a candidate in."""
        homeless, candidates, rack, new = [], Counter(), self.rack, self.new
        rack_of = self.rack_of
        for p in self.order:
            current = new[p]
            names = [rack_of[b] for b in current if b is not None]
            cap = self.cap[p]
            if cap == 1 and len(set(names)) == len(names):
                continue
            per_rack = Counter(names)
            for name, used in per_rack.items():
                if used <= cap:
                    continue
                slots = [slot for slot, b in enumerate(current) if b is not None and rack[b] == name]
                for slot in slots:
                    candidates[current[slot]] += 1
                slots.sort(key=lambda slot: (excess[current[slot]] <= 0, slot == 0, -excess[current[slot]], -slot))
                for slot in slots[:used - cap]:
                    broker = current[slot]
                    excess[broker] -= 1
                    homeless.append(_Homeless(p, slot, broker, True, slot == 0))
                    current[slot] = None
        return homeless, len(homeless), candidates

    def fits_a_receiver(self, p, slot):
        for receiver in self.receivers:
            if self.slots[receiver] > 0 and self.fits(p, receiver, slot):
                return True
        return False

    def shed(self, kept_leaders):
        """Each donor sheds its excess: leaders while it leads more than the band allows, then
        followers; from untouched partitions that some receiver can take first."""
        shed = []
        for donor in self.targets:
            excess = self.count[donor] - self.goal[donor]
            if excess <= 0:
                continue
            leaders = self.leading[donor]  # nothing has left a donor yet: every entry is current
            followers = self.holdings[donor]
            n_lead = min(excess, max(0, kept_leaders[donor] - self.band[1]), len(leaders))
            n_follow = excess - n_lead
            if n_follow > len(followers):
                n_follow = len(followers)
                n_lead = excess - n_follow
            surplus = None
            if self.bytes is not None:
                surplus = self.bytes[donor] - self.byte_goal[donor]
            picks = (self.pick(leaders, n_lead, None if surplus is None else surplus * n_lead / excess)
                     + self.pick(followers, n_follow, None if surplus is None else surplus * n_follow / excess))
            for p, slot in picks:
                self.new[p][slot] = None
                self.touched[p] += 1
                shed.append(_Homeless(p, slot, donor, False, slot == 0))
                if self.bytes is not None:
                    self.bytes[donor] -= self.size[p]
            self.count[donor] -= len(picks)
        return shed

    def tier(self, p, slot):
        """0: no replica of ``p`` moves yet, or its leader is forced off (the receiver of this
        replica can then take the leadership at no extra change), and a receiver can take this
        one; 1: ``p`` already loses a replica but the receivers can still take one more; 2: no
        receiver can."""
        touched = self.touched[p]
        if self.rack is None:
            current, room = self.new[p], 0
            for receiver in self.receivers:
                if receiver not in current:
                    room += 1
            if room <= touched:
                return 2
        elif not self.fits_a_receiver(p, slot):
            return 2
        if touched and self.orphaned[p]:
            return 0  # its leadership must change anyway: the receiver can take it for free
        return 1 if touched else 0

    def pick(self, pool, wanted, surplus):
        """``wanted`` entries of ``pool``, by tier (:meth:`tier`); within a tier in hash order, or
        with sizes (``pool`` is in size order then) the run of sizes whose sum is closest to what
        is left of ``surplus`` (the smallest when nothing is)."""
        if wanted <= 0:
            return []
        tier, tiers = self.tier, ([], [], [])
        first, sized = tiers[0], surplus is not None
        touched, new, receivers, orphaned = self.touched, self.new, self.receivers, self.orphaned
        simple = self.rack is None
        for entry in pool:
            if simple:  # tier() inlined for the common case
                p = entry[0]
                moving, current, room = touched[p], new[p], 0
                for receiver in receivers:
                    if receiver not in current:
                        room += 1
                level = 2 if room <= moving else (1 if moving and not orphaned[p] else 0)
            else:
                level = tier(*entry)
            tiers[level].append(entry)
            if not level and not sized and len(first) == wanted:
                return first
        if not sized:
            return (tiers[0] + tiers[1] + tiers[2])[:wanted]
        size, chosen = self.size, []
        for group in tiers:
            need = wanted - len(chosen)
            if need <= 0:
                break
            if len(group) <= need:
                chosen.extend(group)
                continue
            chosen.extend(_window(group, need, surplus - sum(size[e[0]] for e in chosen), size))
        return chosen

    # --- placement ---------------------------------------------------------------------------

    def key(self, broker):
        if self.bytes is None:
            return (-self.slots[broker], broker)
        return (-(self.byte_goal[broker] - self.bytes[broker]) / self.slots[broker], broker)

    def push(self, broker):
        self.version[broker] += 1
        if self.slots[broker] > 0:
            entry = (self.key(broker), broker, self.version[broker])
            heapq.heappush(self.heap_all, entry)
            if self.lead_room[broker] > 0:
                heapq.heappush(self.heap_lead, entry)

    def pop(self, heap, p, leading):
        stash, found = [], None
        while heap:
            entry = heapq.heappop(heap)
            broker = entry[1]
            if entry[2] != self.version[broker] or self.slots[broker] <= 0:
                continue
            if leading and self.lead_room[broker] <= 0:
                continue
            if self.fits(p, broker):
                found = broker
                stash.append(entry)  # still valid until assign() bumps the version
                break
            stash.append(entry)
        for entry in stash:
            heapq.heappush(heap, entry)
        return found

    def assign(self, h, broker):
        self.new[h.p][h.slot] = broker
        h.to = broker
        self.count[broker] += 1
        self.slots[broker] -= 1
        if h.leader:
            self.lead_room[broker] -= 1
        if self.bytes is not None:
            self.bytes[broker] += self.size[h.p]
        self.placed_on[broker].append(h)
        self.push(broker)

    def unassign(self, h):
        broker = h.to
        self.new[h.p][h.slot] = None
        h.to = None
        self.count[broker] -= 1
        self.slots[broker] += 1
        if h.leader:
            self.lead_room[broker] += 1
        if self.bytes is not None:
            self.bytes[broker] -= self.size[h.p]
        self.placed_on[broker].remove(h)
        self.push(broker)

    def place(self, homeless):
        if self.size is not None:
            homeless.sort(key=lambda h: (-self.size[h.p], self.rank[h.p]))
        else:
            homeless.sort(key=lambda h: (not h.forced, self.rank[h.p]))
        if self.rack is not None:
            # Racks narrow the choice: replicas only one receiver can take go first (stable sort).
            fits, receivers = self.fits, self.receivers

            def roomy(h):
                found = 0
                for broker in receivers:
                    if fits(h.p, broker):
                        found += 1
                        if found > 1:
                            return True
                return False
            homeless.sort(key=roomy)
        self.version = {b: 0 for b in self.targets}
        self.heap_all, self.heap_lead = [], []
        self.placed_on = {b: [] for b in self.targets}
        for broker in self.targets:
            self.version[broker] = -1
            self.push(broker)
        self.repairs = Counter()
        self.cursor = Counter()
        for h in homeless:
            broker = self.pop(self.heap_lead, h.p, True) if h.leader else None
            if broker is None and h.leader and not h.forced:
                broker = self.demote(h)
            if broker is None:
                broker = self.pop(self.heap_all, h.p, False)
            if broker is not None:
                self.assign(h, broker)
            else:
                self.repair(h)

    def demote(self, h):
        """No receiver with leadership to spare takes the leader replica ``h``: keep it on its
        donor and shed one of the donor's followers instead (same moves; the flow in
        :mod:`.leaders` then hands the leadership over where it can go). Returns the receiver
        for the follower, ``h`` now standing for it; None if the donor has none to offer."""
        donor = h.origin
        if not self.fits(h.p, donor):  # another replica of the partition took its place meanwhile
            return None
        holdings = self.holdings[donor]
        position = self.cursor[donor]
        new, touched = self.new, self.touched
        for untouched_only in (True, False):
            index = position if untouched_only else 0
            while index < len(holdings):
                p, slot = holdings[index]
                index += 1
                if slot == 0 or p == h.p or new[p][slot] != donor or (untouched_only and touched[p]):
                    continue
                new[p][slot] = None  # as if shed, so fits() sees the partition without it
                broker = self.pop(self.heap_all, p, False)
                if broker is None:
                    new[p][slot] = donor
                    continue
                if untouched_only:
                    self.cursor[donor] = index
                new[h.p][h.slot] = donor
                touched[h.p] -= 1
                touched[p] += 1
                self.leading[donor].append((h.p, h.slot))
                if self.bytes is not None:
                    self.bytes[donor] += self.size[h.p] - self.size[p]
                h.p, h.slot, h.leader = p, slot, False
                self.repairs["demoted"] += 1
                return broker
        return None

    def open_receiver(self, p, skip=-1, besides=None):
        for broker in self.receivers:
            if broker != besides and self.slots[broker] > 0 and self.fits(p, broker, skip):
                return broker
        return None

    def repoint(self, h):
        """An augmenting path: ``h`` fits a full broker; move a replica placed there on to
        another broker, and so on, until one lands on a broker with an open slot (breadth first,
        the partitions along the path all distinct). No extra move. True if done."""
        parent = {}
        queue = [b for b in self.targets if self.slots[b] <= 0 and self.fits(h.p, b)]
        for broker in queue:
            parent[broker] = None
        budget = _SCAN_LIMIT
        for broker in queue:
            for other in reversed(self.placed_on[broker]):
                budget -= len(self.targets)
                if budget <= 0:
                    return False
                for target in self.targets:
                    if target in parent or not self.fits(other.p, target, other.slot):
                        continue
                    path, node, seen = [(other, target)], broker, {h.p, other.p}
                    while parent[node] is not None:
                        previous, moved = parent[node]
                        path.append((moved, node))
                        seen.add(moved.p)
                        node = previous
                    if len(seen) != len(path) + 1:
                        continue  # a partition twice on the path: its rack counts would shift
                    if self.slots[target] > 0:
                        for moved, to in path:  # the far end first: each move frees the next broker
                            self.unassign(moved)
                            self.assign(moved, to)
                        self.assign(h, node)
                        return True
                    if self.placed_on[target]:
                        parent[target] = (broker, other)
                        queue.append(target)
        return False

    def repair(self, h):
        """No open receiver can take ``h``. In order: re-point earlier placements to free a
        broker ``h`` fits (:meth:`repoint`, no extra move); hand ``h`` back to its donor and shed another of the
        donor's replicas instead (no extra move); park ``h`` on a broker it fits and move one of
        that broker's replicas on (one extra move); as a last resort break balance, then racks."""
        if self.repoint(h):
            self.repairs["re-pointed"] += 1
            return
        budget = _SCAN_LIMIT
        donor = h.origin
        if not h.forced and self.fits(h.p, donor):
            for p, slot in chain(self.holdings[donor], self.leading[donor]):
                budget -= 1
                if budget <= 0:
                    break
                if p == h.p or self.new[p][slot] != donor:
                    continue
                target = self.open_receiver(p, slot)
                if target is not None:
                    self.new[h.p][h.slot] = donor
                    self.touched[h.p] -= 1
                    (self.leading if h.slot == 0 else self.holdings)[donor].append((h.p, h.slot))
                    self.new[p][slot] = None
                    self.touched[p] += 1
                    if self.bytes is not None:
                        self.bytes[donor] += self.size[h.p] - self.size[p]
                    h.p, h.slot, h.leader = p, slot, slot == 0
                    self.assign(h, target)
                    self.repairs["exchanged"] += 1
                    return
        for broker in sorted(self.targets, key=lambda b: (self.count[b] - self.goal[b], b)):
            if not self.fits(h.p, broker):
                continue
            for p, slot in chain(self.holdings[broker], self.leading[broker]):
                budget -= 1
                if budget <= 0:
                    break
                if p == h.p or self.new[p][slot] != broker:
                    continue
                target = self.open_receiver(p, slot)
                if target is not None:
                    self.new[p][slot] = None
                    self.count[broker] -= 1
                    self.slots[broker] += 1
                    if self.bytes is not None:
                        self.bytes[broker] -= self.size[p]
                    self.touched[p] += 1
                    self.assign(_Homeless(p, slot, broker, False, slot == 0), target)
                    self.assign(h, broker)  # takes the slot the departing replica opened
                    self.repairs["chained"] += 1
                    return
        fitting = [b for b in self.targets if self.fits(h.p, b)]
        self.repairs["unbalanced" if fitting else "rack rule relaxed"] += 1
        if not fitting:
            fitting = [b for b in self.targets if b not in self.new[h.p]]
        broker = min(fitting, key=lambda b: (self.count[b] - self.goal[b], b))
        self.slots[broker] += 1  # over target: assign() books it, the slot count goes back to 0
        self.assign(h, broker)

    # --- leaders -----------------------------------------------------------------------------

    def elect(self):
        """Preferred leaders: keep each partition's where it stayed, give orphans to the least
        leading replica broker, then bring every broker into the cheapest band with the fewest
        changes (:func:`.leaders.balance`)."""
        orig, new, order, rank = self.orig, self.new, self.order, self.rank
        lead = [replicas[0] for replicas in orig]
        leads = Counter(lead)
        orphans = []
        for p, first in enumerate(lead):
            if first not in new[p]:
                orphans.append(p)
                leads[first] -= 1
        orphans.sort(key=rank.__getitem__)
        for p in orphans:
            replicas = new[p]
            best = replicas[0]
            for broker in replicas:
                if leads[broker] < leads[best]:
                    best = broker
            lead[p] = best
            leads[best] += 1
        for broker in self.targets:
            leads.setdefault(broker, 0)
        low, _ = bounds.leader_band(leads, len(new), self.targets)
        high = low + 2
        first = [replicas[0] for replicas in orig]
        if not all(low <= leads[b] <= high for b in self.targets):
            leaders.hand_over_directly(lead, new, first, leads, self.targets, low, high, order)
        if all(low <= leads[b] <= high for b in self.targets):
            return lead
        return leaders.balance(lead, new, first, self.targets, low, high, rank)

    def final(self, p, leader):
        replicas = self.new[p]
        if replicas[0] == leader:
            replicas = tuple(replicas)
            return self.orig[p] if replicas == self.orig[p] else replicas
        return (leader, *(b for b in replicas if b != leader))


def _window(pool, wanted, surplus, size):
    """``wanted`` consecutive entries of ``pool`` (sorted by size) whose sizes sum closest to ``surplus``."""
    if wanted >= len(pool):
        return list(pool)
    if surplus is None or surplus <= 0:
        return pool[:wanted]
    prefix = [0]
    for entry in pool:
        prefix.append(prefix[-1] + size[entry[0]])
    lo, hi = 0, len(pool) - wanted
    while lo < hi:  # first start whose window reaches the surplus
        middle = (lo + hi) // 2
        if prefix[middle + wanted] - prefix[middle] < surplus:
            lo = middle + 1
        else:
            hi = middle
    def miss(start):
        return abs(prefix[start + wanted] - prefix[start] - surplus)

    start = lo
    if start > 0 and miss(start - 1) <= miss(start):
        start -= 1
    return pool[start:start + wanted]

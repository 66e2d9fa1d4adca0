"""Preferred-leader balancing with the fewest leader changes: a min-cost flow over brokers.

With the replica sets fixed, moving the preferred leadership of partition ``p`` from broker
``x`` to another of its replica brokers ``y`` changes the number of partitions whose preferred
leader differs from the original by ``+1`` if ``x`` is the original leader, ``-1`` if ``y`` is,
``0`` otherwise. The current assignment is its own residual graph: after a hand-over the reverse
edge exists with the opposite cost. Brokers are the nodes; the edge ``x -> y`` carries every
partition ``x`` leads and ``y`` holds, grouped by that cost.

1. Brokers above the band send their excess along shortest paths (Bellman-Ford, the costs can
   be negative) to brokers below its top, preferring brokers below its bottom.
2. Brokers still below the band draw from brokers above its bottom the same way.
3. Negative cycles (hand-overs that undo earlier changes without moving counts) are cancelled.

Each augmentation moves as many units as the path's narrowest edge allows, so the number of
shortest-path runs stays in the order of the broker pairs, not of the partitions moved. Before
any of that, :func:`hand_over_directly` does the one-hop hand-overs in a plain pass over the
partitions; the flow (whose graph takes a pass over every replica to build) only runs for what
that leaves.
"""

import heapq
from collections import Counter

_UNDER_BONUS = 1  # a unit reaching a broker below the band saves a later draw, which costs 1 unless free


class _Flow:
    def __init__(self, lead, replicas, first, brokers, rank):
        self.lead, self.replicas, self.first, self.brokers, self.rank = lead, replicas, first, brokers, rank
        self.leads = Counter({b: 0 for b in brokers})
        self.leads.update(lead)
        # (giver, taker) -> partitions by cost index (cost + 1)
        self.edges = {}
        for p, giver in enumerate(lead):
            for taker in replicas[p]:
                if taker != giver:
                    self._sets(giver, taker)[self._cost(p, giver, taker) + 1].add(p)

    def _sets(self, giver, taker):
        sets = self.edges.get((giver, taker))
        if sets is None:
            sets = self.edges[(giver, taker)] = (set(), set(), set())
        return sets

    def _cost(self, p, giver, taker):
        first = self.first[p]
        return (giver == first) - (taker == first)

    def hand_over(self, p, taker):
        giver = self.lead[p]
        replicas = self.replicas[p]
        for other in replicas:
            if other != giver:
                self.edges[(giver, other)][self._cost(p, giver, other) + 1].discard(p)
        self.lead[p] = taker
        self.leads[giver] -= 1
        self.leads[taker] += 1
        for other in replicas:
            if other != taker:
                self._sets(taker, other)[self._cost(p, taker, other) + 1].add(p)

    def arcs(self):
        """The cheapest non-empty class per broker pair: ``[(giver, taker, cost, index)]``."""
        result = []
        for (giver, taker), sets in self.edges.items():
            for index in range(3):
                if sets[index]:
                    result.append((giver, taker, index - 1, index))
                    break
        result.sort()
        return result

    def shortest(self, sources):
        """Bellman-Ford from ``sources`` (distance 0). Returns ``(dist, previous, cycle)``;
        ``cycle`` is a negative cycle's arcs when one is reachable."""
        arcs = self.arcs()
        dist = {b: float("inf") for b in self.brokers}
        previous = {}
        for source in sources:
            dist[source] = 0
        for _ in range(len(self.brokers)):
            changed = None
            for giver, taker, cost, index in arcs:
                if dist[giver] + cost < dist[taker]:
                    dist[taker] = dist[giver] + cost
                    previous[taker] = (giver, index)
                    changed = taker
            if changed is None:
                return dist, previous, None
        # Still relaxing after |brokers| rounds: walk back from the last change into its cycle.
        node = changed
        for _ in range(len(self.brokers)):
            node = previous[node][0]
        cycle, start = [], node
        while True:
            giver, index = previous[node]
            cycle.append((giver, node, index))
            node = giver
            if node == start:
                break
        return dist, previous, cycle[::-1]

    def push(self, path, units):
        """Move ``units`` leaderships along ``path`` (``[(giver, taker, class index)]``)."""
        for giver, taker, index in path:
            units = min(units, len(self.edges[(giver, taker)][index]))
        if units <= 0:
            return 0
        chosen = [(taker, heapq.nsmallest(units, self.edges[(giver, taker)][index], key=self.rank.__getitem__))
                  for giver, taker, index in path]
        for taker, partitions in chosen:
            for p in partitions:
                self.hand_over(p, taker)
        return units

    def route(self, supply, room, bonus):
        """Send units from brokers with ``supply(b) > 0`` to brokers with ``room(b) > 0`` along
        cheapest paths; ``bonus(b)`` lowers a sink's price. Stops when nothing can move."""
        for _ in range(20 * len(self.brokers) ** 2 + 20):
            sources = [b for b in self.brokers if supply(b) > 0]
            if not sources:
                return
            dist, previous, cycle = self.shortest(sources)
            if cycle:
                self.push(cycle, len(self.replicas))
                continue
            best = None
            for broker in self.brokers:
                if broker in sources or dist[broker] == float("inf") or room(broker) <= 0:
                    continue
                price = (dist[broker] - bonus(broker), dist[broker], broker)
                if best is None or price < best:
                    best = price
            if best is None:
                return
            sink = best[2]
            path, node = [], sink
            while node in previous:  # back to a source nothing relaxed
                giver, index = previous[node]
                path.append((giver, node, index))
                node = giver
            path.reverse()
            source = path[0][0]
            if not self.push(path, min(supply(source), room(sink))):
                return

    def cancel_cycles(self):
        for _ in range(10 * len(self.brokers) ** 2 + 10):
            _, _, cycle = self.shortest(self.brokers)
            if not cycle or not self.push(cycle, len(self.replicas)):
                return


def hand_over_directly(lead, replicas, first, leads, brokers, low, high, order):
    """The cheap part first, one hand-over at a time between brokers sharing a partition: from
    above the band to below it (fixing both at once), then what is left above to any broker
    with room, then what is left below from any broker with some to spare; in each, hand-overs
    that cost nothing (the leader already changed) before those that cost one. The flow takes
    whatever this leaves. ``leads`` (leaders per broker) is updated with ``lead``."""
    over = {b for b in brokers if leads[b] > high}
    under = {b for b in brokers if leads[b] < low}

    def sweep(can_give, can_take, done):
        for free in (True, False):
            for p in order:
                if done():
                    return
                giver = lead[p]
                if not can_give(giver) or (first[p] != giver) != free:
                    continue
                taker = None
                for broker in replicas[p]:
                    if broker != giver and can_take(broker) and (
                            taker is None or broker == first[p]
                            or (taker != first[p] and leads[broker] < leads[taker])):
                        taker = broker
                if taker is not None:
                    lead[p] = taker
                    leads[giver] -= 1
                    leads[taker] += 1
                    for broker in (giver, taker):
                        (over.add if leads[broker] > high else over.discard)(broker)
                        (under.add if leads[broker] < low else under.discard)(broker)

    sweep(over.__contains__, under.__contains__, lambda: not over or not under)
    sweep(over.__contains__, lambda b: leads[b] < high, lambda: not over)
    sweep(lambda b: leads[b] > low, under.__contains__, lambda: not under)


def balance(lead, replicas, first, brokers, low, high, rank):
    """Bring every broker's preferred-leader count into ``[low, high]`` with the fewest changes
    from ``first`` (each partition's original preferred leader). ``lead`` (the current choice per
    partition) is updated in place and returned."""
    flow = _Flow(lead, replicas, first, brokers, rank)
    leads = flow.leads

    def deficit(b):
        return low - leads[b]

    flow.route(lambda b: leads[b] - high, lambda b: deficit(b) if deficit(b) > 0 else high - leads[b],
               lambda b: _UNDER_BONUS if deficit(b) > 0 else 0)
    flow.route(lambda b: leads[b] - low, deficit, lambda b: 0)
    flow.cancel_cycles()
    return lead

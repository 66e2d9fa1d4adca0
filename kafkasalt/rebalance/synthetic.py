"""Synthetic clusters laid out the way Kafka places new topics, for tests and benchmarks.

Kafka (``AdminUtils.assignReplicasToBrokers``, rack-unaware case) picks, per topic, a random
start broker and a random follower shift; partition ``i``'s leader is broker ``(start + i) mod
n`` and its ``j``-th follower sits ``1 + (shift + j) mod (n - 1)`` brokers after the leader, the
shift growing by one each time the partitions wrap around the brokers. With racks, the broker
list is first interleaved rack by rack and followers skip brokers whose rack the partition
already uses (while it has racks to spare).
"""

import random


def interleave_by_rack(brokers, racks):
    """``[a1, b1, c1, a2, b2, ...]``: brokers alternating over racks (each rack's in id order)."""
    by_rack = {}
    for broker in sorted(brokers):
        by_rack.setdefault(racks[broker], []).append(broker)
    names = sorted(by_rack)
    result = []
    for index in range(max(len(v) for v in by_rack.values())):
        result.extend(by_rack[name][index] for name in names if index < len(by_rack[name]))
    return result


def assign_topic(partitions, rf, brokers, rng, racks=None):
    """One topic's replica lists, Kafka-style (see the module docstring)."""
    ring = interleave_by_rack(brokers, racks) if racks else sorted(brokers)
    n = len(ring)
    start, shift = rng.randrange(n), rng.randrange(n)
    rack_count = len({racks[b] for b in ring}) if racks else 0
    result = []
    for i in range(partitions):
        if i > 0 and i % n == 0:
            shift += 1
        first = (i + start) % n
        replicas = [ring[first]]
        step = 0
        while len(replicas) < rf:
            candidate = ring[(first + 1 + (shift + step) % (n - 1)) % n] if n > 1 else ring[0]
            step += 1
            if candidate in replicas:
                if step > 4 * n:
                    raise ValueError("cannot place the replicas")
                continue
            if racks and rack_count > len({racks[b] for b in replicas}) and step <= 2 * n:
                if racks[candidate] in {racks[b] for b in replicas}:
                    continue
            replicas.append(candidate)
        result.append(replicas)
    return result


def kafka_cluster(partitions, brokers, rf=3, seed=0, racks=None, max_partitions_per_topic=50):
    """``{(topic, partition): replicas}`` with about ``partitions`` partitions over topics of 1 to
    ``max_partitions_per_topic`` partitions each, every topic placed as Kafka would."""
    rng = random.Random(seed)
    brokers = list(brokers)
    current, left, index = {}, partitions, 0
    while left > 0:
        count = min(left, rng.randint(1, max_partitions_per_topic))
        topic = f"topic-{index:05d}"
        for number, replicas in enumerate(assign_topic(count, rf, brokers, rng, racks)):
            current[(topic, number)] = replicas
        left -= count
        index += 1
    return current


def sizes_for(current, seed=0, median_mb=200):
    """Log-normal partition sizes in bytes (a few large partitions, many small), per topic alike."""
    rng = random.Random(seed)
    per_topic = {}
    sizes = {}
    for topic, partition in sorted(current):
        scale = per_topic.setdefault(topic, rng.lognormvariate(0, 1.2))
        sizes[(topic, partition)] = int(median_mb * 1024 * 1024 * scale * rng.uniform(0.8, 1.2))
    return sizes

"""Benchmark (not a test): time kafkasalt.ops.hardware.collect() on this machine and print the grain.

Goal: the kafka_hardware grain adds at most 100 ms to a minion's grain refresh.

    .venv/bin/python tests/bench/bench_grains.py [runs]
"""

import json
import os
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)  # run as a script from anywhere

from kafkasalt.ops import hardware, sizing  # noqa: E402  (needs the path above)

GOAL_MS = 100.0


RECORDED_SEED000 = os.path.join(REPO, "tests", "data", "hw", "seed000-prod")  # 48 threads, 13 disks


def time_collect(runs, root="/"):
    timings_ms = []
    for _ in range(runs):
        start = time.perf_counter()
        facts = hardware.collect(root)
        timings_ms.append((time.perf_counter() - start) * 1000)
    print(f"collect({root!r}) x {runs}: min {min(timings_ms):.2f} ms, "
          f"median {statistics.median(timings_ms):.2f} ms, max {max(timings_ms):.2f} ms (goal <= {GOAL_MS:.0f} ms)")
    return facts, timings_ms


def main(runs):
    facts, timings_ms = time_collect(runs)
    time_collect(runs, RECORDED_SEED000)
    print(json.dumps({"kafka_hardware": facts}, indent=2))
    recommendation = sizing.recommend(facts, role="both")
    print("sizing (role=both):")
    for key, item in sizing.recommendation_items(recommendation).items():
        print(f"  {key} = {item['value']!r}  # {item['why']}")
    return 0 if statistics.median(timings_ms) <= GOAL_MS else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50))

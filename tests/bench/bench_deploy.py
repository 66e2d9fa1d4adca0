"""Benchmark (not a test): cold deploy of 3 ZooKeeper + 3 brokers from bare lab hosts.

Purges the lab (bare hosts), brings it up, runs `salt-run state.orchestrate kafka.deploy`
twice and samples the lab's memory every second during the cold run. Prints:
cold wall time (goal <= 60 s, artifacts cached), idempotent re-run (goal <= 20 % of cold),
peak lab RSS. Leaves the lab running with the cluster deployed.

    .venv/bin/python tests/bench/bench_deploy.py
"""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from lab.saltlab import Lab  # noqa: E402


def orchestrate(lab):
    started = time.monotonic()
    proc = lab.salt_run("state.orchestrate", "kafka.deploy", "--out=json", check=False, timeout=1800)
    took = time.monotonic() - started
    data = json.loads(proc.stdout)
    steps = next(iter(data["data"].values()))
    failed = [k for k, v in steps.items() if v.get("result") is False]
    return took, failed


def main():
    lab = Lab()
    lab.down(purge=True)
    up = lab.up()
    peak = {"total": 0.0}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            total = sum(lab.memory().values())
            peak["total"] = max(peak["total"], total)
            time.sleep(1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cold, failed = orchestrate(lab)
    stop.set()
    sampler.join()
    if failed:
        print(f"cold deploy FAILED in {cold:.1f}s: {failed}")
        return 1
    warm, failed = orchestrate(lab)
    report = lab.memory()
    print(f"lab up (master + 3 bare hosts):     {up:6.1f} s")
    print(f"cold deploy 3 ZooKeeper + 3 brokers: {cold:6.1f} s   (goal <= 60 s)")
    print(f"idempotent re-run:                   {warm:6.1f} s   = {warm / cold:.0%} of cold (goal <= 20%)"
          + (f"  FAILED {failed}" if failed else ""))
    print(f"lab RSS peak during deploy:          {peak['total'] / 1024:6.2f} GiB; now {sum(report.values()) / 1024:.2f} GiB"
          " (goal <= 4 GiB)")
    for name, mib in sorted(report.items()):
        print(f"  {name:26s} {mib:7.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

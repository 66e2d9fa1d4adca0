"""Benchmark (not a test): KafkaAdmin.list_topics() against ``kafka-topics.sh --list`` on 10,000 topics.

Starts the same kind of secured cluster as the functional tests (``tests/functional/
secure_cluster.py``: SASL_SSL + SCRAM-SHA-512, AclAuthorizer), with one broker, creates the topics
(1 partition, replication factor 1, in batched CreateTopics requests) and then times:

- ``KafkaAdmin.list_topics()`` on an open connection (median of 5): what a Salt state pays once
  its admin client is connected;
- the same from scratch, connect + SASL + list + close (median of 5), for a like-for-like view;
- ``bin/kafka-topics.sh --list`` with the super user's ``--command-config`` (median of 3), which
  includes starting a JVM.

Goal: ``list_topics()`` must not be slower than the packaged tool.

    .venv/bin/python tests/bench/bench_list_topics.py [--topics N] [--batch N] [--keep]
"""

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "functional")]  # run as a script from anywhere

from lab import artifacts  # noqa: E402  (needs the path above)
from secure_cluster import SecureCluster  # noqa: E402

from kafkasalt.kafka.admin import KafkaAdmin  # noqa: E402

ADMIN_RUNS = 5
CLI_RUNS = 3
# 10,000 partitions need more than the tests' 256 MiB heap; the tool's JVM keeps its default.
BROKER_HEAP = "-Xmx1g"


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def create_topics(admin, count, batch):
    names = [f"bench-{index:05d}" for index in range(count)]
    existing = set(admin.list_topics())
    missing = [name for name in names if name not in existing]
    start = time.perf_counter()
    for offset in range(0, len(missing), batch):
        chunk = missing[offset:offset + batch]
        errors = admin.create_topics_batch({name: {"partitions": 1, "replication_factor": 1} for name in chunk},
                                           timeout_ms=120000)
        failed = {name: error for name, error in errors.items() if error}
        if failed:
            raise SystemExit(f"creating topics failed: {list(failed.items())[:5]}")
        print(f"  created {offset + len(chunk)}/{len(missing)} topics ({time.perf_counter() - start:.1f} s)",
              flush=True)
    # Creation is asynchronous in ZooKeeper mode: wait until the metadata lists all of them.
    deadline = time.monotonic() + 600
    while len(set(admin.list_topics()) & set(names)) < count:
        if time.monotonic() > deadline:
            raise SystemExit("the broker did not list every topic within 10 minutes")
        time.sleep(1)
    print(f"  all {count} topics listed after {time.perf_counter() - start:.1f} s", flush=True)
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=500, help="topics per CreateTopics request")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, data)")
    args = parser.parse_args(argv)

    manifest = artifacts.build_all()
    work_dir = Path(tempfile.mkdtemp(prefix="kafkasalt-bench-"))
    cluster = SecureCluster(work_dir, manifest, broker_count=1, broker_heap=BROKER_HEAP,
                            broker_overrides={"log.index.size.max.bytes": 1024 * 1024})
    try:
        start = time.perf_counter()
        cluster.start()
        print(f"cluster up in {time.perf_counter() - start:.1f} s ({work_dir})", flush=True)
        with KafkaAdmin(cluster.settings(request_timeout_ms=120000)) as admin:
            names = create_topics(admin, args.topics, args.batch)
            warm = []
            for _ in range(ADMIN_RUNS):
                seconds, topics = timed(admin.list_topics)
                assert set(names) <= set(topics), "list_topics() missed topics"
                warm.append(seconds)

        def connect_and_list():
            with KafkaAdmin(cluster.settings()) as fresh:
                return fresh.list_topics()

        cold = []
        for _ in range(ADMIN_RUNS):
            seconds, topics = timed(connect_and_list)
            assert len(topics) >= args.topics
            cold.append(seconds)

        cli = []
        for _ in range(CLI_RUNS):
            seconds, result = timed(lambda: cluster.run_tool(
                "kafka-topics.sh", "--bootstrap-server", cluster.bootstrap_servers[0],
                "--command-config", cluster.admin_client_properties, "--list", timeout=600))
            if result.returncode != 0:
                raise SystemExit(f"kafka-topics.sh failed: {result.stderr[-2000:]}")
            listed = set(result.stdout.split())
            assert set(names) <= listed, "kafka-topics.sh missed topics"
            cli.append(seconds)

        warm_median, cold_median, cli_median = (statistics.median(values) for values in (warm, cold, cli))
        print(f"topics: {args.topics}")
        print(f"KafkaAdmin.list_topics(), open connection: median {warm_median * 1000:.1f} ms "
              f"(runs: {', '.join(f'{v * 1000:.1f}' for v in warm)} ms)")
        print(f"KafkaAdmin connect + list_topics() + close: median {cold_median * 1000:.1f} ms "
              f"(runs: {', '.join(f'{v * 1000:.1f}' for v in cold)} ms)")
        print(f"kafka-topics.sh --list:                     median {cli_median * 1000:.1f} ms "
              f"(runs: {', '.join(f'{v * 1000:.1f}' for v in cli)} ms)")
        print(f"ratio kafka-topics.sh / list_topics(): {cli_median / warm_median:.1f}x (open connection), "
              f"{cli_median / cold_median:.1f}x (including connect)")
        return 0 if warm_median <= cli_median else 1
    finally:
        cluster.stop()
        if not args.keep:
            shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

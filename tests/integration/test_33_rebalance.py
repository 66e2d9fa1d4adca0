"""``salt-run kafka.rebalance`` on the lab: a skewed topic evened out under an audited load,
throttled while it moves, every throttle gone afterwards, cross-checked with kafka-topics."""

import json
import time
from collections import Counter

import pytest

from tests.conftest import bench
from tests.integration.conftest import KafkaAudit
from tests.integration.test_20_kafka_deploy import client_config

pytestmark = pytest.mark.lab

SKEWED = "rebalance-skewed"
THROTTLE_KEYS = ("leader.replication.throttled.rate", "follower.replication.throttled.rate")


def _create_skewed_topic(lab):
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(**client_config(lab))
    try:
        if SKEWED in admin.list_topics():  # an earlier run balanced it: start skewed again
            admin.delete_topics([SKEWED])
            deadline = time.monotonic() + 60
            while SKEWED in admin.list_topics() and time.monotonic() < deadline:
                time.sleep(1)
        # Six partitions, RF 2, every replica on brokers 1 and 2: broker 3 holds none.
        for _ in range(30):  # the deletion may still be settling on a broker
            try:
                # RF 2 with min.insync.replicas 1, or no broker could ever restart (the roll's
                # min_isr_kept gate refuses, rightly, to drop a partition below it).
                admin.create_topics([NewTopic(SKEWED, num_partitions=-1, replication_factor=-1,
                                              replica_assignments={p: [1 + p % 2, 2 - p % 2] for p in range(6)},
                                              topic_configs={"min.insync.replicas": "1"})])
                break
            except Exception:  # TopicAlreadyExistsError while the deletion completes
                time.sleep(1)
    finally:
        admin.close()
    producer = KafkaProducer(acks="all", **client_config(lab))
    payload = b"x" * 1024
    for n in range(3000):  # about 3 MB to copy
        producer.send(SKEWED, payload)
    producer.flush()
    producer.close()


def _replicas(lab, topic):
    described = lab.salt_json("kafka1", "kafka.describe_topics", json.dumps([topic]))["kafka1"]
    return {p["partition"]: p["replicas"] for p in described[topic]["partitions"]}


def test_rebalance_evens_out_a_skewed_topic_without_losing_a_message(ensure_deployed):
    lab = ensure_deployed()
    _create_skewed_topic(lab)
    preview = json.loads(lab.salt_run("kafka.rebalance", "test=True", "--out=json", check=False).stdout)
    assert preview["result"] is None and preview["changes"]["summary"]["replica_moves"] > 0, preview
    assert Counter(b for r in _replicas(lab, SKEWED).values() for b in r)[3] == 0  # test=True moved nothing
    lab.salt_json("kafka1", "kafka.create_topic", "rebalance-audit", "3", "3", '{"min.insync.replicas": "2"}')
    with KafkaAudit(lab, "rebalance-audit", client_config(lab)) as audit:
        proc = lab.salt_run("kafka.rebalance", "max_moves_per_broker=2", "--out=json", check=False)
    out = json.loads(proc.stdout)
    assert out.get("result") is True, proc.stdout[-3000:]
    changes = out["changes"]
    assert changes["batches"] >= 2 and changes["throttled"], changes  # throttled, in batches of 2 per broker
    audit.assert_clean()
    after = _replicas(lab, SKEWED)
    counts = Counter(b for replicas in after.values() for b in replicas)
    assert counts[3] > 0, after  # the broker that held nothing of it got its part
    assert all(len(set(r)) == 2 for r in after.values())
    # The planner balances the whole cluster (the day-2 module's topics too), not one topic:
    # every broker ends within one replica of the others.
    everything = lab.salt_json("kafka1", "kafka.describe_topics")["kafka1"]
    totals = Counter(b for info in everything.values() for p in info["partitions"] for b in p["replicas"])
    assert max(totals.values()) - min(totals.values()) <= 1, totals
    # Kafka's own tool sees the same layout.
    described = lab.salt_json("kafka1", "kafka.cli", "kafka-topics", json.dumps(["--describe", "--topic", SKEWED]))
    text = described["kafka1"]["stdout"] if isinstance(described["kafka1"], dict) else described["kafka1"]
    for partition, replicas in after.items():
        assert f"Partition: {partition}\t" in text and f"Replicas: {','.join(map(str, replicas))}\t" in text, text
    # Every throttle is gone: broker rates and the topic's throttled replicas.
    for broker in (1, 2, 3):
        configs = lab.salt_json("kafka1", "kafka.broker_configs", str(broker))["kafka1"]
        assert not set(THROTTLE_KEYS) & set(configs), configs
    topic_configs = lab.salt_json("kafka1", "kafka.topic_configs", SKEWED)["kafka1"]
    assert not [k for k in topic_configs if "throttled" in k], topic_configs
    assert lab.salt_json("kafka1", "kafka.health")["kafka1"]["verdict"] == "healthy"
    # Balanced: no replica left to move (the audit's consumer group may have created
    # __consumer_offsets meanwhile, whose preferred leaders the planner may still even out).
    again = json.loads(lab.salt_run("kafka.rebalance", "test=True", "--out=json", check=False).stdout)
    summary = again.get("summary") or again["changes"].get("summary")
    assert summary["replica_moves"] == 0, again
    bench(f"rebalance of a skewed topic (3 brokers, ~3 MB): {changes['replica_moves']} replica moves in "
          f"{changes['batches']} batches, {changes['seconds']}s, throttle {changes['throttle_bytes']} B/s; "
          f"{audit.summary()}")


def _disk_plans(lab):
    return {host: lab.salt_json(host, "kafka.disk_plan")[host] for host in ("kafka1", "kafka2", "kafka3")}


def test_a_new_log_dir_ends_balanced_and_a_dropped_one_is_emptied_before_the_roll(ensure_deployed, orchestrate):
    # One broker gets a second disk through its own kafka:brokers:<minion>:log_dirs: only that
    # broker rolls and balances (the cluster-wide kafka:log_dirs path is the same code per host).
    lab = ensure_deployed()
    lab.salt_json("kafka1", "kafka.create_topic", "rebalance-audit", "3", "3", '{"min.insync.replicas": "2"}')
    current = lab.salt_json("kafka2", "kafka.host_plan")["kafka2"]["log_dirs"]
    assert len(current) == 1, current
    two = [current[0], current[0].rstrip("/") + "2"]
    lab.set_override({"kafka": {"brokers": {"kafka2": {"log_dirs": two}}}})
    try:
        with KafkaAudit(lab, "rebalance-audit", client_config(lab)) as audit:
            added = orchestrate("kafka.deploy")  # rolls kafka2 onto two dirs, then balances them
        assert added.succeeded, added.text()[-4000:]
        audit.assert_clean()
        balanced = added.steps["kafka-disks"]["changes"]
        assert sorted(balanced) == ["kafka2"], added.steps["kafka-disks"]
        plans = _disk_plans(lab)
        counts = [plans["kafka2"]["before"][d]["replicas"] for d in two]
        assert plans["kafka2"]["live"] == sorted(two) and plans["kafka2"]["moves"] == {}, plans["kafka2"]
        assert max(counts) - min(counts) <= 1 and min(counts) > 0, plans["kafka2"]
        for host in ("kafka1", "kafka3"):
            assert plans[host]["live"] == current and plans[host]["moves"] == {}, (host, plans[host])
        added_summary = audit.summary()
    finally:
        lab.set_override({})
    with KafkaAudit(lab, "rebalance-audit", client_config(lab)) as audit:
        dropped = orchestrate("kafka.deploy")  # empties the second dir first, then rolls back to one
    assert dropped.succeeded, dropped.text()[-4000:]
    audit.assert_clean()
    assert sorted(dropped.steps["kafka-disks-evacuate"]["changes"]) == ["kafka2"]
    for host, plan in _disk_plans(lab).items():
        assert plan["live"] == current and plan["left_behind"] == [], (host, plan)
    assert lab.salt_json("kafka1", "kafka.health")["kafka1"]["verdict"] == "healthy"
    bench(f"JBOD: second log dir added on broker 2 in {added.seconds:.1f}s "
          f"({added.steps['kafka-disks']['duration'] / 1000:.1f}s of moves; {added_summary}); dropped again in "
          f"{dropped.seconds:.1f}s ({dropped.steps['kafka-disks-evacuate']['duration'] / 1000:.1f}s emptying it "
          f"before the roll; {audit.summary()})")

"""Scaling from pillar on the lab: a fourth broker joins and gets its share, then is drained and
retired, each under an acks=all producer and an auditing consumer; bad scaling input is refused
with the key named before anything moves."""

import json
import os
from collections import Counter

import pytest

from tests.conftest import bench
from tests.integration.conftest import KafkaAudit
from tests.integration.test_20_kafka_deploy import client_config

pytestmark = pytest.mark.lab

NEW = {"kafka4": "127.0.0.14"}
KAFKA4 = {"broker_id": 4, "address": NEW["kafka4"], "rack": "r4"}
# The lab's partitions are tiny: 20 moves per broker per batch keeps the batching (kafka4 takes
# ~58 replicas, so 3 batches) without spending ten polling rounds on kilobytes.
REBALANCE = {"max_moves_per_broker": 20}


def _kafka(brokers):
    return {"kafka": {"brokers": brokers, "rebalance": REBALANCE}}


def _counts(lab):
    topics = lab.salt_json("kafka1", "kafka.describe_topics")["kafka1"]
    return Counter(b for info in topics.values() for p in info["partitions"] for b in p["replicas"])


@pytest.fixture(scope="module")
def scale_lab(lab, ensure_deployed, orchestrate):
    ensure_deployed()
    lab.add_hosts(NEW)
    yield lab
    # Whatever happened, leave three brokers: drain kafka4 if it still holds anything, then forget it.
    if _counts(lab).get(4):
        lab.set_override(_kafka({"kafka4": dict(KAFKA4, drain=True)}))
        orchestrate("kafka.deploy")
    lab.set_override({})
    lab.remove_hosts(list(NEW))


def test_a_broker_added_to_pillar_gets_its_share_of_partitions(scale_lab, orchestrate):
    lab = scale_lab
    lab.salt_json("kafka1", "kafka.create_topic", "scale-audit", "6", "3", '{"min.insync.replicas": "2"}')
    before = _counts(lab)
    lab.set_override(_kafka({"kafka4": KAFKA4}))
    with KafkaAudit(lab, "scale-audit", client_config(lab)) as audit:
        run = orchestrate("kafka.deploy")
    assert run.succeeded, run.text()[-4000:]
    scale = run.steps["kafka-scale"]["changes"]
    moved = scale["rebalance"]
    assert moved["replica_moves"] > 0 and moved["throttled"], scale  # throttled while it moved
    after = _counts(lab)
    mean = sum(after.values()) / 4
    assert abs(after[4] - mean) <= 1, after
    assert sum(after.values()) == sum(before.values())
    for broker in (1, 2, 3, 4):
        configs = lab.salt_json("kafka1", "kafka.broker_configs", str(broker))["kafka1"]
        assert not [k for k in configs if "throttled.rate" in k], configs  # gone afterwards
    audit.assert_clean()
    bench(f"scale-out 3 -> 4 brokers through kafka.deploy: {run.seconds:.1f}s, rebalance "
          f"{moved['seconds']}s, {moved['replica_moves']} replica moves in {moved['batches']} batches "
          f"(kafka4 holds {after[4]}, mean {mean:.1f}); {audit.summary()}")


def test_bad_scaling_input_is_refused_with_the_key_and_moves_nothing(scale_lab):
    lab = scale_lab
    before = _counts(lab)
    lab.set_override({})  # kafka4 deleted from pillar while it holds replicas
    plan = json.loads(lab.salt_run("kafka.plan", "--out=json", check=False).stdout)
    assert plan["result"] is False and "kafka:brokers" in plan["Error"] and "broker 4 holds" in plan["Error"], plan
    lab.set_override({"kafka": {"brokers": {"kafka4": dict(KAFKA4), "kafka3": {"drain": True},
                                            "kafka2": {"drain": True}}}})  # leaves 2 brokers for RF 3
    plan = json.loads(lab.salt_run("kafka.plan", "--out=json", check=False).stdout)
    assert plan["result"] is False and "kafka:brokers:kafka2:drain" in plan["Error"], plan
    lab.set_override({"kafka": {"brokers": {"kafka4": KAFKA4}}})
    refused = json.loads(lab.salt_run("kafka.rebalance", "drain=kafka9", "--out=json", check=False).stdout)
    assert refused["result"] is False and "drain: 'kafka9' is not a broker" in refused["Error"], refused
    assert _counts(lab) == before


def test_a_drained_broker_ends_empty_and_retired_with_its_data_kept(scale_lab, orchestrate):
    lab = scale_lab
    log_dirs = lab.salt_json("kafka4", "kafka.host_plan")["kafka4"]["log_dirs"]
    lab.set_override(_kafka({"kafka4": dict(KAFKA4, drain=True)}))
    with KafkaAudit(lab, "scale-audit", client_config(lab)) as audit:
        run = orchestrate("kafka.deploy")
    assert run.succeeded, run.text()[-4000:]
    scale = run.steps["kafka-scale"]
    assert scale["changes"]["retired"] == ["kafka4"], scale
    assert "safe to delete kafka:brokers:kafka4" in scale["comment"], scale
    after = _counts(lab)
    assert after.get(4, 0) == 0 and set(after) == {1, 2, 3}, after
    registered = [b["id"] for b in lab.salt_json("kafka1", "kafka.describe_cluster")["kafka1"]["brokers"]]
    assert sorted(registered) == [1, 2, 3]
    assert all(os.path.isdir(lab.host_path("kafka4", d)) for d in log_dirs), log_dirs  # data kept
    running = lab.nsenter("kafka4", ["supervisorctl", "status"], check=False).stdout
    assert "kafka" not in running, running  # removed from the service manager
    audit.assert_clean()
    # Safe to delete now: the plan accepts the pillar without kafka4.
    lab.set_override({})
    plan = json.loads(lab.salt_run("kafka.plan", "--out=json", check=False).stdout)
    assert plan["result"] is True, plan
    moved = scale["changes"]["rebalance"]
    bench(f"drain of kafka4 through kafka.deploy: {run.seconds:.1f}s, rebalance {moved['seconds']}s, "
          f"{moved['replica_moves']} replica moves in {moved['batches']} batches; {audit.summary()}")

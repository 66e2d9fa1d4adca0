"""Day-2 management on the deployed lab cluster, cross-checked with Kafka's own tools."""

import json
import time
import uuid

import pytest

from tests.integration.test_20_kafka_deploy import client_config

pytestmark = pytest.mark.lab

ALICE_PASSWORD = "alice-" + uuid.uuid4().hex
ALICE_ROTATED = "alice-rotated-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def cluster(ensure_deployed):
    return ensure_deployed()


def state(lab, host, fun, **kwargs):
    """Run one state with ``state.single`` and return its single result."""
    args = [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in kwargs.items()]
    reply = lab.salt_json(host, "state.single", fun, *args)[host]
    assert isinstance(reply, dict), reply
    return next(iter(reply.values()))


def test_state_created_user_logs_in_and_rotation_needs_no_restart(cluster, pillar_override):
    from kafka.admin import KafkaAdminClient

    lab = cluster
    pillar_override({"kafka": {"users": {"alice": {"password": ALICE_PASSWORD}}}})
    created = state(lab, "kafka1", "kafka_user.present", name="alice", password_pillar="kafka:users:alice:password")
    assert created["result"] is True and created["changes"] == {"user": "alice", "credential": "created"}, created
    assert ALICE_PASSWORD not in json.dumps(created)
    again = state(lab, "kafka1", "kafka_user.present", name="alice", password_pillar="kafka:users:alice:password")
    assert again["changes"] == {}
    KafkaAdminClient(**client_config(lab, "alice", ALICE_PASSWORD)).list_topics()

    pids_before = {h: lab.nsenter(h, ["supervisorctl", "pid", "kafka"]).stdout.strip() for h in lab.hosts}
    lab.set_override({"kafka": {"users": {"alice": {"password": ALICE_ROTATED}}}})
    rotated = state(lab, "kafka1", "kafka_user.present", name="alice", password_pillar="kafka:users:alice:password")
    assert rotated["changes"] == {"user": "alice", "credential": "password rotated"}, rotated
    assert ALICE_ROTATED not in json.dumps(rotated)
    time.sleep(2)  # brokers pick the credential change up from ZooKeeper
    KafkaAdminClient(**client_config(lab, "alice", ALICE_ROTATED)).list_topics()
    with pytest.raises(Exception):
        KafkaAdminClient(**client_config(lab, "alice", ALICE_PASSWORD), bootstrap_timeout_ms=8000).list_topics()
    pids_after = {h: lab.nsenter(h, ["supervisorctl", "pid", "kafka"]).stdout.strip() for h in lab.hosts}
    assert pids_after == pids_before, "a password rotation restarted a broker"


def test_client_state_gives_exactly_producer_access(cluster, pillar_override, tmp_path):
    from kafka import KafkaProducer
    from kafka.errors import TopicAuthorizationFailedError

    lab = cluster
    pillar_override({"kafka": {"users": {"orders-app": {"password": ALICE_PASSWORD}}}})
    result = state(lab, "kafka2", "kafka_client.present", name="orders-app",
                   password_pillar="kafka:users:orders-app:password", topic="orders", partitions=3,
                   replication_factor=3, roles=["producer"])
    assert result["result"] is True, result
    assert set(result["changes"]) == {"user", "topic", "acls", "files"}, result["changes"]
    assert ALICE_PASSWORD not in json.dumps(result)
    props = lab.host_path("kafka2", "/etc/kafka/clients/orders-app.properties")
    import os

    assert oct(os.stat(props).st_mode & 0o777) == "0o600"
    again = state(lab, "kafka2", "kafka_client.present", name="orders-app",
                  password_pillar="kafka:users:orders-app:password", topic="orders", partitions=3,
                  replication_factor=3, roles=["producer"])
    assert again["changes"] == {}, again["changes"]

    lab.salt_json("kafka1", "kafka.create_topic", "secret-topic", "1", "3")
    producer = KafkaProducer(acks="all", max_block_ms=15000, **client_config(lab, "orders-app", ALICE_PASSWORD))
    producer.send("orders", b"allowed").get(timeout=30)
    with pytest.raises(TopicAuthorizationFailedError):
        producer.send("secret-topic", b"denied").get(timeout=30)
    producer.close()

    # Kafka's own kafka-acls --list shows exactly our bindings for the principal.
    listed = lab.salt_json("kafka1", "kafka.cli", "kafka-acls", '["--list", "--principal", "User:orders-app"]')["kafka1"]
    assert listed["retcode"] == 0, listed
    lines = [line.strip() for line in listed["stdout"].splitlines() if "principal=User:orders-app" in line]
    operations = sorted(line.split("operation=")[1].split(",")[0] for line in lines)
    assert operations == ["DESCRIBE", "WRITE"], listed["stdout"]


def test_acl_managed_makes_a_principal_exactly_the_given_set(cluster):
    lab = cluster
    extra = {"resource_type": "TOPIC", "resource_name": "orders", "principal": "User:orders-app", "operation": "READ"}
    lab.salt_json("kafka1", "kafka.add_acls", json.dumps([extra]))
    wanted = [{"role": "producer", "principal": "User:orders-app", "topic": "orders"}]
    managed = state(lab, "kafka1", "kafka_acl.managed", name="User:orders-app", bindings=wanted)
    assert managed["result"] is True, managed
    assert len(managed["changes"]["removed"]) == 1 and "READ" in managed["changes"]["removed"][0]
    again = state(lab, "kafka1", "kafka_acl.managed", name="User:orders-app", bindings=wanted)
    assert again["changes"] == {}


def test_topic_state_reports_config_drift_key_by_key_and_grows_partitions(cluster):
    lab = cluster
    first = state(lab, "kafka1", "kafka_topic.present", name="drift", partitions=2, replication_factor=3,
                  config={"retention.ms": "3600000"})
    assert first["result"] is True and "created" in first["changes"]
    lab.salt_json("kafka1", "kafka.alter_topic_config", "drift", '{"retention.ms": "100", "cleanup.policy": "compact"}')
    dry = lab.salt_json("kafka1", "state.single", "kafka_topic.present", "name=drift", "partitions=4",
                        "replication_factor=3", 'config={"retention.ms": "3600000"}', "test=True")["kafka1"]
    dry = next(iter(dry.values()))
    assert dry["result"] is None
    assert dry["changes"]["config"] == {"cleanup.policy": {"old": "compact", "new": None},
                                        "retention.ms": {"old": "100", "new": "3600000"}}
    assert dry["changes"]["partitions"] == {"old": 2, "new": 4}
    fixed = state(lab, "kafka1", "kafka_topic.present", name="drift", partitions=4, replication_factor=3,
                  config={"retention.ms": "3600000"})
    assert fixed["result"] is True
    assert state(lab, "kafka1", "kafka_topic.present", name="drift", partitions=4, replication_factor=3,
                 config={"retention.ms": "3600000"})["changes"] == {}
    shrink = state(lab, "kafka1", "kafka_topic.present", name="drift", partitions=1, replication_factor=3)
    assert shrink["result"] is False and "partitions" in shrink["comment"]


def test_replication_factor_change_goes_through_a_reassignment(cluster):
    lab = cluster
    assert state(lab, "kafka1", "kafka_topic.present", name="grow-rf", partitions=2, replication_factor=2)["result"]
    grown = state(lab, "kafka1", "kafka_topic.present", name="grow-rf", partitions=2, replication_factor=3)
    assert grown["result"] is True, grown
    assert grown["changes"]["replication_factor"]["new"] == 3
    described = lab.salt_json("kafka1", "kafka.describe_topics", '["grow-rf"]')["kafka1"]["grow-rf"]
    assert described["replication_factor"] == 3


def test_reassignment_sets_the_throttle_during_and_clears_it_after(cluster):
    lab = cluster
    # RF 2 needs min.insync.replicas 1, or no broker holding it could ever restart (the roll gate says so).
    state(lab, "kafka1", "kafka_topic.present", name="moves", partitions=1, replication_factor=2,
          config={"min.insync.replicas": "1"})
    current = lab.salt_json("kafka1", "kafka.describe_topics", '["moves"]')["kafka1"]["moves"]["partitions"][0]["replicas"]
    target = sorted({1, 2, 3} - {current[0]}) [:2]
    plan = json.dumps({"moves:0": target})
    started = lab.salt_json("kafka1", "kafka.execute_reassignment", plan, "throttle_bytes=5000000")["kafka1"]
    assert isinstance(started, dict), started
    throttled = [lab.salt_json("kafka1", "kafka.broker_configs", str(b))["kafka1"] for b in (1, 2, 3)]
    assert any("leader.replication.throttled.rate" in c or "follower.replication.throttled.rate" in c for c in throttled), throttled
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = lab.salt_json("kafka1", "kafka.verify_reassignment", plan)["kafka1"]
        if status.get("done"):
            break
        time.sleep(1)
    assert status.get("done"), status
    after = lab.salt_json("kafka1", "kafka.describe_topics", '["moves"]')["kafka1"]["moves"]["partitions"][0]["replicas"]
    assert sorted(after) == target
    for broker in (1, 2, 3):
        configs = lab.salt_json("kafka1", "kafka.broker_configs", str(broker))["kafka1"]
        assert not any("throttled" in key for key in configs), configs
    assert not any("throttled" in k for k in lab.salt_json("kafka1", "kafka.topic_configs", "moves")["kafka1"])


def test_consumer_group_lag(cluster):
    from kafka import KafkaConsumer, KafkaProducer

    lab = cluster
    lab.salt_json("kafka1", "kafka.create_topic", "lagging", "1", "3")
    producer = KafkaProducer(acks="all", **client_config(lab))
    for i in range(10):
        producer.send("lagging", f"{i}".encode()).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer("lagging", group_id="lag-group", auto_offset_reset="earliest", enable_auto_commit=False,
                             max_poll_records=4, **client_config(lab))
    records = []
    deadline = time.monotonic() + 30
    while len(records) < 4 and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=1000, max_records=4 - len(records)).values():
            records.extend(batch)
    consumer.commit()
    consumer.close()
    group = lab.salt_json("kafka1", "kafka.describe_group", "lag-group")["kafka1"]
    assert group["total_lag"] == 6, group


@pytest.mark.parametrize("fun, args, argument", [
    ("kafka_acl.present", {"name": "bad-op", "bindings": [{"resource_type": "TOPIC", "resource_name": "t",
                                                           "principal": "User:x", "operation": "EXPLODE"}]}, "operation"),
    ("kafka_topic.present", {"name": "too-wide", "partitions": 1, "replication_factor": 4}, "replication_factor"),
    ("kafka_topic.present", {"name": "negative", "partitions": -1}, "partitions"),
    ("kafka_acl.present", {"name": "bad-principal", "bindings": [{"resource_type": "TOPIC", "resource_name": "t",
                                                                  "principal": "alice", "operation": "READ"}]}, "principal"),
    ("kafka_topic.absent", {"name": "__consumer_offsets"}, "allow_internal"),
])
def test_bad_input_names_the_argument(cluster, fun, args, argument):
    before = cluster.salt_json("kafka1", "kafka.list_topics", "include_internal=True")["kafka1"]
    result = state(cluster, "kafka1", fun, **args)
    assert result["result"] is False
    assert argument in result["comment"], result["comment"]
    assert result["changes"] == {}
    assert cluster.salt_json("kafka1", "kafka.list_topics", "include_internal=True")["kafka1"] == before

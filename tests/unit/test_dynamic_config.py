"""kafkasalt.kafka.dynamic_config: Kafka 3.9 update modes and the restart/dynamic change plan."""

import pytest

from kafkasalt.kafka import dynamic_config as dc


@pytest.mark.parametrize("key, mode", [
    ("log.cleaner.threads", dc.CLUSTER_WIDE),
    ("num.io.threads", dc.CLUSTER_WIDE),
    ("num.network.threads", dc.CLUSTER_WIDE),
    ("log.retention.ms", dc.CLUSTER_WIDE),
    ("min.insync.replicas", dc.CLUSTER_WIDE),
    ("unclean.leader.election.enable", dc.CLUSTER_WIDE),
    ("message.max.bytes", dc.CLUSTER_WIDE),
    ("ssl.keystore.location", dc.PER_BROKER),
    ("ssl.client.auth", dc.PER_BROKER),
    ("listeners", dc.PER_BROKER),
    ("advertised.listeners", dc.PER_BROKER),
    ("listener.security.protocol.map", dc.PER_BROKER),
    ("sasl.enabled.mechanisms", dc.PER_BROKER),
    ("leader.replication.throttled.rate", dc.PER_BROKER),
    ("broker.id", dc.READ_ONLY),
    ("log.dirs", dc.READ_ONLY),
    ("zookeeper.connect", dc.READ_ONLY),
    ("inter.broker.listener.name", dc.READ_ONLY),
    ("authorizer.class.name", dc.READ_ONLY),
    ("auto.create.topics.enable", dc.READ_ONLY),
    ("default.replication.factor", dc.READ_ONLY),
    # Only the millisecond spellings are dynamic in 3.9.
    ("log.retention.hours", dc.READ_ONLY),
    ("log.roll.hours", dc.READ_ONLY),
])
def test_kafka_39_update_modes(key, mode):
    assert dc.classify(key) == mode


def test_unknown_keys_are_read_only():
    assert dc.classify("log.retention.hourz") == dc.READ_ONLY
    assert dc.classify("some.plugin.setting") == dc.READ_ONLY
    assert not dc.is_dynamic("some.plugin.setting")


def test_table_sizes_match_the_kafka_39_doc_table():
    assert len(dc.PER_BROKER_KEYS) == 37
    assert len(dc.CLUSTER_WIDE_KEYS) == 52
    assert not dc.PER_BROKER_KEYS & dc.CLUSTER_WIDE_KEYS


@pytest.mark.parametrize("key, mode", [
    ("listener.name.client.ssl.keystore.location", dc.PER_BROKER),
    ("listener.name.client.scram-sha-512.sasl.jaas.config", dc.PER_BROKER),
    ("listener.name.client.max.connections", dc.CLUSTER_WIDE),
    ("listener.name.client.num.network.threads", dc.CLUSTER_WIDE),
    ("listener.name.client.ssl.principal.mapping.rules", dc.READ_ONLY),
    ("listener.name.client.connections.max.reauth.ms", dc.READ_ONLY),
])
def test_listener_prefixed_keys(key, mode):
    assert dc.classify(key) == mode


def test_split_listener_prefix():
    mechanism_key = "listener.name.client.scram-sha-512.sasl.jaas.config"
    assert dc.split_listener_prefix(mechanism_key) == ("client", "sasl.jaas.config")
    assert dc.split_listener_prefix("listener.name.broker.ssl.client.auth") == ("broker", "ssl.client.auth")
    assert dc.split_listener_prefix("num.io.threads") == (None, "num.io.threads")


def test_ssl_store_keys_are_updated_per_listener():
    assert dc.requires_listener_prefix("ssl.keystore.location")
    assert not dc.requires_listener_prefix("ssl.client.auth")
    assert dc.dynamic_update_keys("ssl.keystore.location", ["CLIENT", "BROKER"]) == [
        "listener.name.broker.ssl.keystore.location", "listener.name.client.ssl.keystore.location"]
    assert dc.dynamic_update_keys("log.cleaner.threads", ["CLIENT"]) == ["log.cleaner.threads"]
    with pytest.raises(ValueError, match="per listener"):
        dc.dynamic_update_keys("ssl.truststore.location", [])


def test_plan_sorts_changes_by_update_mode():
    old = {"broker.id": 1, "num.io.threads": 8, "log.cleaner.threads": 1, "ssl.keystore.location": "/a.pem",
           "log.retention.hours": 168, "compression.type": "producer"}
    new = {"broker.id": 1, "num.io.threads": 12, "log.cleaner.threads": 2, "ssl.keystore.location": "/b.pem",
           "log.retention.hours": 72, "zookeeper.connect": "zk:2181/kafka/lab"}
    plan = dc.plan_changes(old, new)
    assert plan["dynamic_cluster"] == {"num.io.threads": {"old": "8", "new": "12"},
                                       "log.cleaner.threads": {"old": "1", "new": "2"}}
    assert plan["dynamic_per_broker"] == {"ssl.keystore.location": {"old": "/a.pem", "new": "/b.pem"}}
    assert plan["static"] == {"log.retention.hours": {"old": "168", "new": "72"},
                              "zookeeper.connect": {"old": None, "new": "zk:2181/kafka/lab"}}
    assert plan["removed"] == {"compression.type": {"old": "producer", "new": None}}
    assert plan["restart_needed"] is True
    assert "read-only" in plan["reasons"]["log.retention.hours"]


def test_only_dynamic_changes_need_no_restart():
    plan = dc.plan_changes({"log.retention.ms": 1000, "listeners": "A://h:1"},
                           {"log.retention.ms": 2000, "listeners": "A://h:1,B://h:2"})
    assert plan["restart_needed"] is False
    assert set(plan["dynamic_cluster"]) == {"log.retention.ms"}
    assert set(plan["dynamic_per_broker"]) == {"listeners"}
    assert plan["static"] == {} and plan["removed"] == {}


def test_identical_configs_plan_nothing():
    config = {"broker.id": 1, "auto.create.topics.enable": False}
    plan = dc.plan_changes(config, {"broker.id": "1", "auto.create.topics.enable": "false"})
    assert plan["restart_needed"] is False
    assert not any(plan[section] for section in ("dynamic_per_broker", "dynamic_cluster", "static", "removed"))


@pytest.mark.parametrize("old, new, dynamic", [
    (8, 16, True),    # double: allowed
    (8, 17, False),   # more than double
    (8, 4, True),     # half: allowed
    (8, 3, False),    # less than half
    (None, 16, True),  # unset -> Kafka default 8
    (None, 17, False),
    (8, 0, False),
])
def test_thread_pool_resize_limits(old, new, dynamic):
    before = {} if old is None else {"num.io.threads": old}
    plan = dc.plan_changes(before, {"num.io.threads": new})
    assert ("num.io.threads" in plan["dynamic_cluster"]) is dynamic
    assert ("num.io.threads" in plan["static"]) is not dynamic
    assert plan["restart_needed"] is not dynamic


def test_log_cleaner_threads_follow_the_same_limits():
    assert "log.cleaner.threads" in dc.plan_changes({}, {"log.cleaner.threads": 2})["dynamic_cluster"]
    assert "log.cleaner.threads" in dc.plan_changes({}, {"log.cleaner.threads": 3})["static"]


def test_password_keys_need_the_encoder_secret():
    old = {"listener.name.client.ssl.key.password": "a"}
    new = {"listener.name.client.ssl.key.password": "b"}
    assert "listener.name.client.ssl.key.password" in dc.plan_changes(old, new)["static"]
    with_secret = dict(new, **{"password.encoder.secret": "s"})
    plan = dc.plan_changes(dict(old, **{"password.encoder.secret": "s"}), with_secret)
    assert "listener.name.client.ssl.key.password" in plan["dynamic_per_broker"]


def test_caller_can_force_static():
    plan = dc.plan_changes({"listeners": "A://h:1"}, {"listeners": "A://h:2"}, treat_as_static={"listeners"})
    assert "listeners" in plan["static"] and plan["restart_needed"]


def test_redact_hides_password_values():
    plan = dc.plan_changes({"ssl.keystore.password": "old-pw-value"},
                           {"ssl.keystore.password": "new-pw-value", "num.io.threads": 9})
    shown = dc.redact_plan(plan)
    assert shown["static"]["ssl.keystore.password"] == {"old": dc.REDACTED, "new": dc.REDACTED}
    assert shown["dynamic_cluster"]["num.io.threads"] == {"old": None, "new": "9"}
    assert "pw-value" not in repr(shown)
    assert dc.redact({"sasl.jaas.config": "x password=y", "a": 1}) == {"sasl.jaas.config": dc.REDACTED, "a": 1}


def test_plan_of_rendered_broker_configs():
    """End to end with the broker model: a thread bump is dynamic, a rack change needs a restart."""
    from kafkasalt.kafka import model as kafka_model
    from kafkasalt.kafka import render as kafka_render
    from test_broker_model import ZOOKEEPER, lab

    cluster = kafka_model.ClusterModel.from_pillar(lab(), ZOOKEEPER)
    before = kafka_render.broker_effective_config(cluster, "kafka1", num_io_threads=8)
    after = kafka_render.broker_effective_config(cluster, "kafka1", num_io_threads=12)
    plan = dc.plan_changes(before, after)
    assert plan["dynamic_cluster"] == {"num.io.threads": {"old": "8", "new": "12"}} and not plan["restart_needed"]

    pillar = lab()
    pillar["brokers"]["kafka1"]["rack"] = "r9"
    moved = kafka_render.broker_effective_config(kafka_model.ClusterModel.from_pillar(pillar, ZOOKEEPER), "kafka1")
    plan = dc.plan_changes(before, moved)
    assert plan["static"] == {"broker.rack": {"old": "r1", "new": "r9"}} and plan["restart_needed"]


def test_existing_listener_security_keys_other_than_stores_need_a_restart():
    from kafkasalt.kafka.dynamic_config import static_for_existing_listeners

    assert static_for_existing_listeners("ssl.client.auth")
    assert static_for_existing_listeners("listener.name.client.ssl.client.auth")
    assert static_for_existing_listeners("sasl.enabled.mechanisms")
    assert not static_for_existing_listeners("listener.name.client.ssl.keystore.location")
    assert not static_for_existing_listeners("listener.name.broker.scram-sha-512.sasl.jaas.config")
    assert not static_for_existing_listeners("log.cleaner.threads")

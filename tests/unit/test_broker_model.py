"""kafkasalt.kafka model, validate and render: pillar validation (every error names its key), broker files."""

import copy
import configparser
import re
import shlex
import shutil
import subprocess

import pytest
import yaml

from kafkasalt.common.errors import PillarErrors
from kafkasalt.common.secret import Secret
from kafkasalt.kafka import model as kafka_model
from kafkasalt.kafka import render as kafka_render

ADMIN_PASSWORD = "admin-Secret-1"
BROKER_PASSWORD = "broker-Secret-2"
ZK_PASSWORD = "zk-Secret-3"
APP_PASSWORD = "app-Secret-4"
ALL_PASSWORDS = (ADMIN_PASSWORD, BROKER_PASSWORD, ZK_PASSWORD, APP_PASSWORD)

ZOOKEEPER = {
    "members": {
        "kafka1": {"myid": 1, "address": "127.0.0.11"},
        "kafka2": {"myid": 2, "address": "127.0.0.12"},
        "kafka3": {"myid": 3, "address": "127.0.0.13"},
    },
    "ports": {"client": 2181, "quorum": 2888, "election": 3888, "admin": 8080},
    "sasl": {"users": {"kafka": {"password": ZK_PASSWORD}}},
}

LAB = {
    "cluster_name": "lab",
    "version": "3.9.1",
    "source": "file:///root/.cache/kafkasalt/artifacts/kafka_2.13-3.9.1.tgz",
    "source_hash": "sha512=" + "ab" * 64,
    "brokers": {
        "kafka1": {"broker_id": 1, "address": "127.0.0.11", "rack": "r1"},
        "kafka2": {"broker_id": 2, "address": "127.0.0.12", "rack": "r2"},
        "kafka3": {"broker_id": 3, "address": "127.0.0.13", "rack": "r3"},
    },
    "super_user": {"name": "admin", "password": ADMIN_PASSWORD},
    "inter_broker_user": {"name": "broker", "password": BROKER_PASSWORD},
    "users": {"app": {"password": APP_PASSWORD}},
    "topics": {"orders": {"partitions": 6, "replication_factor": 3, "config": {"retention.ms": 86400000}}},
}


def lab(**changes):
    pillar = copy.deepcopy(LAB)
    pillar.update(changes)
    return pillar


def model(pillar=None, zookeeper=ZOOKEEPER, **kwargs):
    return kafka_model.ClusterModel.from_pillar(lab() if pillar is None else pillar, zookeeper, **kwargs)


def errors_of(pillar, zookeeper=ZOOKEEPER, **kwargs):
    """``{pillar key: [messages]}`` of a pillar that must be refused."""
    with pytest.raises(PillarErrors) as caught:
        kafka_model.ClusterModel.from_pillar(pillar, zookeeper, **kwargs)
    found = {}
    for error in caught.value.errors:
        found.setdefault(error.key, []).append(error.message)
    for error in caught.value.errors:
        for password in ALL_PASSWORDS:
            assert password not in str(error)
    return found


# --- a valid lab cluster -----------------------------------------------------------------------

def test_lab_pillar_builds_the_model_with_defaults():
    cluster = model()
    assert [b.broker_id for b in cluster.brokers] == [1, 2, 3]
    assert [l.name for l in cluster.listeners] == ["BROKER", "CLIENT"]
    assert cluster.inter_broker == kafka_model.Listener("BROKER", 9094, "SASL_SSL")
    assert cluster.sasl_mechanism == "SCRAM-SHA-512"
    assert cluster.zookeeper_chroot == "/kafka/lab"
    assert cluster.zookeeper_connect() == "127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181/kafka/lab"
    assert cluster.zookeeper_connect(chroot=False) == "127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181"
    assert cluster.install_dir == "/opt/kafka/kafka_2.13-3.9.1"
    assert cluster.bootstrap_servers() == "127.0.0.11:9093,127.0.0.12:9093,127.0.0.13:9093"
    assert cluster.bootstrap_servers("BROKER") == "127.0.0.11:9094,127.0.0.12:9094,127.0.0.13:9094"
    assert cluster.topics[0] == kafka_model.Topic("orders", 6, 3, {"retention.ms": 86400000})
    assert cluster.super_users == ["User:admin", "User:broker"]
    assert cluster.jmx_exporter.enabled and cluster.jmx_exporter.port == 9101


def test_defaults_cover_every_pillar_contract_key():
    contract = {
        "cluster_name", "version", "source", "source_hash", "brokers", "listeners", "inter_broker_listener",
        "sasl_mechanism", "tls", "super_user", "inter_broker_user", "zookeeper_user", "log_dirs", "heap_mb",
        "expected_partitions", "jmx_exporter", "config", "default_replication_factor", "min_insync_replicas",
        "users", "topics", "acls",
    }
    assert contract <= set(kafka_model.DEFAULTS)
    assert kafka_model.DEFAULTS["listeners"] == {"CLIENT": {"port": 9093, "protocol": "SASL_SSL"},
                                            "BROKER": {"port": 9094, "protocol": "SASL_SSL"}}


def test_model_never_shows_passwords():
    cluster = model()
    text = repr(cluster) + str(cluster.super_user) + f"{cluster.inter_broker_user.password}"
    for password in ALL_PASSWORDS:
        assert password not in text
    assert cluster.super_user.password.reveal() == ADMIN_PASSWORD
    assert cluster.zookeeper_password().reveal() == ZK_PASSWORD


def test_model_can_be_copied_but_secrets_are_not_serialized():
    import pickle

    cluster = model()
    assert copy.deepcopy(cluster) == cluster
    with pytest.raises(TypeError):
        pickle.dumps(cluster.super_user.password)


def test_chroot_can_be_changed_or_disabled():
    assert model(lab(zookeeper_chroot="/")).zookeeper_connect().endswith(":2181")
    assert model(lab(zookeeper_chroot="/shared/k1")).zookeeper_connect().endswith("2181/shared/k1")


def test_validation_without_zookeeper_model_skips_the_zookeeper_checks():
    cluster = kafka_model.ClusterModel.from_pillar(lab())
    with pytest.raises(ValueError, match="zookeeper_model"):
        kafka_render.render_server_properties(cluster, "kafka1")


def test_zookeeper_model_object_is_accepted():
    class Member:
        def __init__(self, myid, address):
            self.myid, self.address = myid, address

    class Ensemble:
        members = {"kafka2": Member(2, "127.0.0.12"), "kafka1": Member(1, "127.0.0.11")}
        ports = {"client": 2182, "quorum": 2888, "election": 3888, "admin": 8080}
        users = {"kafka": Secret(ZK_PASSWORD)}

    cluster = model(lab(brokers={"kafka1": {"broker_id": 1, "address": "127.0.0.11"}},
                        default_replication_factor=1, min_insync_replicas=1, allow_min_isr_equal_rf=True,
                        topics={}), zookeeper=Ensemble())
    assert cluster.zookeeper_connect() == "127.0.0.11:2182,127.0.0.12:2182/kafka/lab"
    assert cluster.zookeeper_password().reveal() == ZK_PASSWORD


def test_zookeeper_ensemble_model_is_accepted():
    from kafkasalt.zookeeper import model as zookeeper

    zookeeper_pillar = copy.deepcopy(ZOOKEEPER)
    zookeeper_pillar.update({"source": "file:///tmp/zk.tgz", "source_hash": "sha512=" + "a" * 128})
    zookeeper_pillar["sasl"].update({"super_password": "super-pw", "quorum_password": "quorum-pw"})
    zookeeper_pillar["members"]["kafka2"]["ports"] = {"client": 2182}
    ensemble = zookeeper.EnsembleModel.from_pillar(zookeeper_pillar)
    cluster = model(zookeeper=ensemble)
    assert cluster.zookeeper_connect() == "127.0.0.11:2181,127.0.0.12:2182,127.0.0.13:2181/kafka/lab"
    assert cluster.zookeeper_password().reveal() == ZK_PASSWORD
    assert cluster.zookeeper == kafka_model.ZookeeperLink.from_pillar(zookeeper_pillar)


# --- every refused pillar names its key --------------------------------------------------------

def test_unknown_top_level_key_is_refused():
    found = errors_of(lab(listner={}))
    assert "did you mean 'listeners'?" in found["kafka:listner"][0]


def test_duplicate_broker_id():
    pillar = lab()
    pillar["brokers"]["kafka2"]["broker_id"] = 1
    found = errors_of(pillar)
    assert "kafka:brokers:kafka2:broker_id" in found
    assert "kafka1" in found["kafka:brokers:kafka2:broker_id"][0]


@pytest.mark.parametrize("bad_id", [-1, "2", 2.0, True, None])
def test_broker_id_must_be_an_int_at_least_zero(bad_id):
    pillar = lab()
    pillar["brokers"]["kafka2"]["broker_id"] = bad_id
    assert "kafka:brokers:kafka2:broker_id" in errors_of(pillar)


def test_broker_id_above_reserved_max_is_refused():
    pillar = lab()
    pillar["brokers"]["kafka3"]["broker_id"] = 1001
    assert "kafka:brokers:kafka3:broker_id" in errors_of(pillar)


def test_missing_broker_address():
    pillar = lab()
    del pillar["brokers"]["kafka3"]["address"]
    assert "kafka:brokers:kafka3:address" in errors_of(pillar)


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "not an address", "host_name"])
def test_wildcard_or_malformed_address_is_refused(address):
    pillar = lab()
    pillar["brokers"]["kafka3"]["address"] = address
    assert "kafka:brokers:kafka3:address" in errors_of(pillar)


def test_duplicate_broker_address_clashes_on_listener_ports():
    pillar = lab()
    pillar["brokers"]["kafka3"]["address"] = "127.0.0.11"
    found = errors_of(pillar)
    assert "kafka:brokers:kafka3:address" in found
    assert "9093" in found["kafka:brokers:kafka3:address"][0]


def test_unknown_broker_key_is_refused():
    pillar = lab()
    pillar["brokers"]["kafka1"]["brokerid"] = 7
    assert "kafka:brokers:kafka1:brokerid" in errors_of(pillar)


def test_replication_factor_above_broker_count():
    assert "kafka:default_replication_factor" in errors_of(lab(default_replication_factor=4))


@pytest.mark.parametrize("min_isr", [0, 4])
def test_min_insync_replicas_out_of_range(min_isr):
    assert "kafka:min_insync_replicas" in errors_of(lab(min_insync_replicas=min_isr))


def test_min_insync_equal_to_replication_factor_needs_opt_in():
    found = errors_of(lab(min_insync_replicas=3))
    assert "one broker down" in found["kafka:min_insync_replicas"][0]
    assert model(lab(min_insync_replicas=3, allow_min_isr_equal_rf=True)).min_insync_replicas == 3


@pytest.mark.parametrize("key", [
    "broker.id", "listeners", "advertised.listeners", "listener.security.protocol.map", "inter.broker.listener.name",
    "log.dirs", "zookeeper.connect", "sasl.jaas.config", "sasl.enabled.mechanisms", "ssl.keystore.location",
    "ssl.truststore.password", "super.users", "authorizer.class.name", "zookeeper.set.acl",
    "allow.everyone.if.no.acl.found", "ssl.client.auth", "default.replication.factor", "process.roles",
    "listener.name.client.ssl.keystore.location", "listener.name.client.scram-sha-512.sasl.jaas.config",
    "password.encoder.secret",
])
def test_formula_owned_keys_are_refused_in_config(key):
    found = errors_of(lab(config={key: "x"}))
    assert f"kafka:config:{key}" in found
    assert "owned by the formula" in found[f"kafka:config:{key}"][0]


def test_formula_owned_keys_are_refused_in_broker_config():
    pillar = lab()
    pillar["brokers"]["kafka2"]["config"] = {"broker.id": 9}
    assert "kafka:brokers:kafka2:config:broker.id" in errors_of(pillar)


def test_dynamic_only_throttle_is_not_a_server_property():
    assert "kafka:config:leader.replication.throttled.rate" in errors_of(
        lab(config={"leader.replication.throttled.rate": 1000}))


def test_config_values_must_be_scalars():
    assert "kafka:config:log.retention.hours" in errors_of(lab(config={"log.retention.hours": [1, 2]}))


@pytest.mark.parametrize("name", ["client", "1CLIENT", "CLI-ENT"])
def test_invalid_listener_name(name):
    found = errors_of(lab(listeners={name: {"port": 9093, "protocol": "SASL_SSL"},
                                     "BROKER": {"port": 9094, "protocol": "SASL_SSL"}}))
    assert f"kafka:listeners:{name}" in found


def test_port_clash_between_listeners():
    found = errors_of(lab(listeners={"CLIENT": {"port": 9093, "protocol": "SASL_SSL"},
                                     "BROKER": {"port": 9093, "protocol": "SASL_SSL"}}))
    assert "kafka:listeners:CLIENT:port" in found


def test_port_clash_with_jmx_exporter():
    found = errors_of(lab(jmx_exporter={"port": 9093}))
    assert "kafka:jmx_exporter:port" in found


def test_port_clash_with_zookeeper_on_the_same_host():
    found = errors_of(lab(listeners={"CLIENT": {"port": 2181, "protocol": "SASL_SSL"},
                                     "BROKER": {"port": 9094, "protocol": "SASL_SSL"}}))
    assert "kafka:listeners:CLIENT:port" in found
    assert "ZooKeeper" in found["kafka:listeners:CLIENT:port"][0]


@pytest.mark.parametrize("port", [80, 0, 70000, "9093"])
def test_listener_port_must_be_unprivileged_and_valid(port):
    found = errors_of(lab(listeners={"CLIENT": {"port": port, "protocol": "SASL_SSL"},
                                     "BROKER": {"port": 9094, "protocol": "SASL_SSL"}}))
    assert "kafka:listeners:CLIENT:port" in found


def test_unknown_protocol():
    found = errors_of(lab(listeners={"CLIENT": {"port": 9093, "protocol": "TLS"},
                                     "BROKER": {"port": 9094, "protocol": "SASL_SSL"}}))
    assert "kafka:listeners:CLIENT:protocol" in found


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_insecure_listener_needs_opt_in(protocol):
    listeners = {"CLIENT": {"port": 9092, "protocol": protocol}, "BROKER": {"port": 9094, "protocol": "SASL_SSL"}}
    found = errors_of(lab(listeners=listeners))
    assert "allow_insecure_listeners" in found["kafka:listeners:CLIENT:protocol"][0]
    cluster = model(lab(listeners=listeners, allow_insecure_listeners=True))
    assert cluster.listener("CLIENT").protocol == protocol


def test_inter_broker_listener_must_be_a_listener():
    assert "kafka:inter_broker_listener" in errors_of(lab(inter_broker_listener="INTERNAL"))


def test_inter_broker_listener_must_use_sasl():
    found = errors_of(lab(listeners={"CLIENT": {"port": 9093, "protocol": "SASL_SSL"},
                                     "BROKER": {"port": 9094, "protocol": "SSL"}}))
    assert "kafka:inter_broker_listener" in found


@pytest.mark.parametrize("heap", [128, "1g", 1.5])
def test_heap_below_minimum_or_not_an_int(heap):
    assert "kafka:heap_mb" in errors_of(lab(heap_mb=heap))


def test_heap_larger_than_host_ram():
    sizing = {"kafka1": {"mem_total_bytes": 8 << 30}, "kafka2": {"mem_total_bytes": 2 << 30}}
    found = errors_of(lab(heap_mb=4096), sizing_by_minion=sizing)
    assert "kafka2" in found["kafka:heap_mb"][0] and len(found["kafka:heap_mb"]) == 1
    assert model(lab(heap_mb=1024), sizing_by_minion=sizing).heap_mb == 1024


@pytest.mark.parametrize("version", ["4.0.0", "4.1.1"])
def test_kafka_4_is_refused_as_kraft_only(version):
    found = errors_of(lab(version=version))
    assert "Kafka 4 is KRaft-only" in found["kafka:version"][0]


@pytest.mark.parametrize("version", ["2.8.2", "3.10.0", 3.9, "3.9"])
def test_unsupported_or_malformed_version(version):
    assert "kafka:version" in errors_of(lab(version=version))


@pytest.mark.parametrize("version", ["3.0.0", "3.6.2", "3.9.1"])
def test_zookeeper_capable_versions_are_accepted(version):
    assert model(lab(version=version)).version == version


@pytest.mark.parametrize("section", ["super_user", "inter_broker_user"])
def test_missing_password(section):
    pillar = lab()
    pillar[section] = {"name": pillar[section]["name"]}
    found = errors_of(pillar)
    assert f"kafka:{section}:password" in found


def test_password_with_newline_is_refused_without_echoing_it():
    pillar = lab()
    pillar["super_user"]["password"] = ADMIN_PASSWORD + "\n"
    found = errors_of(pillar)
    assert "kafka:super_user:password" in found


def test_super_and_inter_broker_users_must_differ():
    pillar = lab()
    pillar["inter_broker_user"]["name"] = "admin"
    assert "kafka:inter_broker_user:name" in errors_of(pillar)


def test_zookeeper_user_must_exist_in_the_zookeeper_model():
    found = errors_of(lab(zookeeper_user="brokers"))
    assert "kafka" in found["kafka:zookeeper_user"][0]


def test_empty_zookeeper_ensemble_is_refused():
    assert "zookeeper:members" in errors_of(lab(), zookeeper={"members": {}, "sasl": ZOOKEEPER["sasl"]})


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-1", "GSSAPI"])
def test_sasl_mechanism_must_be_scram(mechanism):
    assert "kafka:sasl_mechanism" in errors_of(lab(sasl_mechanism=mechanism))


def test_tls_client_auth_values():
    assert "kafka:tls:client_auth" in errors_of(lab(tls={"client_auth": "optional"}))
    assert model(lab(tls={"client_auth": "required"})).tls_client_auth == "required"


@pytest.mark.parametrize("rack", [1, "", ["r1"]])
def test_rack_must_be_a_string(rack):
    pillar = lab()
    pillar["brokers"]["kafka1"]["rack"] = rack
    assert "kafka:brokers:kafka1:rack" in errors_of(pillar)


def test_log_dirs_must_be_absolute():
    found = errors_of(lab(log_dirs=["/data/a", "data/b"]))
    assert "kafka:log_dirs:1" in found


def test_log_dirs_must_be_a_list_without_duplicates_or_commas():
    assert "kafka:log_dirs" in errors_of(lab(log_dirs="/data/a"))
    assert "kafka:log_dirs:1" in errors_of(lab(log_dirs=["/data/a", "/data/a/"]))
    assert "kafka:log_dirs:0" in errors_of(lab(log_dirs=["/data/a,/data/b"]))


def test_topic_with_no_partitions():
    assert "kafka:topics:orders:partitions" in errors_of(lab(topics={"orders": {"partitions": 0}}))


def test_topic_replication_factor_above_broker_count():
    found = errors_of(lab(topics={"orders": {"partitions": 3, "replication_factor": 5}}))
    assert "kafka:topics:orders:replication_factor" in found


def test_topic_names_and_collisions():
    found = errors_of(lab(topics={"bad name": {}, "__consumer_offsets": {}, "a.b": {}, "a_b": {}}))
    assert "kafka:topics:bad name" in found
    assert "kafka:topics:__consumer_offsets" in found
    assert "kafka:topics:a_b" in found


def test_topic_min_isr_above_its_replication_factor():
    found = errors_of(lab(topics={"t": {"replication_factor": 2, "config": {"min.insync.replicas": 3}}}))
    assert "kafka:topics:t:config:min.insync.replicas" in found


def test_users_need_a_password_and_must_not_shadow_the_system_users():
    found = errors_of(lab(users={"app": {}, "admin": {"password": "x"}}))
    assert "kafka:users:app:password" in found
    assert "kafka:users:admin" in found


def test_replication_overrides_are_checked_against_broker_count():
    found = errors_of(lab(config={"offsets.topic.replication.factor": 5}))
    assert "kafka:config:offsets.topic.replication.factor" in found


def test_source_needs_a_valid_hash():
    assert "kafka:source_hash" in errors_of(lab(source="file:///tmp/kafka.tgz", source_hash=None))
    assert "kafka:source_hash" in errors_of(lab(source="file:///tmp/kafka.tgz", source_hash="sha512=abc"))
    good = model(lab(source="file:///tmp/kafka.tgz", source_hash="sha512=" + "a" * 128))
    assert good.source_hash == "sha512=" + "a" * 128


def test_every_problem_is_reported_at_once():
    pillar = lab(version="4.0.0", sasl_mechanism="PLAIN", tls={"client_auth": "sometimes"}, heap_mb=10)
    pillar["brokers"]["kafka2"]["broker_id"] = 1
    found = errors_of(pillar)
    assert {"kafka:version", "kafka:sasl_mechanism", "kafka:tls:client_auth", "kafka:heap_mb",
            "kafka:brokers:kafka2:broker_id"} <= set(found)


def test_section_that_is_not_a_mapping():
    assert "kafka:tls" in errors_of(lab(tls="required"))
    assert "kafka:brokers" in errors_of(lab(brokers=["kafka1"]))


# --- server.properties -------------------------------------------------------------------------

def test_server_properties_content():
    cluster = model(lab(tls={"client_auth": "required"}))
    text = kafka_render.render_server_properties(cluster, "kafka2", log_dirs=["/data/d1/kafka-logs", "/data/d2/kafka-logs"],
                                           num_network_threads=4, num_io_threads=16,
                                           num_recovery_threads_per_data_dir=2)
    lines = text.splitlines()
    assert lines[0] == "# " + kafka_model.MANAGED_HEADER
    entries = dict(line.split("=", 1) for line in lines if not line.startswith("#"))
    assert list(entries) == sorted(entries)
    expected = {
        "broker.id": "2",
        "broker.rack": "r2",
        "listeners": "BROKER://127.0.0.12:9094,CLIENT://127.0.0.12:9093",
        "advertised.listeners": "BROKER://127.0.0.12:9094,CLIENT://127.0.0.12:9093",
        "listener.security.protocol.map": "BROKER:SASL_SSL,CLIENT:SASL_SSL",
        "inter.broker.listener.name": "BROKER",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": "/etc/kafka/tls/keystore.pem",
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": "/etc/kafka/tls/truststore.pem",
        "ssl.client.auth": "required",
        "listener.name.client.ssl.client.auth": "required",
        "listener.name.broker.ssl.client.auth": "required",
        "ssl.endpoint.identification.algorithm": "https",
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
        "super.users": "User:admin;User:broker",
        "allow.everyone.if.no.acl.found": "false",
        "zookeeper.connect": "127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181/kafka/lab",
        "zookeeper.set.acl": "true",
        "log.dirs": "/data/d1/kafka-logs,/data/d2/kafka-logs",
        "default.replication.factor": "3",
        "min.insync.replicas": "2",
        "offsets.topic.replication.factor": "3",
        "transaction.state.log.replication.factor": "3",
        "transaction.state.log.min.isr": "2",
        "auto.create.topics.enable": "false",
        "unclean.leader.election.enable": "false",
        "num.network.threads": "4",
        "num.io.threads": "16",
        "num.recovery.threads.per.data.dir": "2",
    }
    assert entries == expected


def test_server_properties_has_no_secret_and_is_deterministic():
    cluster = model()
    first = kafka_render.render_server_properties(cluster, "kafka1")
    assert first == kafka_render.render_server_properties(model(), "kafka1")
    for password in ALL_PASSWORDS:
        assert password not in first
    assert "password" not in first.replace("SASL passwords are in", "")


def test_overrides_cluster_then_broker_win_over_computed_values():
    pillar = lab(config={"num.io.threads": 12, "log.retention.hours": 72, "auto.create.topics.enable": True})
    pillar["brokers"]["kafka1"]["config"] = {"num.io.threads": 20}
    cluster = model(pillar)
    first = kafka_render.broker_effective_config(cluster, "kafka1")
    second = kafka_render.broker_effective_config(cluster, "kafka2")
    assert first["num.io.threads"] == "20" and second["num.io.threads"] == "12"
    assert first["log.retention.hours"] == "72" and first["auto.create.topics.enable"] == "true"


def test_log_dirs_precedence_argument_then_pillar_then_default():
    cluster = model(lab(log_dirs=["/srv/kafka"]))
    assert kafka_render.broker_effective_config(cluster, "kafka1")["log.dirs"] == "/srv/kafka"
    assert kafka_render.broker_effective_config(cluster, "kafka1", log_dirs=["/a", "/b"])["log.dirs"] == "/a,/b"
    assert kafka_render.broker_effective_config(model(), "kafka1")["log.dirs"] == kafka_model.DEFAULT_DATA_DIR
    with pytest.raises(ValueError, match="log_dirs"):
        kafka_render.broker_effective_config(model(), "kafka1", log_dirs=["relative"])


def test_plaintext_lab_has_no_tls_or_sasl_keys_it_does_not_need():
    cluster = model(lab(listeners={"BROKER": {"port": 9094, "protocol": "SASL_PLAINTEXT"}},
                        allow_insecure_listeners=True))
    config = kafka_render.broker_effective_config(cluster, "kafka1")
    assert not any(key.startswith("ssl.") or ".ssl." in key for key in config)
    assert config["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"


def test_unknown_minion_names_the_pillar_key():
    with pytest.raises(KeyError, match="kafka:brokers:kafka9"):
        kafka_render.render_server_properties(model(), "kafka9")


def test_properties_escaping_round_trips_through_java_rules():
    text = kafka_render.render_properties({"a key": "  lead\\ing", "k": "caf\u00e9 \U0001F600"}, [])
    assert text == "a\\ key=\\  lead\\\\ing\nk=caf\\u00E9 \\uD83D\\uDE00\n"


# --- secret files --------------------------------------------------------------------------------

def test_jaas_file():
    text = kafka_render.render_jaas(model())
    assert "KafkaServer {" in text and "Client {" in text
    assert f'{kafka_model.SCRAM_LOGIN_MODULE} required\n    username="broker"\n    password="{BROKER_PASSWORD}";' in text
    zookeeper_login = f'{kafka_model.ZOOKEEPER_DIGEST_LOGIN_MODULE} required\n    username="kafka"\n'
    assert zookeeper_login + f'    password="{ZK_PASSWORD}";' in text
    assert ADMIN_PASSWORD not in text


def test_jaas_quotes_special_characters():
    pillar = lab()
    pillar["inter_broker_user"]["password"] = 'a"b\\c'
    assert 'password="a\\"b\\\\c";' in kafka_render.render_jaas(model(pillar))


def test_client_properties_for_admin_tools():
    cluster = model()
    text = kafka_render.render_client_properties(cluster, "admin", cluster.super_user.password,
                                           keystore_path="/etc/kafka/tls/admin.pem")
    entries = dict(line.split("=", 1) for line in text.splitlines() if not line.startswith("#"))
    assert entries == {
        "bootstrap.servers": "127.0.0.11:9093,127.0.0.12:9093,127.0.0.13:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": f'{kafka_model.SCRAM_LOGIN_MODULE} required username="admin" password="{ADMIN_PASSWORD}";',
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": "/etc/kafka/tls/truststore.pem",
        "ssl.endpoint.identification.algorithm": "https",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": "/etc/kafka/tls/admin.pem",
    }


def test_client_properties_refuses_bad_arguments_without_echoing_the_password():
    with pytest.raises(ValueError) as caught:
        kafka_render.render_client_properties(model(), "admin", "two\nlines")
    assert "two" not in str(caught.value) and "password" in str(caught.value)
    with pytest.raises(ValueError, match="username"):
        kafka_render.render_client_properties(model(), "ad min", ADMIN_PASSWORD)


# --- service -------------------------------------------------------------------------------------

AGENT = "/opt/kafka/jmx_prometheus_javaagent.jar"


def test_jvm_env():
    env = kafka_render.jvm_env(model(), "kafka3", heap_mb=2048, jmx_agent_path=AGENT)
    assert env["KAFKA_HEAP_OPTS"] == "-Xms2048m -Xmx2048m"
    assert "-XX:+UseG1GC" in env["KAFKA_JVM_PERFORMANCE_OPTS"].split()
    assert env["KAFKA_OPTS"] == (f"-Djava.security.auth.login.config={kafka_model.JAAS_PATH} "
                                 f"-javaagent:{AGENT}=127.0.0.13:9101:/etc/kafka/jmx_exporter.yml")
    assert "-javaagent" not in kafka_render.jvm_env(model(), "kafka3", heap_mb=2048)["KAFKA_OPTS"]


def test_jvm_env_heap_comes_from_pillar_or_argument():
    assert kafka_render.jvm_env(model(lab(heap_mb=1024)), "kafka1")["KAFKA_HEAP_OPTS"] == "-Xms1024m -Xmx1024m"
    with pytest.raises(ValueError, match="heap_mb"):
        kafka_render.jvm_env(model(), "kafka1")
    with pytest.raises(ValueError, match="heap_mb"):
        kafka_render.jvm_env(model(), "kafka1", heap_mb=100)


def test_jvm_env_refuses_agent_when_exporter_disabled():
    with pytest.raises(ValueError, match="jmx_agent_path"):
        kafka_render.jvm_env(model(lab(jmx_exporter={"enabled": False})), "kafka1", heap_mb=1024, jmx_agent_path=AGENT)


def test_command_line():
    argv = kafka_render.command(model(), "kafka1", "/opt/kafka/kafka_2.13-3.9.1", heap_mb=1024, jmx_agent_path=AGENT)
    assert argv[0] == "/usr/bin/java"
    assert argv[1:3] == ["-Xms1024m", "-Xmx1024m"]
    assert argv[-4:] == ["-cp", "/opt/kafka/kafka_2.13-3.9.1/libs/*", "kafka.Kafka", "/etc/kafka/server.properties"]
    assert f"-Djava.security.auth.login.config={kafka_model.JAAS_PATH}" in argv
    assert "-Dlog4j.configuration=file:/etc/kafka/log4j.properties" in argv
    assert kafka_render.command(model(), "kafka1", heap_mb=1024)[-3] == "/opt/kafka/kafka_2.13-3.9.1/libs/*"


def test_systemd_unit_runs_the_command_with_limits():
    unit = kafka_render.render_systemd_unit(model(), "kafka1", heap_mb=1024, nofile=200000, jmx_agent_path=AGENT)
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read_string(unit)
    service = parser["Service"]
    assert shlex.split(service["ExecStart"]) == kafka_render.command(model(), "kafka1", heap_mb=1024, jmx_agent_path=AGENT)
    assert service["LimitNOFILE"] == "200000"
    assert service["User"] == "kafka"
    assert 'Environment="KAFKA_HEAP_OPTS=-Xms1024m -Xmx1024m"' in unit


def test_systemd_unit_passes_systemd_analyze_verify(tmp_path):
    # systemd-analyze verify works without a running systemd (Debian: package systemd).
    assert shutil.which("systemd-analyze"), "systemd-analyze is needed to verify the unit statically"
    unit = tmp_path / "kafka.service"
    unit.write_text(kafka_render.render_systemd_unit(model(), "kafka1", heap_mb=1024, jmx_agent_path=AGENT))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stderr.strip() == "" and result.stdout.strip() == ""


def test_supervisord_program_parses_with_supervisor(tmp_path):
    from supervisor.options import ServerOptions

    program = kafka_render.render_supervisord_program(model(), "kafka1", heap_mb=1024, nofile=150000, jmx_agent_path=AGENT,
                                                user="root")
    # supervisord insists that the log directory exists; this machine need not have /var/log/kafka.
    program = re.sub(rf"^((?:stdout|stderr)_logfile=){re.escape(kafka_model.LOG_DIR)}/", rf"\g<1>{tmp_path}/", program,
                     flags=re.MULTILINE)
    config = tmp_path / "supervisord.conf"
    config.write_text(f"[supervisord]\nlogfile={tmp_path}/sd.log\npidfile={tmp_path}/sd.pid\n\n{program}")
    options = ServerOptions()
    options.realize(args=["-c", str(config)])
    process = options.process_group_configs[0].process_configs[0]
    argv = shlex.split(process.command)
    assert argv[:3] == ["/usr/bin/prlimit", "--nofile=150000:150000", "--"]
    assert argv[3:] == kafka_render.command(model(), "kafka1", heap_mb=1024, jmx_agent_path=AGENT)
    assert process.environment == kafka_render.jvm_env(model(), "kafka1", heap_mb=1024, jmx_agent_path=AGENT)
    assert process.stopwaitsecs == kafka_model.STOP_TIMEOUT_SECONDS
    assert process.exitcodes == [0, 143]


def test_jmx_exporter_config_is_valid_yaml_with_kafka_rules():
    config = yaml.safe_load(kafka_render.render_jmx_exporter_config())
    assert config["lowercaseOutputName"] is True
    assert "kafka.server:*" in config["includeObjectNames"]
    names = [rule["name"] for rule in config["rules"]]
    assert "kafka_$1_$2_$3" in names and "kafka_network_requestmetrics_$1" in names
    for rule in config["rules"]:
        assert rule["type"] in ("GAUGE", "COUNTER", "UNTYPED")


def test_log4j_properties_writes_to_the_log_dir():
    text = kafka_render.render_log4j_properties()
    assert "log4j.rootLogger=INFO, kafkaAppender" in text
    assert "log4j.appender.kafkaAppender.File=${kafka.logs.dir}/server.log" in text


def test_a_draining_broker_is_not_served_nor_expected_but_stays_in_the_model():
    from kafkasalt.kafka.model import ClusterModel

    pillar = {
        "cluster_name": "lab", "version": "3.9.2", "source": "file:///k.tgz", "source_hash": "sha512=" + "cd" * 64,
        "brokers": {f"kafka{i}": {"broker_id": i, "address": f"127.0.0.1{i}", **({"drain": True} if i == 4 else {})}
                    for i in range(1, 5)},
        "super_user": {"name": "admin", "password": "a-Secret-1"},
        "inter_broker_user": {"name": "broker", "password": "b-Secret-2"},
    }
    model = ClusterModel.from_pillar(pillar)
    assert [b.broker_id for b in model.brokers] == [1, 2, 3, 4]
    assert [b.broker_id for b in model.serving_brokers] == [1, 2, 3]
    assert [b.minion_id for b in model.draining_brokers] == ["kafka4"]
    assert "127.0.0.14" not in model.bootstrap_servers()
    assert model.rebalance.on_scale is True and model.rebalance.max_moves_per_broker == 5

"""`salt-run state.orchestrate kafka.deploy` on the lab: secure brokers from bare hosts."""

import os
import uuid

import pytest

from tests.conftest import bench

from tests.integration.conftest import host_file, leaked_secrets

pytestmark = pytest.mark.lab

BROKERS = ("kafka1", "kafka2", "kafka3")
BOOTSTRAP = "127.0.0.11:9093,127.0.0.12:9093,127.0.0.13:9093"


def ca_file(lab):
    return os.path.join(lab.master_dir, "pki", "kafka", "lab", "ca.crt")


def client_config(lab, username="admin", password=None, **extra):
    config = {
        "bootstrap_servers": BOOTSTRAP,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": username,
        "sasl_plain_password": password if password is not None else lab.lab_secrets()["kafka_admin"],
        "ssl_cafile": ca_file(lab),
        "request_timeout_ms": 15000,
    }
    config.update(extra)
    return config


def _server_properties_present(lab):
    return [h for h in BROKERS if host_file(lab, h, "/etc/kafka/server.properties")]


@pytest.mark.parametrize("bad, key", [
    ({"brokers": {"kafka2": {"broker_id": 1}}}, "kafka:brokers:kafka2:broker_id"),
    ({"default_replication_factor": 5}, "kafka:default_replication_factor"),
    ({"min_insync_replicas": 3}, "kafka:min_insync_replicas"),
    ({"config": {"broker.id": 7}}, "kafka:config:broker.id"),
    ({"listeners": {"PLAIN": {"port": 9092, "protocol": "PLAINTEXT"}}}, "kafka:listeners"),
    ({"heap_mb": 10_000_000}, "kafka:heap_mb"),
    ({"version": "4.0.0"}, "kafka:version"),
    ({"super_user": {"password": ""}}, "kafka:super_user:password"),
])
def test_bad_pillar_is_refused_before_any_host_changes(lab, orchestrate, pillar_override, bad, key):
    pillar_override({"kafka": bad})
    run = orchestrate("kafka.deploy")
    assert not run.succeeded
    assert key in run.text(), run.text()[-2000:]
    assert _server_properties_present(lab) == []


def test_test_mode_on_bare_hosts_reports_changes_and_starts_nothing(lab, orchestrate):
    run = orchestrate("kafka.deploy", "test=True")
    # Bare hosts: every broker is started at once by one state run targeting all of them.
    step = run.steps["kafka-brokers"]
    for host in BROKERS:
        would = {v["__id__"] for v in step["changes"]["ret"][host].values() if v["result"] is None}
        assert {"kafka-server.properties", "kafka-release", "kafka-service"} <= would, sorted(would)
    assert _server_properties_present(lab) == []
    assert not any("kafka " in lab.nsenter(h, ["supervisorctl", "status"], check=False).stdout for h in BROKERS)


@pytest.fixture(scope="module")
def cold_deploy(orchestrate):
    run = orchestrate("kafka.deploy")
    assert run.succeeded, run.text()[-4000:]
    bench(f"kafka.deploy (ZooKeeper already up, 3 brokers from bare): {run.seconds:.1f}s")
    return run


def test_deploy_starts_bare_brokers_at_once_and_verifies_each_and_the_cluster(cold_deploy, lab):
    # No broker ever ran on these hosts, so nothing can be lost: one state run starts them all,
    # then each must register. Every later change goes one broker at a time (test_40).
    order = [k for k in cold_deploy.steps if k.startswith("kafka-broker")]
    assert order == ["kafka-brokers", "kafka-broker-kafka1-registered",
                     "kafka-broker-kafka2-registered", "kafka-broker-kafka3-registered"]
    assert sorted(cold_deploy.steps["kafka-brokers"]["changes"]["ret"]) == list(BROKERS)
    health = lab.salt_json("kafka2", "kafka.health")["kafka2"]
    assert health["verdict"] == "healthy", health
    assert sorted(b["id"] for b in health["brokers"]) == [1, 2, 3]
    for host in BROKERS:
        for path in ("/etc/kafka/kafka_server_jaas.conf", "/etc/kafka/tls/keystore.pem", "/etc/kafka/admin-client.properties"):
            st = os.stat(lab.host_path(host, path))
            assert oct(st.st_mode & 0o777) == "0o600", (host, path)


def test_scram_over_tls_produce_and_consume_with_rf3(cold_deploy, lab):
    from kafka import KafkaConsumer, KafkaProducer

    topic = f"rf3-{uuid.uuid4().hex[:8]}"
    created = lab.salt_json("kafka1", "kafka.create_topic", topic, "3", "3")["kafka1"]
    assert created, created
    described = lab.salt_json("kafka1", "kafka.describe_topics", f'["{topic}"]')["kafka1"][topic]
    assert described["replication_factor"] == 3
    producer = KafkaProducer(acks="all", **client_config(lab))
    for i in range(20):
        producer.send(topic, f"m{i}".encode()).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(topic, group_id="it-rf3", auto_offset_reset="earliest", consumer_timeout_ms=15000,
                             **client_config(lab))
    seen = sorted(m.value.decode() for m in consumer)
    consumer.close()
    assert seen == sorted(f"m{i}" for i in range(20))


def test_plaintext_connection_is_refused(cold_deploy):
    from kafka.admin import KafkaAdminClient

    with pytest.raises(Exception):
        KafkaAdminClient(bootstrap_servers="127.0.0.11:9093", security_protocol="PLAINTEXT",
                         request_timeout_ms=5000, bootstrap_timeout_ms=8000).list_topics()
    with pytest.raises(Exception):
        KafkaAdminClient(bootstrap_servers="127.0.0.11:9092", security_protocol="PLAINTEXT",
                         request_timeout_ms=5000, bootstrap_timeout_ms=8000).list_topics()


def test_wrong_password_is_refused(cold_deploy, lab):
    from kafka.admin import KafkaAdminClient

    with pytest.raises(Exception):
        KafkaAdminClient(**client_config(lab, password="wrong-password"), bootstrap_timeout_ms=10000).list_topics()


def test_second_run_changes_nothing(cold_deploy, orchestrate):
    run = orchestrate("kafka.deploy")
    assert run.succeeded, run.text()[-3000:]
    assert run.host_changes() == []
    ratio = run.seconds / cold_deploy.seconds
    bench(f"kafka.deploy idempotent re-run {run.seconds:.1f}s = {ratio:.0%} of the deploy")


def test_list_topics_from_every_minion_and_the_master(cold_deploy, lab):
    topics = lab.salt_json("*", "kafka.list_topics")
    assert set(topics) == set(BROKERS)
    assert all(isinstance(v, list) for v in topics.values()), topics
    assert len({tuple(v) for v in topics.values()}) == 1
    proc = lab.salt_run("kafka.list_topics", "--out=json", check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_jmx_exporter_serves_metrics_on_the_host_address(cold_deploy):
    import urllib.request

    body = urllib.request.urlopen("http://127.0.0.12:9101/metrics", timeout=10).read().decode()
    assert "kafka_server" in body


def test_no_secret_in_job_cache_logs_or_output(cold_deploy, lab):
    secrets = list(lab.lab_secrets().values())
    assert all(len(s) >= 12 for s in secrets)
    assert leaked_secrets(lab, secrets) == []
    assert not any(s in cold_deploy.text() for s in secrets)
    assert "PRIVATE KEY" not in cold_deploy.text()

"""kafkasalt.kafka.admin against a real secured cluster: 3 brokers, SASL_SSL + SCRAM-SHA-512, AclAuthorizer.

The cluster (see ``secure_cluster.py``) lives for the whole module. Tests use their own topics,
users and groups so that they do not depend on each other, except the broker-kill test, which
runs last because it takes a broker away (and brings it back).
"""

import logging
import re
import time

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.net.compat import KafkaNetClient

try:  # tests/functional on sys.path (pytest's default rootdir-less import)
    from secure_cluster import SecureCluster
except ImportError:  # tests/functional is a package
    from tests.functional.secure_cluster import SecureCluster

from kafkasalt.security import acl
from kafkasalt.kafka.admin import KafkaAdmin
from kafkasalt.kafka.admin.connection import ConnectionSettings, KafkaAdminError, KafkaInputError
from kafkasalt.kafka.admin.reassignments import BROKER_THROTTLE_KEYS, TOPIC_THROTTLE_KEYS

WAIT_SECONDS = 60


@pytest.fixture(scope="module")
def cluster(artifact_manifest, tmp_path_factory):
    secure = SecureCluster(tmp_path_factory.mktemp("secure-cluster"), artifact_manifest, broker_count=3)
    try:
        secure.start()
        yield secure
    finally:
        secure.stop()


@pytest.fixture(scope="module")
def admin(cluster):
    with KafkaAdmin(cluster.settings()) as kafka_admin:
        yield kafka_admin


def wait_for(condition, what, timeout=WAIT_SECONDS, interval=0.5):
    """Poll ``condition()`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def produce(cluster, topic, count, username="admin", password=None, size=16, partition=0):
    producer = KafkaProducer(acks="all", bootstrap_timeout_ms=10000,
                             **cluster.client_kwargs(username, password or cluster.admin_password))
    try:
        for index in range(count):
            producer.send(topic, (b"%d:" % index).ljust(size, b"x"), partition=partition)
        producer.flush(timeout=30)
    finally:
        producer.close()


def can_authenticate(cluster, username, password):
    """True when a kafka-python producer for ``username`` gets through SASL/SCRAM on every broker."""
    for server in cluster.bootstrap_servers:
        created = []

        def network_client(**configs):
            client = KafkaNetClient(**configs)
            created.append(client)
            return client

        kwargs = dict(cluster.client_kwargs(username, password), bootstrap_servers=[server])
        try:
            producer = KafkaProducer(bootstrap_timeout_ms=3000, kafka_client=network_client, **kwargs)
        except Exception:  # noqa: BLE001 - any failure to bootstrap means "not authenticated"
            for client in created:  # a failed bootstrap leaves kafka-python's IO thread running
                client.close()
                client._net.stop()
            return False
        producer.close()
    return True


def kafka_acls_cli_listing(cluster):
    """Bindings printed by the packaged ``kafka-acls.sh --list``, as AclBinding objects."""
    result = cluster.run_tool("kafka-acls.sh", "--bootstrap-server", cluster.bootstrap_servers[0],
                              "--command-config", cluster.admin_client_properties, "--list")
    assert result.returncode == 0, result.stderr
    bindings = set()
    resource = None
    for line in result.stdout.splitlines():
        header = re.search(r"ResourcePattern\(resourceType=(\w+), name=(.*), patternType=(\w+)\)", line)
        if header:
            resource = header.groups()
            continue
        entry = re.search(r"\(principal=(.*), host=(.*), operation=(\w+), permissionType=(\w+)\)", line)
        if entry:
            principal, host, operation, permission = entry.groups()
            bindings.add(acl.AclBinding(resource_type=resource[0], resource_name=resource[1],
                                        pattern_type=resource[2], principal=principal, host=host,
                                        operation=operation, permission=permission))
    return bindings


# --------------------------------------------------------------------------- cluster and topics
def test_describe_cluster_reports_three_brokers_and_a_controller(admin, cluster):
    description = admin.describe_cluster()
    assert [broker["id"] for broker in description["brokers"]] == [1, 2, 3]
    assert {f"{b['host']}:{b['port']}" for b in description["brokers"]} == set(cluster.bootstrap_servers)
    assert description["controller_id"] in (1, 2, 3)
    assert description["cluster_id"]


def test_topic_lifecycle_config_drift_and_partition_growth(admin):
    created = admin.create_topic("orders", 2, 3, config={"retention.ms": 3600000, "cleanup.policy": "delete"})
    assert len(created["partitions"]) == 2 and created["replication_factor"] == 3
    assert all(sorted(p["isr"]) == [1, 2, 3] and p["leader"] in (1, 2, 3) for p in created["partitions"])
    assert "orders" in admin.list_topics()
    assert admin.list_topics() == sorted(admin.list_topics())
    assert admin.topic_configs("orders") == {"cleanup.policy": "delete", "retention.ms": "3600000"}

    with pytest.raises(KafkaAdminError, match="topic 'orders' already exists"):
        admin.create_topic("orders", 2, 3)

    # Drift: change one override, add one, remove one; only the difference is sent and reported.
    changes = admin.alter_topic_config("orders", set_configs={"retention.ms": 7200000, "max.message.bytes": 200000},
                                       delete_keys=["cleanup.policy"])
    assert changes == {"retention.ms": {"old": "3600000", "new": "7200000"},
                       "max.message.bytes": {"old": None, "new": "200000"},
                       "cleanup.policy": {"old": "delete", "new": None}}
    assert admin.topic_configs("orders") == {"max.message.bytes": "200000", "retention.ms": "7200000"}
    assert admin.alter_topic_config("orders", set_configs={"retention.ms": "7200000"},
                                    delete_keys=["cleanup.policy"]) == {}
    assert admin.alter_topic_config("orders", set_configs={"retention.ms": 1}, dry_run=True) == {
        "retention.ms": {"old": "7200000", "new": "1"}}
    assert admin.topic_configs("orders")["retention.ms"] == "7200000"

    assert admin.create_partitions("orders", 4) == {"old": 2, "new": 4}
    assert admin.create_partitions("orders", 4) == {}
    assert [p["partition"] for p in admin.describe_topics(["orders"])["orders"]["partitions"]] == [0, 1, 2, 3]

    assert admin.delete_topic("orders") is True
    assert "orders" not in admin.list_topics()
    with pytest.raises(KafkaAdminError, match="topic 'orders' does not exist"):
        admin.topic_configs("orders")


def test_explicit_replica_assignment_and_missing_topics(admin):
    created = admin.create_topic("placed", None, None, replica_assignment=[[1, 2], [2, 3]])
    assert [p["replicas"] for p in created["partitions"]] == [[1, 2], [2, 3]]
    assert admin.describe_topics(["placed", "missing-topic"], missing_ok=True).keys() == {"placed"}
    with pytest.raises(KafkaAdminError, match="topic 'missing-topic' does not exist"):
        admin.describe_topics(["placed", "missing-topic"])


def test_broker_configs_per_broker_and_cluster_wide(admin):
    # Brokers apply dynamic configs when ZooKeeper notifies them, so reads are polled.
    def configs_become(broker_id, expected):
        wait_for(lambda: admin.broker_configs(broker_id) == expected, f"broker {broker_id!r} configs {expected}")

    assert admin.alter_broker_config(2, set_configs={"log.retention.ms": 86400000}) == {
        "log.retention.ms": {"old": None, "new": "86400000"}}
    assert admin.alter_broker_config("", set_configs={"message.max.bytes": 2000000}) == {
        "message.max.bytes": {"old": None, "new": "2000000"}}
    configs_become(2, {"log.retention.ms": "86400000"})
    configs_become(None, {"message.max.bytes": "2000000"})
    assert admin.broker_configs(1) == {}
    assert admin.alter_broker_config(2, set_configs={"log.retention.ms": 86400000}) == {}
    assert admin.alter_broker_config(2, delete_keys=["log.retention.ms"]) == {
        "log.retention.ms": {"old": "86400000", "new": None}}
    assert admin.alter_broker_config(None, delete_keys=["message.max.bytes"]) == {
        "message.max.bytes": {"old": "2000000", "new": None}}
    configs_become(2, {})
    configs_become("", {})
    with pytest.raises(KafkaAdminError, match="Cannot update these configs dynamically"):
        admin.alter_broker_config(1, set_configs={"log.dirs": "/elsewhere"})


def test_health_is_healthy_on_a_full_cluster(admin):
    report = admin.health(expected_brokers=[1, 2, 3])
    assert report["verdict"] == "healthy", report["reasons"]
    assert report["reasons"] == [] and report["under_replicated"] == [] and report["offline"] == []
    assert [b["id"] for b in report["brokers"]] == [1, 2, 3]
    assert report["controller_id"] in (1, 2, 3)


def test_health_reports_missing_expected_broker(admin):
    report = admin.health(expected_brokers=[1, 2, 3, 7])
    assert report["verdict"] == "degraded"
    assert report["missing_brokers"] == [7]
    assert "expected broker(s) not registered: 7" in report["reasons"]


# --------------------------------------------------------------------------- SCRAM users
def test_scram_user_upsert_authenticate_delete(admin, cluster):
    admin.create_topic("scram-check", 1, 3)
    password = "app-secret-1"
    result = admin.upsert_scram_user("app1", password)
    assert result == {"user": "app1", "mechanism": "SCRAM-SHA-512", "iterations": 4096, "created": True}
    assert admin.list_scram_users()["app1"] == {"SCRAM-SHA-512": {"iterations": 4096}}
    # Brokers learn about the credential through a ZooKeeper notification: wait for all three.
    wait_for(lambda: can_authenticate(cluster, "app1", password), "app1 to authenticate on every broker")
    assert not can_authenticate(cluster, "app1", "not-the-password")

    # With a producer ACL (given as a pillar role entry) the new user can actually write.
    assert admin.add_acls([{"role": "producer", "principal": "User:app1", "topic": "scram-check"}]) == \
        acl.role_bindings("User:app1", "producer", "scram-check")
    produce(cluster, "scram-check", 3, username="app1", password=password)

    # Rotation: a new iteration count is visible, the old password stops working.
    assert admin.upsert_scram_user("app1", "app-secret-2", iterations=8192)["created"] is False
    assert admin.list_scram_users()["app1"] == {"SCRAM-SHA-512": {"iterations": 8192}}
    wait_for(lambda: can_authenticate(cluster, "app1", "app-secret-2"), "the rotated password")

    assert admin.delete_scram_user("app1") == ["SCRAM-SHA-512"]
    assert "app1" not in admin.list_scram_users()
    assert admin.delete_scram_user("app1") == []
    wait_for(lambda: not can_authenticate(cluster, "app1", "app-secret-2"), "app1 to be refused")


class CollectingHandler(logging.Handler):
    """Every log line, formatted, at every level (kafka-python logs its config at DEBUG)."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def all_logs():
    handler = CollectingHandler()
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


def test_wrong_password_and_unreachable_servers_give_clear_errors(cluster, admin, all_logs):
    secret = "definitely-wrong-password"
    started = time.monotonic()
    with pytest.raises(KafkaAdminError) as failure:
        with KafkaAdmin(cluster.settings(password=secret)) as wrong:
            wrong.list_topics()
    assert "authentication failed for user 'admin'" in str(failure.value)
    assert time.monotonic() - started < 10, "an authentication failure must not wait for the bootstrap timeout"
    assert secret not in str(failure.value)
    # Neither the client configuration nor a credential request leaks into DEBUG logs.
    admin.upsert_scram_user("log-probe", "log-probe-secret")
    admin.delete_scram_user("log-probe")
    text = "\n".join(all_logs)
    assert "Starting KafkaAdminClient" in text and "AlterUserScramCredentialsRequest" in text
    for leaked in (secret, cluster.admin_password, "log-probe-secret"):
        assert leaked not in text
    assert secret not in repr(cluster.settings(password=secret))

    unreachable = ConnectionSettings(bootstrap_servers=["127.0.0.1:1", "127.0.0.1:2"], username="admin",
                                     password=secret, ca_file=str(cluster.ca_file), bootstrap_timeout_ms=2000)
    with pytest.raises(KafkaAdminError, match=r"cannot reach any bootstrap server \(127\.0\.0\.1:1, 127\.0\.0\.1:2\)"):
        KafkaAdmin(unreachable).list_topics()
    report = KafkaAdmin(unreachable).health()
    assert report["verdict"] == "unavailable" and "cannot reach" in report["reasons"][0]


# --------------------------------------------------------------------------- ACLs
def test_acls_add_list_remove_match_kafka_acls_cli(admin, cluster):
    literal_read = acl.AclBinding("TOPIC", "invoices", "LITERAL", "User:billing", "*", "READ", "ALLOW")
    prefixed_read = acl.AclBinding("TOPIC", "invoices", "PREFIXED", "User:billing", "*", "READ", "ALLOW")
    other_principal = acl.AclBinding("TOPIC", "invoices", "LITERAL", "User:audit", "*", "READ", "ALLOW")
    group_read = acl.AclBinding("GROUP", "billing-", "PREFIXED", "User:billing", "*", "READ", "ALLOW")
    wanted = [literal_read, prefixed_read, other_principal, group_read]

    assert admin.add_acls(wanted) == sorted(wanted)
    assert admin.add_acls(wanted) == []  # idempotent
    assert admin.list_acls(principal="User:billing") == sorted([literal_read, prefixed_read, group_read])
    assert admin.list_acls(resource_type="GROUP", principal="user:billing") == [group_read]
    assert admin.list_acls(resource_type="TOPIC", resource_name="invoices") == sorted(
        [literal_read, prefixed_read, other_principal])
    assert set(wanted) <= kafka_acls_cli_listing(cluster)

    # Exact removal: the PREFIXED twin and the other principal's binding survive.
    assert admin.remove_acls([literal_read]) == [literal_read]
    assert admin.remove_acls([literal_read]) == []
    remaining = set(admin.list_acls(resource_type="TOPIC", resource_name="invoices"))
    assert remaining == {prefixed_read, other_principal}
    listed = kafka_acls_cli_listing(cluster)
    assert literal_read not in listed and {prefixed_read, other_principal, group_read} <= listed

    assert admin.remove_acls([prefixed_read, other_principal, group_read], dry_run=True) == sorted(
        [prefixed_read, other_principal, group_read])
    assert admin.remove_acls([prefixed_read, other_principal, group_read]) == sorted(
        [prefixed_read, other_principal, group_read])
    assert admin.list_acls(principal="User:audit") == []


# --------------------------------------------------------------------------- consumer groups
def test_consumer_group_lag_after_partial_consumption(admin, cluster):
    admin.create_topic("lagging", 1, 3)
    produce(cluster, "lagging", 10)
    consumer = KafkaConsumer(group_id="lag-group", enable_auto_commit=False, auto_offset_reset="earliest",
                             bootstrap_timeout_ms=10000,
                             **cluster.client_kwargs("admin", cluster.admin_password))
    try:
        consumer.assign([TopicPartition("lagging", 0)])
        consumed = 0
        deadline = time.monotonic() + WAIT_SECONDS
        while consumed < 4 and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000, max_records=4 - consumed).values():
                consumed += len(records)
        assert consumed == 4
        consumer.commit()
    finally:
        consumer.close()

    assert "lag-group" in admin.list_groups()
    # The commit created Kafka's offsets topic: internal, so listed only on request.
    assert "__consumer_offsets" in admin.list_topics(include_internal=True)
    assert "__consumer_offsets" not in admin.list_topics()
    assert admin.describe_topics(["__consumer_offsets"])["__consumer_offsets"]["internal"] is True
    group = admin.describe_group("lag-group")
    assert group["state"] == "Empty" and group["members"] == []
    assert group["offsets"] == [{"topic": "lagging", "partition": 0, "committed": 4, "end": 10, "lag": 6,
                                 "member_id": None}]
    assert group["total_lag"] == 6
    with pytest.raises(KafkaAdminError, match="consumer group 'no-such-group' does not exist"):
        admin.describe_group("no-such-group")


# --------------------------------------------------------------------------- reassignments
def test_reassignment_sets_throttles_then_verify_clears_them(admin, cluster):
    admin.create_topic("moving", None, None, replica_assignment=[[1, 2]])
    produce(cluster, "moving", 40, size=10000)
    plan = {("moving", 0): [2, 3]}

    report = admin.execute_reassignment(plan, throttle_bytes=200000)
    assert report["partitions"] == [{"topic": "moving", "partition": 0, "from": [1, 2], "to": [2, 3]}]
    assert report["brokers"] == [1, 2, 3]
    # The throttle is in place while the move runs (it is set before the move starts).
    for broker in (1, 2, 3):
        configs = admin.broker_configs(broker)
        assert configs["leader.replication.throttled.rate"] == "200000"
        assert configs["follower.replication.throttled.rate"] == "200000"
    topic_configs = admin.topic_configs("moving")
    assert topic_configs["leader.replication.throttled.replicas"] == "0:1,0:2"  # current replicas
    assert topic_configs["follower.replication.throttled.replicas"] == "0:3"  # the new one

    verdicts = []

    def finished():
        verdicts.append(admin.verify_reassignment(plan))
        return verdicts[-1]["done"]

    wait_for(finished, "the reassignment to finish")
    assert verdicts[-1] == {"done": True, "pending": [], "throttles_cleared": True}
    assert all(entry["state"] == "in progress" for verdict in verdicts[:-1] for entry in verdict["pending"])
    assert admin.describe_topics(["moving"])["moving"]["partitions"][0]["replicas"] == [2, 3]
    assert admin.list_reassignments() == []
    for broker in (1, 2, 3):
        assert not set(BROKER_THROTTLE_KEYS) & set(admin.broker_configs(broker))
    assert not set(TOPIC_THROTTLE_KEYS) & set(admin.topic_configs("moving"))
    # Already on target: nothing to do.
    assert admin.execute_reassignment(plan)["partitions"] == []


def test_cancel_reassignment_restores_replicas_and_clears_throttles(admin, cluster):
    admin.create_topic("stuck", None, None, replica_assignment=[[1, 2]])
    # More than one replica fetch (1 MiB) at 10 kB/s keeps the move running for minutes.
    produce(cluster, "stuck", 300, size=10000)
    plan = [{"topic": "stuck", "partition": 0, "replicas": [2, 3]}]
    admin.execute_reassignment({"version": 1, "partitions": plan}, throttle_bytes=10000)
    assert [(item["topic"], item["adding"]) for item in admin.list_reassignments()] == [("stuck", [3])]
    assert admin.verify_reassignment(plan)["done"] is False
    assert admin.broker_configs(3)["follower.replication.throttled.rate"] == "10000"

    assert admin.cancel_reassignment([("stuck", 0)]) == [{"topic": "stuck", "partition": 0}]
    wait_for(lambda: admin.list_reassignments() == [], "the cancelled move to disappear")
    assert sorted(admin.describe_topics(["stuck"])["stuck"]["partitions"][0]["replicas"]) == [1, 2]
    assert not set(TOPIC_THROTTLE_KEYS) & set(admin.topic_configs("stuck"))
    assert not set(BROKER_THROTTLE_KEYS) & set(admin.broker_configs(3))
    assert admin.cancel_reassignment([("stuck", 0)]) == []


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("call, argument, message", [
    (lambda a: a.create_topic("bad-partitions", 0, 1), "partitions", "must be >= 1"),
    (lambda a: a.create_topic("bad-rf", 1, 4), "replication_factor", "larger than the number of brokers (3)"),
    (lambda a: a.create_topic("bad name!", 1, 1), "name", "not a legal topic name"),
    (lambda a: a.create_topic("bad-config", 1, 1, config={"retention.ms": None}), "config['retention.ms']",
     "delete_keys"),
    (lambda a: a.delete_topic("__consumer_offsets"), "name", "allow_internal=True"),
    (lambda a: a.delete_topic("__transaction_state"), "name", "internal Kafka topic"),
    (lambda a: a.incremental_alter_configs("TOPIC", "placed", {"retention.ms": ("REPLACE", "1")}),
     "operations['retention.ms']", "unknown config operation 'REPLACE'"),
    (lambda a: a.alter_topic_config("placed", set_configs={"retention.ms": 1}, delete_keys=["retention.ms"]),
     "delete_keys", "also appear in set_configs"),
    (lambda a: a.list_acls(principal="billing"), "principal", "must look like 'User:<name>'"),
    (lambda a: a.list_acls(principal="Group:ops"), "principal", "not supported"),
    (lambda a: a.list_acls(resource_type="QUEUE"), "resource_type", "must be one of"),
    (lambda a: a.add_acls([{"resource_type": "TOPIC", "resource_name": "t", "operation": "READ"}]),
     "bindings:0:principal", "is required"),
    (lambda a: a.add_acls("User:billing READ orders"), "bindings", "must be a list"),
    (lambda a: a.create_partitions("placed", 1), "total", "cannot remove partitions"),
    (lambda a: a.execute_reassignment({("placed", 0): [1, 1]}), "plan[placed-0]", "lists a broker twice"),
    (lambda a: a.execute_reassignment({("placed", 0): [1, 9]}), "plan[placed-0]", "not in the cluster"),
    (lambda a: a.execute_reassignment({("placed", 5): [1, 2]}), "plan", "has no partition 5"),
    (lambda a: a.upsert_scram_user("someone", ""), "password", "non-empty"),
    (lambda a: a.upsert_scram_user("someone", "pw", iterations=100), "iterations", "between 4096 and 16384"),
    (lambda a: a.upsert_scram_user("someone", "pw", mechanism="MD5"), "mechanism", "must be one of"),
    (lambda a: a.broker_configs(-1), "broker_id", "must be >= 0"),
    (lambda a: a.health(expected_brokers="1,2"), "expected_brokers", "list of broker ids"),
])
def test_bad_input_names_the_argument(admin, call, argument, message):
    with pytest.raises(KafkaInputError) as failure:
        call(admin)
    assert failure.value.argument == argument
    assert message in str(failure.value)
    assert str(failure.value).startswith(f"{argument}: ")


def test_connection_settings_validation_and_secret_hiding():
    settings = ConnectionSettings(bootstrap_servers="h1:9093,h2:9093", username="admin", password="s3cr3t-value")
    assert settings.bootstrap_servers == ["h1:9093", "h2:9093"]
    assert "s3cr3t-value" not in repr(settings)
    with pytest.raises(KafkaInputError, match="^password: is required with SASL_SSL$"):
        ConnectionSettings(bootstrap_servers=["h1:9093"], username="admin")
    with pytest.raises(KafkaInputError, match="^bootstrap_servers: entries must look like 'host:port'"):
        ConnectionSettings(bootstrap_servers=["h1"], username="admin", password="x")
    with pytest.raises(KafkaInputError, match="^security_protocol: must be one of"):
        ConnectionSettings(bootstrap_servers=["h1:1"], security_protocol="TLS")
    with pytest.raises(KafkaInputError, match="^cert_file: cert_file and key_file must be given together"):
        ConnectionSettings(bootstrap_servers=["h1:1"], security_protocol="SSL", cert_file="/c.pem")


# --------------------------------------------------------------------------- last: a broker dies
def test_health_degraded_when_a_broker_dies_then_recovers(admin, cluster):
    admin.create_topic("strict", 2, 3, config={"min.insync.replicas": 3})
    assert admin.health(expected_brokers=[1, 2, 3])["verdict"] == "healthy"

    cluster.kill_broker(3)
    try:
        report = wait_for(lambda: (lambda r: r if r["verdict"] != "healthy" and r["under_replicated"] else None)(
            admin.health(expected_brokers=[1, 2, 3])), "health to notice the dead broker", timeout=45)
        assert report["verdict"] == "degraded"
        assert report["missing_brokers"] == [3]
        assert [b["id"] for b in report["brokers"]] == [1, 2]
        under_replicated = {(e["topic"], e["partition"]) for e in report["under_replicated"]}
        assert {("strict", 0), ("strict", 1), ("placed", 1)} <= under_replicated
        assert ("placed", 0) not in under_replicated  # replicas [1, 2] never involved broker 3
        assert all(3 not in e["isr"] and 3 in e["replicas"] for e in report["under_replicated"])
        # min.insync.replicas comes from the topic config (3) for 'strict', the broker default (1) elsewhere.
        assert {(e["topic"], e["min_insync_replicas"]) for e in report["under_min_isr"]} == {("strict", 3)}
        assert any("under-replicated" in reason and "strict-0" in reason for reason in report["reasons"])
        assert any("below min.insync.replicas" in reason for reason in report["reasons"])
    finally:
        cluster.start_broker(3)

    wait_for(lambda: admin.health(expected_brokers=[1, 2, 3])["verdict"] == "healthy", "the cluster to recover",
             timeout=90)
    # Leadership moved away from broker 3 while it was down; the preferred election brings it back
    # (unless the broker's own periodic rebalance got there first).
    elected = admin.elect_preferred_leaders()
    assert elected["failed"] == []
    wait_for(lambda: all(p["leader"] == p["replicas"][0] for topic in admin.describe_topics().values()
                         for p in topic["partitions"]), "preferred leaders")
    assert admin.elect_preferred_leaders([("strict", 0), ("strict", 1)]) == {
        "elected": [], "not_needed": 2, "failed": []}

"""Smoke test of the built artifacts: a real ZooKeeper and a real broker from the tarballs.

Both run through the packaged launchers (``zkServer.sh start-foreground``, ``kafka-server-start.sh``),
which ``exec`` java, so the process we start is the JVM itself; no supervisor is involved. Everything
binds 127.0.0.1 on free ports, uses PLAINTEXT and small heaps. The broker also carries the JMX
exporter javaagent from the same build.
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

LOOPBACK = "127.0.0.1"
SMALL_HEAP = "-Xmx256m"
STARTUP_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 30
CLI_ENV = {"KAFKA_HEAP_OPTS": "-Xmx128m"}


def free_port():
    """A TCP port that is free on the loopback address right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def four_letter_word(port, word):
    """Send a ZooKeeper four-letter command and return its answer ('' if the server is not up)."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=2) as sock:
            sock.sendall(word.encode())
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
            return b"".join(chunks).decode()
    except OSError:
        return ""


def port_open(port):
    """True once something accepts TCP connections on the loopback port."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=2):
            return True
    except OSError:
        return False


def http_get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


class JavaService:
    """A server started from a packaged launcher in its own process group, output to a log file."""

    def __init__(self, name, command, env, log_path):
        self.name = name
        self.log_path = Path(log_path)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([str(part) for part in command], stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=dict(os.environ, **env),
                                            start_new_session=True)

    def alive(self):
        return self.process.poll() is None

    def log_tail(self, lines=60):
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_until(self, ready, what, timeout=STARTUP_TIMEOUT_SECONDS):
        """Poll ``ready()`` until true; fail with the log tail if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                pytest.fail(f"{self.name} exited with {self.process.returncode} before {what}:\n{self.log_tail()}")
            if ready():
                return
            time.sleep(0.5)
        pytest.fail(f"{self.name}: no {what} within {timeout}s:\n{self.log_tail()}")

    def stop(self):
        """SIGTERM the whole process group, SIGKILL it if it lingers."""
        if not self.alive():
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def zookeeper(extract_artifact, tmp_path_factory):
    """One standalone ZooKeeper with its AdminServer, from the ZooKeeper tarball."""
    home = extract_artifact("zookeeper")
    work = tmp_path_factory.mktemp("zookeeper")
    client_port, admin_port = free_port(), free_port()
    config = work / "zoo.cfg"
    config.write_text("\n".join([
        "tickTime=2000",
        f"dataDir={work / 'data'}",
        f"clientPort={client_port}",
        f"clientPortAddress={LOOPBACK}",
        "admin.enableServer=true",
        f"admin.serverAddress={LOOPBACK}",
        f"admin.serverPort={admin_port}",
        "4lw.commands.whitelist=ruok,srvr",
        "",
    ]))
    service = JavaService("zookeeper", [home / "bin" / "zkServer.sh", "start-foreground", config],
                          {"ZK_SERVER_HEAP": "256", "ZOO_LOG_DIR": str(work / "logs")}, work / "console.log")
    try:
        service.wait_until(lambda: four_letter_word(client_port, "ruok") == "imok", "answer to ruok")
        yield {"home": home, "port": client_port, "admin_port": admin_port, "service": service}
    finally:
        service.stop()


@pytest.fixture(scope="module")
def kafka_broker(extract_artifact, artifact_manifest, zookeeper, tmp_path_factory):
    """One broker (id 0, PLAINTEXT on 127.0.0.1) from the Kafka tarball, with the JMX exporter agent."""
    home = extract_artifact("kafka")
    work = tmp_path_factory.mktemp("kafka")
    port, exporter_port = free_port(), free_port()
    bootstrap = f"{LOOPBACK}:{port}"
    properties = work / "server.properties"
    properties.write_text("\n".join([
        "broker.id=0",
        f"listeners=PLAINTEXT://{bootstrap}",
        f"advertised.listeners=PLAINTEXT://{bootstrap}",
        f"zookeeper.connect={LOOPBACK}:{zookeeper['port']}",
        f"log.dirs={work / 'data'}",
        "num.partitions=1",
        "offsets.topic.replication.factor=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=false",
        # An authorizer that lets everyone in, so kafka-acls.sh has something to talk to.
        "authorizer.class.name=kafka.security.authorizer.AclAuthorizer",
        "allow.everyone.if.no.acl.found=true",
        "",
    ]))
    exporter_config = work / "jmx-exporter.yaml"
    exporter_config.write_text("lowercaseOutputName: true\nrules:\n  - pattern: \".*\"\n")
    exporter_jar = unquote(urlparse(artifact_manifest["jmx_exporter"]["source"]).path)
    env = {
        "KAFKA_HEAP_OPTS": SMALL_HEAP,
        "LOG_DIR": str(work / "logs"),
        "KAFKA_OPTS": f"-javaagent:{exporter_jar}={LOOPBACK}:{exporter_port}:{exporter_config}",
    }
    service = JavaService("kafka", [home / "bin" / "kafka-server-start.sh", properties], env, work / "console.log")

    def cluster_has_broker():
        # The listener opens last in broker startup; probing it first keeps the Kafka client from
        # logging a burst of refused connections.
        if not port_open(port):
            return False
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        except Exception:  # noqa: BLE001 - any connection error just means "not yet"
            return False
        try:
            brokers = admin.describe_cluster()["brokers"]
            return any(broker.get("broker_id", broker.get("node_id")) == 0 for broker in brokers)
        except Exception:  # noqa: BLE001
            return False
        finally:
            admin.close()

    try:
        service.wait_until(cluster_has_broker, "broker in the cluster metadata")
        yield {"home": home, "bootstrap": bootstrap, "exporter_port": exporter_port, "service": service}
    finally:
        service.stop()


@pytest.fixture(scope="module")
def smoke_topic(kafka_broker):
    """A one-partition topic created through the AdminClient."""
    name = "smoke-topic"
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker["bootstrap"], request_timeout_ms=30000)
    try:
        admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)], timeout_ms=30000)
    finally:
        admin.close()
    return name


def run_packaged(script, *args, stdin=None):
    """Run a packaged bin/ script; return the CompletedProcess (text)."""
    return subprocess.run([str(script), *map(str, args)], capture_output=True, text=True, timeout=120,
                          input=stdin, env=dict(os.environ, **CLI_ENV))


def test_zookeeper_admin_server_answers(zookeeper):
    status, body = http_get(f"http://{LOOPBACK}:{zookeeper['admin_port']}/commands/ruok")
    assert status == 200
    answer = json.loads(body)
    assert answer["command"] == "ruok" and answer["error"] is None


def test_produce_consume_round_trip(kafka_broker, smoke_topic):
    producer = KafkaProducer(bootstrap_servers=kafka_broker["bootstrap"], acks="all")
    try:
        producer.send(smoke_topic, key=b"smoke-key", value=b"hello from the smoke test").get(timeout=30)
    finally:
        producer.close()

    consumer = KafkaConsumer(smoke_topic, bootstrap_servers=kafka_broker["bootstrap"], group_id="smoke-group",
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=30000)
    try:
        received = next(iter(consumer))
    finally:
        consumer.close()
    assert (received.key, received.value) == (b"smoke-key", b"hello from the smoke test")


def test_packaged_kafka_topics_lists_the_topic(kafka_broker, smoke_topic):
    result = run_packaged(kafka_broker["home"] / "bin" / "kafka-topics.sh",
                          "--bootstrap-server", kafka_broker["bootstrap"], "--list")
    assert result.returncode == 0, result.stderr
    assert smoke_topic in result.stdout.split()


def test_packaged_zookeeper_shell_sees_the_broker(kafka_broker, zookeeper):
    result = run_packaged(kafka_broker["home"] / "bin" / "zookeeper-shell.sh",
                          f"{LOOPBACK}:{zookeeper['port']}", "ls", "/brokers/ids")
    assert result.returncode == 0, result.stderr
    assert "[0]" in result.stdout.splitlines()


def test_jmx_exporter_serves_broker_metrics(kafka_broker):
    status, body = http_get(f"http://{LOOPBACK}:{kafka_broker['exporter_port']}/metrics")
    assert status == 200
    assert "kafka_server_" in body


def test_packaged_zkcli_reads_the_broker_registration(zookeeper, kafka_broker):
    result = run_packaged(zookeeper["home"] / "bin" / "zkCli.sh", "-server", f"{LOOPBACK}:{zookeeper['port']}",
                          "get", "/brokers/ids/0")
    assert result.returncode == 0, result.stderr
    registration = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    assert registration["endpoints"] == [f"PLAINTEXT://{kafka_broker['bootstrap']}"]


# Read-only invocations that prove each packaged admin tool starts and talks to the broker.
ADMIN_TOOL_CALLS = {
    "kafka-configs.sh": (["--describe", "--entity-type", "brokers", "--entity-name", "0"], "broker 0"),
    "kafka-acls.sh": (["--list"], ""),
    "kafka-consumer-groups.sh": (["--list"], ""),
    "kafka-reassign-partitions.sh": (["--list"], "No partition reassignments found."),
    "kafka-broker-api-versions.sh": ([], "(id: 0 rack: null) -> ("),
    "kafka-leader-election.sh": (["--election-type", "preferred", "--all-topic-partitions"], ""),
}


@pytest.mark.parametrize("script", sorted(ADMIN_TOOL_CALLS))
def test_packaged_admin_tool_talks_to_the_broker(kafka_broker, script):
    args, expected_output = ADMIN_TOOL_CALLS[script]
    result = run_packaged(kafka_broker["home"] / "bin" / script, "--bootstrap-server", kafka_broker["bootstrap"], *args)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    assert expected_output in result.stdout


def test_packaged_console_round_trip(kafka_broker):
    bin_dir, bootstrap = kafka_broker["home"] / "bin", kafka_broker["bootstrap"]
    created = run_packaged(bin_dir / "kafka-topics.sh", "--bootstrap-server", bootstrap, "--create",
                           "--topic", "cli-topic", "--partitions", "1", "--replication-factor", "1")
    assert created.returncode == 0, created.stderr
    produced = run_packaged(bin_dir / "kafka-console-producer.sh", "--bootstrap-server", bootstrap,
                            "--topic", "cli-topic", stdin="hello from the console\n")
    assert produced.returncode == 0, produced.stderr
    consumed = run_packaged(bin_dir / "kafka-console-consumer.sh", "--bootstrap-server", bootstrap,
                            "--topic", "cli-topic", "--from-beginning", "--max-messages", "1", "--timeout-ms", "30000")
    assert consumed.returncode == 0, consumed.stderr
    assert consumed.stdout.splitlines() == ["hello from the console"]

"""Smoke test of the built artifacts: a real ZooKeeper and a real broker from the tarballs.

Both run through the packaged launchers (``zkServer.sh start-foreground``, ``kafka-server-start.sh``),
which ``exec`` java, so the process we start is the JVM itself; no supervisor is involved. Everything
binds 127.0.0.1 on free ports, uses PLAINTEXT and small heaps. The broker also carries the JMX
exporter javaagent from the same build.

Then every ``bin/`` script of both Kafka tarballs (3.9.2 and 4.x) is run the way a user first
meets it (``--help``, ``--version`` or its no-argument usage) and must exit as the real tool does
with its own usage text; the stop scripts run for real inside a private PID namespace; a KRaft
node starts from the 4.x tarball's sample config and a ZooKeeper from 3.9.2's.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlparse

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from lab import artifacts, kafka_release
from tests.functional.processes import Service, port_open

LOOPBACK = "127.0.0.1"
SMALL_HEAP = "-Xmx256m"
STARTUP_TIMEOUT_SECONDS = 90
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




def http_get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


class JavaService(Service):
    """A server started from a packaged launcher: fails at once if ``ready()`` raises."""

    def __init__(self, name, command, env, log_path):
        super().__init__(name, command, log_path, env=env, startup_timeout=STARTUP_TIMEOUT_SECONDS, log_lines=60,
                         ready_may_raise=False)


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
        # "ruok" answers imok as soon as the process runs; "srvr" reports a Mode only once the
        # server serves requests, which is what the AdminServer's ruok checks.
        service.wait_until(lambda: "Mode: " in four_letter_word(client_port, "srvr"), "a serving ZooKeeper")
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


# --------------------------------------------------------------------------- every bin/ script
# Help output only: a JVM tuned for start-up, not throughput. Two at a time keeps both lines'
# ~90 JVMs within a couple of minutes on a two-core machine.
FAST_START_JVM = "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true"
PROBE_WORKERS = 2
PROBE_TIMEOUT_SECONDS = 120


class Probe(NamedTuple):
    """Run a script with ``args``; it must exit ``rc`` and print ``expect`` ({version}: the line's
    version) on stdout or stderr. Where the lines differ, either is a {manifest key: value} dict."""

    args: tuple
    rc: object
    expect: str


def help_probe(expect, rc=1):
    """``--help``: most Kafka tools print their options and exit 1 (joptsimple's printUsageAndExit)."""
    return [Probe(("--help",), rc, expect)]


def usage_probe(expect="usage: "):
    """No argument: the wrapper's own usage line, exit 1, as the Apache scripts do."""
    return [Probe((), 1, expect)]


# What each script prints, taken from the real tools (their main classes are Apache's own).
HELP_PROBES = {
    "connect-distributed.sh": help_probe("Usage: ConnectDistributed worker.properties"),
    "connect-mirror-maker.sh": help_probe("usage: connect-mirror-maker [-h] [--clusters CLUSTER", rc=255),
    "connect-plugin-path.sh": help_probe("usage: connect-plugin-path [-h] {list,sync-manifests}"),
    "connect-standalone.sh": help_probe("Usage: ConnectStandalone worker.properties [connector1.properties"),
    "kafka-acls.sh": help_probe("This tool helps to manage acls on kafka."),
    "kafka-broker-api-versions.sh": help_probe("This tool helps to retrieve broker version information."),
    "kafka-client-metrics.sh": help_probe("This tool helps to manipulate and describe client metrics"),
    "kafka-cluster.sh": help_probe("usage: kafka-cluster [-h] {cluster-id,unregister"),
    "kafka-configs.sh": help_probe("This tool helps to manipulate and describe entity config"),
    "kafka-console-consumer.sh": help_probe("This tool helps to read data from Kafka topics and outputs it"),
    "kafka-console-producer.sh": help_probe("This tool helps to read data from standard input and publish it"),
    "kafka-console-share-consumer.sh": help_probe("This tool helps to read data from Kafka topics using share groups"),
    "kafka-consumer-groups.sh": help_probe("This tool helps to list all consumer groups"),
    "kafka-consumer-perf-test.sh": help_probe("This tool is used to verify the consumer performance."),
    "kafka-delegation-tokens.sh": help_probe("This tool helps to create, renew, expire, or describe delegation"),
    "kafka-delete-records.sh": help_probe("This tool helps to delete records of the given partitions"),
    "kafka-dump-log.sh": help_probe("This tool helps to parse a log file and dump its contents"),
    # EndToEndLatency takes positional arguments only; any other call prints its usage.
    "kafka-e2e-latency.sh": help_probe({"kafka": "USAGE: java org.apache.kafka.tools.EndToEndLatency broker_list topic",
                                        "kafka4": "Usage: bootstrap-server topic num-records producer-acks"}),
    "kafka-features.sh": help_probe("usage: kafka-features [-h]", rc={"kafka": 1, "kafka4": 0}),
    "kafka-get-offsets.sh": help_probe("An interactive shell for getting topic-partition offsets."),
    "kafka-groups.sh": help_probe("This tool helps to list groups of all types."),
    "kafka-jmx.sh": help_probe("Dump JMX values to standard output."),
    "kafka-leader-election.sh": help_probe("This tool attempts to elect a new leader for a set of topic"),
    "kafka-log-dirs.sh": help_probe("This tool helps to query log directory usage on the specified brokers."),
    "kafka-metadata-quorum.sh": help_probe("usage: kafka-metadata-quorum [-h]", rc=0),
    "kafka-metadata-shell.sh": help_probe("usage: kafka-metadata-shell [-h]"),
    "kafka-mirror-maker.sh": help_probe("This tool helps to continuously copy data between two Kafka clusters."),
    "kafka-producer-perf-test.sh": help_probe("--num-records NUM-RECORDS"),
    "kafka-reassign-partitions.sh": help_probe("This tool helps to move topic partitions between replicas."),
    "kafka-replica-verification.sh": help_probe("Validate that all replicas for a set of topics have the same data."),
    "kafka-run-class.sh": usage_probe() + [Probe(("org.apache.kafka.tools.TopicCommand", "--version"), 0, "{version}")],
    "kafka-server-start.sh": usage_probe() + [Probe(("--version",), 0, "{version}")],
    "kafka-share-consumer-perf-test.sh": help_probe("This tool is used to verify the share consumer performance."),
    "kafka-share-groups.sh": help_probe("This tool helps to list, describe, reset and delete share groups."),
    "kafka-storage.sh": help_probe("usage: kafka-storage [-h]", rc=0),
    "kafka-streams-application-reset.sh": help_probe("This tool helps to quickly reset an application"),
    "kafka-streams-groups.sh": help_probe("This tool helps to list, or describe streams groups."),
    "kafka-topics.sh": help_probe("This tool helps to create, delete, describe, or change a topic."),
    "kafka-transactions.sh": help_probe("usage: kafka-transactions.sh [-h]"),
    "kafka-verifiable-consumer.sh": help_probe("usage: verifiable-consumer [-h] --topic TOPIC"),
    "kafka-verifiable-producer.sh": help_probe("usage: verifiable-producer [-h] --topic TOPIC"),
    "kafka-verifiable-share-consumer.sh": help_probe("usage: verifiable-share-consumer"),
    # The dispatcher's own help, then each action's main class.
    "trogdor.sh": [Probe(("help",), 0, "agent-client  talk to an agent"),
                   Probe(("agent", "--help"), 1, "usage: trogdor-agent [-h] --agent.config CONFIG"),
                   Probe(("coordinator", "--help"), 1, "usage: trogdor-coordinator [-h] --coordinator.config"),
                   Probe(("client", "--help"), 1, "usage: trogdor-coordinator-client"),
                   Probe(("agent-client", "--help"), 1, "usage: trogdor-agent-client [-h]")],
    "zookeeper-security-migration.sh": help_probe("ZooKeeper Migration Tool Help."),
    # QuorumPeerMain and ZooKeeperMain have no --help (they would read "--help" as a config file or
    # a host): their no-argument usage here, a real server and shell in the tests above and below.
    "zookeeper-server-start.sh": usage_probe("usage: "),
    "zookeeper-shell.sh": usage_probe("usage: "),
}
# Running them signals every matching JVM of the machine, which the lab shares with other runs:
# they are exercised in a private PID namespace instead (test_stop_scripts_...).
STOP_SCRIPTS = {"kafka-server-stop.sh", "zookeeper-server-stop.sh"}

KAFKA_KEYS = [line.key for line in kafka_release.LINES]


def probe_env(log_dir):
    return dict(os.environ, KAFKA_HEAP_OPTS="-Xmx128m", KAFKA_JVM_PERFORMANCE_OPTS=FAST_START_JVM,
                LOG_DIR=str(log_dir))


def run_probe(home, script, probe, env, key, version):
    """Problems with one probe of a script (empty: it behaved like the real tool)."""
    command = [str(home / "bin" / script), *probe.args]
    shown = " ".join([script, *probe.args])
    try:
        proc = subprocess.run(command, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                              timeout=PROBE_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return [f"{shown}: no answer within {PROBE_TIMEOUT_SECONDS}s"]
    output = proc.stdout + proc.stderr
    rc = probe.rc[key] if isinstance(probe.rc, dict) else probe.rc
    expect = (probe.expect[key] if isinstance(probe.expect, dict) else probe.expect).replace("{version}", version)
    problems = []
    if proc.returncode != rc:
        problems.append(f"exited {proc.returncode}, the real tool exits {rc}")
    if expect not in output:
        problems.append(f"did not print {expect!r}")
    trouble = artifacts.logging_trouble(output)
    if trouble:
        problems.append(trouble)
    if problems:
        return [f"{shown}: {'; '.join(problems)}:\n{output[-1500:]}"]
    return []


def test_every_shipped_script_has_a_probe():
    for line in kafka_release.LINES:
        scripts = set(kafka_release.bin_scripts(line))
        assert scripts - STOP_SCRIPTS <= set(HELP_PROBES), f"Kafka {line.version}: no probe for " \
            f"{sorted(scripts - STOP_SCRIPTS - set(HELP_PROBES))}"


@pytest.mark.parametrize("key", KAFKA_KEYS)
def test_every_bin_script_answers_like_the_real_tool(extract_artifact, artifact_manifest, key, tmp_path):
    home = extract_artifact(key)
    line = kafka_release.line_by_key(key)
    version = artifact_manifest[key]["version"]
    scripts = sorted(path.name for path in (home / "bin").iterdir())
    assert scripts == sorted(kafka_release.bin_scripts(line))
    assert all(os.access(home / "bin" / script, os.X_OK) for script in scripts)

    env = probe_env(tmp_path / "logs")
    jobs = [(script, probe) for script in scripts if script not in STOP_SCRIPTS for probe in HELP_PROBES[script]]
    started = time.monotonic()
    with ThreadPoolExecutor(PROBE_WORKERS) as pool:
        results = list(pool.map(lambda job: run_probe(home, *job, env, key, version), jobs))
    elapsed = time.monotonic() - started
    failures = [problem for problems in results for problem in problems]
    assert not failures, f"{len(failures)} of {len(jobs)} probes failed:\n\n" + "\n\n".join(failures)
    print(f"Kafka {version}: {len(scripts)} scripts, {len(jobs)} probes in {elapsed:.1f}s")


# Runs as PID 1 of a private PID namespace (with its own /proc), so the stop scripts see only the
# stand-ins it starts: bash processes whose argv[0] is "java" and whose arguments name a main class.
STOP_HARNESS = r"""
import json, subprocess, sys, time

home, work = sys.argv[1], sys.argv[2]


def fake(main_class, *args):
    return subprocess.Popen(["java", "-c", "sleep 120; :", main_class, *args], executable="/bin/bash", cwd=work)


def stop(script, *args):
    proc = subprocess.run([f"{home}/bin/{script}", *args], capture_output=True, text=True, timeout=30)
    time.sleep(0.3)
    return {"rc": proc.returncode, "output": proc.stdout + proc.stderr}


steps = {}
steps["nothing running"] = stop("kafka-server-stop.sh")
combined = fake("kafka.Kafka", "combined.properties")
controller = fake("kafka.Kafka", f"{work}/controller.properties", "--override", "node.id=2")
zookeeper = fake("org.apache.zookeeper.server.quorum.QuorumPeerMain", "zookeeper.properties")
time.sleep(0.3)
steps["--node-id=3"] = stop("kafka-server-stop.sh", "--node-id=3")
steps["--node-id=2"] = stop("kafka-server-stop.sh", "--node-id=2")
steps["--node-id=2"]["alive"] = [combined.poll() is None, controller.poll() is None, zookeeper.poll() is None]
steps["--process-role=controller"] = stop("kafka-server-stop.sh", "--process-role=controller")
steps["--process-role=broker,controller"] = stop("kafka-server-stop.sh", "--process-role=broker,controller")
steps["--process-role=broker,controller"]["alive"] = [combined.poll() is None, zookeeper.poll() is None]
plain = fake("kafka.Kafka", "combined.properties")
time.sleep(0.3)
steps["no filter"] = stop("kafka-server-stop.sh")
steps["no filter"]["alive"] = [plain.poll() is None, zookeeper.poll() is None]
steps["unknown option"] = stop("kafka-server-stop.sh", "--bogus")
if len(sys.argv) > 3:
    steps["zookeeper"] = stop("zookeeper-server-stop.sh")
    steps["zookeeper"]["alive"] = [zookeeper.poll() is None]
    steps["zookeeper again"] = stop("zookeeper-server-stop.sh")
for proc in (combined, controller, zookeeper, plain):
    if proc.poll() is None:
        proc.kill()
print(json.dumps(steps))
"""


@pytest.mark.parametrize("key", KAFKA_KEYS)
def test_stop_scripts_signal_only_the_matching_servers(extract_artifact, key, tmp_path):
    """kafka-server-stop.sh (and 3.9's zookeeper-server-stop.sh) for real, in a PID namespace of
    their own: on the shared machine they would signal every broker of every lab."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare(1) for a private PID namespace")
    home = extract_artifact(key)
    line = kafka_release.line_by_key(key)
    (tmp_path / "combined.properties").write_text("node.id = 1 \nprocess.roles=broker,controller\n")
    (tmp_path / "controller.properties").write_text("node.id=9\nprocess.roles=controller\n")
    (tmp_path / "harness.py").write_text(STOP_HARNESS)
    command = ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, str(tmp_path / "harness.py"),
               str(home), str(tmp_path)]
    if "zookeeper-server-stop.sh" in line.stoppers:
        command.append("zookeeper")
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    steps = json.loads(proc.stdout)

    assert steps["nothing running"] == {"rc": 1, "output": "No kafka server to stop\n"}
    assert steps["--node-id=3"]["rc"] == 1
    # node.id from --override beats the file's; the ZooKeeper stand-in is never touched.
    assert steps["--node-id=2"]["rc"] == 0 and steps["--node-id=2"]["alive"] == [True, False, True]
    assert steps["--process-role=controller"]["rc"] == 1
    # " node.id = 1 " style spacing and a relative config path (the process's cwd) are understood.
    assert steps["--process-role=broker,controller"]["rc"] == 0
    assert steps["--process-role=broker,controller"]["alive"] == [False, True]
    assert steps["no filter"]["rc"] == 0 and steps["no filter"]["alive"] == [False, True]
    assert steps["unknown option"]["rc"] == 2 and "usage:" in steps["unknown option"]["output"]
    if "zookeeper-server-stop.sh" in line.stoppers:
        assert steps["zookeeper"]["rc"] == 0 and steps["zookeeper"]["alive"] == [False]
        assert steps["zookeeper again"] == {"rc": 1, "output": "No zookeeper server to stop\n"}


def patched_sample(home, name, replacements, target):
    """``config/<name>`` of a tarball with ``replacements`` applied (each must match); written to ``target``."""
    text = (home / "config" / name).read_text()
    for old, new in replacements.items():
        assert old in text, f"config/{name} has no {old!r}"
        text = text.replace(old, new)
    target.write_text(text)
    return target


def test_kraft_node_starts_from_the_4x_sample_config(extract_artifact, artifact_manifest, tmp_path):
    """The 4.x tarball as its README says: kafka-storage.sh format, kafka-server-start.sh
    config/server.properties (combined broker + controller), then the KRaft tools against it."""
    home = extract_artifact("kafka4")
    bin_dir = home / "bin"
    broker_port, controller_port = free_port(), free_port()
    bootstrap = f"{LOOPBACK}:{broker_port}"
    config = patched_sample(home, "server.properties", {
        "127.0.0.1:9092": bootstrap, "127.0.0.1:9093": f"{LOOPBACK}:{controller_port}",
        "log.dirs=/tmp/kraft-combined-logs": f"log.dirs={tmp_path / 'data'}"}, tmp_path / "server.properties")
    cluster_id = run_packaged(bin_dir / "kafka-storage.sh", "random-uuid").stdout.strip()
    formatted = run_packaged(bin_dir / "kafka-storage.sh", "format", "--standalone", "-t", cluster_id, "-c", config)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    logs = tmp_path / "logs"
    service = JavaService("kraft", [bin_dir / "kafka-server-start.sh", config],
                          {"KAFKA_HEAP_OPTS": SMALL_HEAP, "LOG_DIR": str(logs)}, tmp_path / "console.log")
    try:
        service.wait_until(lambda: port_open(broker_port), "broker listener")
        quorum = run_packaged(bin_dir / "kafka-metadata-quorum.sh", "--bootstrap-server", bootstrap,
                              "describe", "--status")
        assert quorum.returncode == 0, quorum.stderr
        status = dict(line.split(":", 1) for line in quorum.stdout.splitlines() if ":" in line)
        assert (status["ClusterId"].strip(), status["LeaderId"].strip()) == (cluster_id, "1")
        created = run_packaged(bin_dir / "kafka-topics.sh", "--bootstrap-server", bootstrap, "--create",
                               "--topic", "kraft-topic", "--partitions", "1", "--replication-factor", "1")
        assert created.returncode == 0, created.stderr
        listed = run_packaged(bin_dir / "kafka-topics.sh", "--bootstrap-server", bootstrap, "--list")
        assert "kraft-topic" in listed.stdout.split()
        features = run_packaged(bin_dir / "kafka-features.sh", "--bootstrap-server", bootstrap, "describe")
        assert features.returncode == 0 and "metadata.version" in features.stdout
        # config/log4j2.yaml writes the broker's files under LOG_DIR.
        assert "Kafka Server started" in (logs / "server.log").read_text()
    finally:
        service.stop()
    assert artifacts.logging_trouble(service.log_tail(10_000)) is None


def test_bundled_zookeeper_starts_from_the_39_sample_config(extract_artifact, tmp_path):
    """3.9's zookeeper-server-start.sh with config/zookeeper.properties serves clients."""
    home = extract_artifact("kafka")
    port = free_port()
    config = patched_sample(home, "zookeeper.properties", {
        "clientPort=2181": f"clientPort={port}", "dataDir=/tmp/zookeeper": f"dataDir={tmp_path / 'data'}"},
        tmp_path / "zookeeper.properties")
    service = JavaService("zookeeper-from-kafka", [home / "bin" / "zookeeper-server-start.sh", config],
                          {"KAFKA_HEAP_OPTS": "-Xmx128m", "LOG_DIR": str(tmp_path / "logs")}, tmp_path / "console.log")
    try:
        service.wait_until(lambda: "Mode: standalone" in four_letter_word(port, "srvr"), "answer to srvr")
        listed = run_packaged(home / "bin" / "zookeeper-shell.sh", f"{LOOPBACK}:{port}", "ls", "/")
        assert listed.returncode == 0 and "[zookeeper]" in listed.stdout.splitlines()
    finally:
        service.stop()

"""The monitoring data against real processes and a real Prometheus.

Starts, from the built artifacts and on 127.0.0.1:

- cluster ``zkmode``: one ZooKeeper and one broker in ZooKeeper mode (its controller);
- cluster ``kraft``: one KRaft controller and one KRaft broker;
- the JMX exporter agent in each Kafka JVM with kafkasalt/data/monitoring/jmx_exporter/{broker,controller}.yml;
- Debian's node exporter with a textfile directory holding kafkasalt's textfile metrics;
- Debian's Prometheus with kafkasalt.monitoring.prometheus_config(), the file_sd targets of both
  clusters and alerts.yml, scraping every 10 and evaluating every 2 seconds.

Then checks that each exporter serves the names metrics.yml lists, that the series the rule
simulator derives from the recorded MBeans are the ones the agent serves, that Prometheus scrapes
every generated target with its labels, evaluates every alert rule without error and joins the
textfile metrics with the node exporter's, and that stopping a broker makes KafkaBrokerDown pending.

Needs Java, the artifacts (``make artifacts``) and ``apt-get install prometheus`` (which brings
prometheus-node-exporter); fails, never skips, without them. ZooKeeper is not scraped: the
artifact tarball lacks ZooKeeper's Prometheus metrics provider.
"""

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import yaml
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from kafkasalt import monitoring
from tests.functional.processes import Service as _Service, port_open
from tests.monitoring_support import JmxExporterRules, load_mbeans

LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT_SECONDS = 120
KRAFT_CLUSTER_ID = "a2Fma2FzYWx0LW1vbml0b3I"
# A broker's JMX scrape takes seconds on a busy machine: scrape as scrape.yml's timeout allows,
# evaluate the rules often.
SCRAPE_INTERVAL = "10s"
EVALUATION_INTERVAL = "2s"
# Metrics only a ZooKeeper-mode broker serves, because only it can be the controller.
ZOOKEEPER_CONTROLLER_ONLY = {
    "kafka_controller_controllerstats_leaderelectionrateandtimems_count",
    "kafka_controller_controllerstats_uncleanleaderelections_total",
    "kafka_controller_kafkacontroller_activecontrollercount",
    "kafka_controller_kafkacontroller_fencedbrokercount",
    "kafka_controller_kafkacontroller_globalpartitioncount",
    "kafka_controller_kafkacontroller_globaltopiccount",
    "kafka_controller_kafkacontroller_offlinepartitionscount",
    "kafka_controller_kafkacontroller_zkmigrationstate",
}


def free_port():
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]




def http_get(url, timeout=60):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


def binary(name):
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not on PATH: `apt-get install prometheus` brings prometheus, promtool and "
                    "prometheus-node-exporter", pytrace=False)
    return path


class Service(_Service):
    """A monitored server: a ``ready()`` that raises (a port not open yet) means not ready."""

    def __init__(self, name, command, log_path, env=None):
        super().__init__(name, command, log_path, env=env, startup_timeout=STARTUP_TIMEOUT_SECONDS)


def write_properties(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def mount_point(path):
    path = Path(path).resolve()
    while not os.path.ismount(path):
        path = path.parent
    return str(path)


def prom_escape(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"')


def textfile_line(name, labels, value):
    inner = ",".join(f'{key}="{prom_escape(val)}"' for key, val in labels.items())
    return f"{name}{{{inner}}} {value}"


@pytest.fixture(scope="module")
def lab(extract_artifact, artifact_manifest, tmp_path_factory):
    """Everything the module docstring lists, started in parallel where it can be; stopped at the end."""
    prometheus_bin, node_exporter_bin = binary("prometheus"), binary("prometheus-node-exporter")
    kafka_home, zookeeper_home = extract_artifact("kafka"), extract_artifact("zookeeper")
    agent = unquote(urlparse(artifact_manifest["jmx_exporter"]["source"]).path)
    work = tmp_path_factory.mktemp("monitoring-lab")
    rules = monitoring.data_path("jmx_exporter")
    services = []
    ports = {name: free_port() for name in (
        "zookeeper", "zkbroker", "zkbroker_metrics", "controller", "controller_metrics",
        "kraftbroker", "kraftbroker_metrics", "node", "prometheus")}

    def kafka_env(name, rule_file, metrics_port):
        return {"KAFKA_HEAP_OPTS": "-Xmx256m", "LOG_DIR": str(work / name / "logs"),
                "KAFKA_OPTS": f"-javaagent:{agent}={LOOPBACK}:{metrics_port}:{rules / rule_file}"}

    try:
        # ZooKeeper and the ZooKeeper-mode broker.
        (work / "zookeeper").mkdir()
        zoo_cfg = write_properties(work / "zookeeper" / "zoo.cfg", [
            "tickTime=2000", f"dataDir={work / 'zookeeper' / 'data'}", f"clientPort={ports['zookeeper']}",
            f"clientPortAddress={LOOPBACK}", "admin.enableServer=false"])
        zookeeper = Service("zookeeper", [zookeeper_home / "bin" / "zkServer.sh", "start-foreground", zoo_cfg],
                            work / "zookeeper" / "console.log",
                            {"ZK_SERVER_HEAP": "128", "ZOO_LOG_DIR": str(work / "zookeeper" / "logs")})
        services.append(zookeeper)

        # The KRaft controller and broker (formatted first, then started with the ZooKeeper-mode broker).
        voters = f"1@{LOOPBACK}:{ports['controller']}"
        kraft_common = [f"controller.quorum.voters={voters}", "controller.listener.names=CONTROLLER",
                        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"]
        for name in ("zkbroker", "controller", "kraftbroker"):
            (work / name).mkdir()
        controller_props = write_properties(work / "controller" / "server.properties", [
            "process.roles=controller", "node.id=1", f"listeners=CONTROLLER://{LOOPBACK}:{ports['controller']}",
            f"log.dirs={work / 'controller' / 'data'}", *kraft_common])
        kraftbroker_props = write_properties(work / "kraftbroker" / "server.properties", [
            "process.roles=broker", "node.id=2", f"listeners=PLAINTEXT://{LOOPBACK}:{ports['kraftbroker']}",
            f"log.dirs={work / 'kraftbroker' / 'data'}", "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1", "transaction.state.log.min.isr=1", *kraft_common])
        for props in (controller_props, kraftbroker_props):
            formatted = subprocess.run([kafka_home / "bin" / "kafka-run-class.sh", "kafka.tools.StorageTool", "format",
                                        "-t", KRAFT_CLUSTER_ID, "-c", props], capture_output=True, text=True,
                                       timeout=120, env=dict(os.environ, KAFKA_HEAP_OPTS="-Xmx128m"))
            assert formatted.returncode == 0, formatted.stdout + formatted.stderr
        zkbroker_props = write_properties(work / "zkbroker" / "server.properties", [
            "broker.id=0", f"listeners=PLAINTEXT://{LOOPBACK}:{ports['zkbroker']}",
            f"zookeeper.connect={LOOPBACK}:{ports['zookeeper']}", f"log.dirs={work / 'zkbroker' / 'data'}",
            "offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1"])
        zookeeper.wait_until(lambda: port_open(ports["zookeeper"]), "client port")
        start = kafka_home / "bin" / "kafka-server-start.sh"
        kafka = {
            "zkbroker": Service("zkbroker", [start, zkbroker_props], work / "zkbroker" / "console.log",
                                kafka_env("zkbroker", "broker.yml", ports["zkbroker_metrics"])),
            "controller": Service("controller", [start, controller_props], work / "controller" / "console.log",
                                  kafka_env("controller", "controller.yml", ports["controller_metrics"])),
            "kraftbroker": Service("kraftbroker", [start, kraftbroker_props], work / "kraftbroker" / "console.log",
                                   kafka_env("kraftbroker", "broker.yml", ports["kraftbroker_metrics"])),
        }
        services.extend(kafka.values())

        # kafkasalt's textfiles, then the node exporter.
        textfiles = work / "textfiles"
        textfiles.mkdir()
        log_dir = work / "kraftbroker" / "data"
        host = {"cluster": "kraft", "host": "kraftbroker"}
        in_a_year = int(time.time()) + 365 * 86400
        # The certificates' file as kafka_tls.write_metrics writes it.
        monitoring.write_textfile(str(textfiles), "kafkasalt_certificates.prom", monitoring.textfile(
            monitoring.certificate_expiry_rows("kraft", "kraftbroker", [("broker", "keystore", in_a_year)])))
        (textfiles / "kafkasalt_consumergroups.prom").write_text("\n".join([
            "# TYPE kafkasalt_consumergroup_lag gauge",
            textfile_line("kafkasalt_consumergroup_lag", {"cluster": "kraft", "group": "g1", "topic": "demo"}, 0),
            "# TYPE kafkasalt_consumergroup_lag_threshold gauge",
            textfile_line("kafkasalt_consumergroup_lag_threshold", {"cluster": "kraft", "group": "g1"}, 1000), ""]))
        (textfiles / "kafkasalt_data_dirs.prom").write_text("\n".join([
            "# TYPE kafkasalt_data_dir_info gauge",
            textfile_line("kafkasalt_data_dir_info",
                          dict(host, role="broker", path=str(log_dir), mountpoint=mount_point(work)), 1), ""]))
        node = Service("node-exporter", [
            node_exporter_bin, f"--web.listen-address={LOOPBACK}:{ports['node']}",
            f"--collector.textfile.directory={textfiles}",
            # Debian's default also ignores overlay, the root file system of many CI containers.
            "--collector.filesystem.fs-types-exclude=^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|"
            "devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|"
            "squashfs|sysfs|tracefs)$"], work / "node-exporter.log")
        services.append(node)

        # The targets and the Prometheus configuration, as kafkasalt.monitoring writes them.
        descriptions = [
            {"cluster": "zkmode", "ports": {"node": ports["node"]},
             "brokers": {"zkbroker": {"broker_id": 0, "address": LOOPBACK, "port": ports["zkbroker_metrics"]}}},
            {"cluster": "kraft", "ports": {"node": ports["node"]},
             "brokers": {"kraftbroker": {"broker_id": 2, "address": LOOPBACK, "port": ports["kraftbroker_metrics"]}},
             "controllers": {"controller": {"node_id": 1, "address": LOOPBACK, "port": ports["controller_metrics"]}}},
        ]
        file_sd_dir = work / "file_sd"
        for description in descriptions:
            for path, text in monitoring.file_sd_files(description, file_sd_dir).items():
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                Path(path).write_text(text)
        config = monitoring.prometheus_config([monitoring.data_path("alerts.yml")], file_sd_dir)
        config["global"].update(scrape_interval=SCRAPE_INTERVAL, scrape_timeout=SCRAPE_INTERVAL,
                                evaluation_interval=EVALUATION_INTERVAL)
        (work / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))

        for name, service in kafka.items():
            service.wait_until(lambda name=name: port_open(ports[name]), "listener")
        node.wait_until(lambda: port_open(ports["node"]), "metrics port")
        prometheus = Service("prometheus", [
            prometheus_bin, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'tsdb'}",
            f"--web.listen-address={LOOPBACK}:{ports['prometheus']}"], work / "prometheus.log")
        services.append(prometheus)
        prometheus.wait_until(lambda: "Ready" in http_get(f"http://{LOOPBACK}:{ports['prometheus']}/-/ready"), "ready")

        # A topic produced to and consumed from on each cluster, so the per-topic and per-partition
        # series exist.
        for name in ("zkbroker", "kraftbroker"):
            bootstrap = f"{LOOPBACK}:{ports[name]}"
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
            try:
                admin.create_topics([NewTopic("demo", num_partitions=2, replication_factor=1)], timeout_ms=30000)
            finally:
                admin.close()
            producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
            try:
                for number in range(20):
                    producer.send("demo", f"record {number}".encode(), partition=number % 2)
                producer.flush(timeout=30)
            finally:
                producer.close()
            # Assigned partitions, no group: a fresh KRaft broker's group coordinator takes a while.
            consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                     consumer_timeout_ms=10000)
            try:
                consumer.assign([TopicPartition("demo", 0), TopicPartition("demo", 1)])
                assert sum(1 for _ in consumer) == 20
            finally:
                consumer.close()

        yield {"ports": ports, "kafka": kafka, "descriptions": descriptions, "log_dir": str(log_dir),
               "prometheus": f"http://{LOOPBACK}:{ports['prometheus']}"}
    finally:
        for service in reversed(services):
            service.stop()


def scrape_names(port):
    names = set()
    for line in http_get(f"http://{LOOPBACK}:{port}/metrics").splitlines():
        if line and not line.startswith("#"):
            names.add(line.split("{")[0].split(" ")[0])
    return names


def query(lab, promql):
    url = f"{lab['prometheus']}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    answer = json.loads(http_get(url))
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def api(lab, path):
    answer = json.loads(http_get(f"{lab['prometheus']}/api/v1/{path}"))
    assert answer["status"] == "success", answer
    return answer["data"]


def eventually(check, what, timeout=60):
    """Poll ``check()`` until it returns something truthy; fail with its last value."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(1)
    pytest.fail(f"no {what} within {timeout}s; last: {last!r}")


def test_each_exporter_serves_the_names_metrics_yml_lists(lab):
    exporters = monitoring.load_data("metrics.yml")["exporters"]
    broker, jvm = exporters["jmx_exporter_broker"], set(exporters["jmx_exporter_jvm"]["metrics"])
    ports = lab["ports"]
    expected = {
        "zkbroker_metrics": set(broker["metrics"]) | set(broker["zookeeper_mode_metrics"]) | jvm,
        "kraftbroker_metrics": (set(broker["metrics"]) - ZOOKEEPER_CONTROLLER_ONLY) | set(broker["kraft_mode_metrics"]) | jvm,
        "controller_metrics": set(exporters["jmx_exporter_controller"]["metrics"]) | jvm,
        "node": set(exporters["node"]["metrics"]) | set(exporters["kafkasalt_textfile"]["metrics"]),
    }
    missing = {}
    for name, names in expected.items():
        deadline = time.monotonic() + 30
        while True:
            served = scrape_names(ports[name])
            if names <= served or time.monotonic() > deadline:
                break
            time.sleep(1)
        if names - served:
            missing[name] = sorted(names - served)
    assert missing == {}


def test_the_agent_serves_the_series_the_rule_simulator_derives_from_the_recorded_mbeans(lab):
    # The unit tests trust tests.monitoring_support.JmxExporterRules on the recorded MBeans; here
    # the real agent must serve every series the named rules derive (same name, same labels).
    cases = [("zkbroker_metrics", "broker.yml", "broker-zookeeper-mode"),
             ("kraftbroker_metrics", "broker.yml", "broker-kraft"),
             ("controller_metrics", "controller.yml", "controller-kraft")]
    for port_name, rule_file, fixture in cases:
        rules = JmxExporterRules(monitoring.data_path("jmx_exporter", rule_file))
        live = {line.rsplit(" ", 1)[0]
                for line in http_get(f"http://{LOOPBACK}:{lab['ports'][port_name]}/metrics").splitlines()
                if line and not line.startswith("#")}
        missing = []
        for mbean in load_mbeans(fixture):
            found = rules.first_match(mbean)
            if found is None or "help" not in found[0]:
                continue
            name, labels, _ = rules.export(mbean)
            inner = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
            series = f"{name}{{{inner}}}" if inner else name
            if series not in live:
                missing.append(series)
        assert missing == [], f"{port_name}: {missing[:10]}"


def test_prometheus_scrapes_every_generated_target_with_its_labels(lab):
    expected = {}
    for description in lab["descriptions"]:
        for job, groups in monitoring.file_sd_targets(description).items():
            for group in groups:
                expected[(job, group["targets"][0], group["labels"]["instance"])] = dict(group["labels"], job=job)

    def all_up():
        active = api(lab, "targets?state=active")["activeTargets"]
        up = {(t["labels"]["job"], t["scrapeUrl"].split("//")[1].split("/")[0], t["labels"]["instance"]): t
              for t in active if t["health"] == "up"}
        return up if set(up) == set(expected) else None

    up = eventually(all_up, "scrape of every target", timeout=120)
    for key, labels in expected.items():
        assert up[key]["labels"] == labels, key


def test_prometheus_evaluates_every_alert_rule_without_error(lab):
    count = sum(len(group["rules"]) for group in monitoring.load_data("alerts.yml")["groups"])

    def evaluated():
        rules = [rule for group in api(lab, "rules?type=alert")["groups"] for rule in group["rules"]]
        done = [rule for rule in rules if not rule.get("lastEvaluation", "").startswith("0001")]
        return rules if len(rules) == count and len(done) == count else None

    rules = eventually(evaluated, "evaluation of every alert rule")
    assert [(rule["name"], rule.get("lastError")) for rule in rules if rule["health"] != "ok"] == []
    # Nothing is wrong with these healthy clusters, so nothing fires (KafkaBrokerDown is tested below).
    firing = [alert["labels"] for alert in api(lab, "alerts")["alerts"] if alert["state"] == "firing"]
    assert firing == []


def test_textfile_metrics_keep_their_labels_and_join_the_node_exporter_series(lab):
    certificates = eventually(lambda: query(lab, "kafkasalt_certificate_expiry_timestamp_seconds"), "certificate series")
    for series in certificates:
        labels = series["metric"]
        assert {labels["cluster"], labels["host"], labels["role"], labels["certificate"]} == {
            "kraft", "kraftbroker", "broker", "keystore"}
        assert not [name for name in labels if name.startswith("exported_")], labels
    # The disk space alerts' join, on the real node exporter labels.
    joined = query(lab, "kafkasalt_data_dir_info * on (instance, mountpoint) group_left () "
                        "(node_filesystem_avail_bytes / node_filesystem_size_bytes)")
    assert joined and {series["metric"]["path"] for series in joined} == {lab["log_dir"]}
    assert all(0 < float(series["value"][1]) <= 1 for series in joined)
    # The staleness alert's selector finds the three files (one series per node target).
    files = query(lab, 'node_textfile_mtime_seconds{file=~"(.*/)?kafkasalt_[^/]*[.]prom"}')
    assert {Path(series["metric"]["file"]).name for series in files} == {
        "kafkasalt_certificates.prom", "kafkasalt_consumergroups.prom", "kafkasalt_data_dirs.prom"}
    # The consumer lag alert's match between lag and threshold.
    matched = query(lab, "max by (cluster, group, topic) (kafkasalt_consumergroup_lag) >= on (cluster, group) "
                         "group_left () (max by (cluster, group) (kafkasalt_consumergroup_lag_threshold) * 0)")
    assert [series["metric"] for series in matched] == [{"cluster": "kraft", "group": "g1", "topic": "demo"}]


def test_a_stopped_broker_makes_kafka_broker_down_pending_with_its_target_labels(lab):
    # Last in the module: it stops the KRaft broker.
    lab["kafka"]["kraftbroker"].stop()

    def pending():
        return [alert for alert in api(lab, "alerts")["alerts"]
                if alert["labels"]["alertname"] == "KafkaBrokerDown" and alert["state"] in ("pending", "firing")]

    alerts = eventually(pending, "KafkaBrokerDown")
    assert [alert["labels"] for alert in alerts] == [{
        "alertname": "KafkaBrokerDown", "severity": "critical", "job": "kafka-broker", "cluster": "kraft",
        "role": "broker", "instance": "kraftbroker", "broker_id": "2"}]
    assert alerts[0]["annotations"]["runbook"].startswith("Start the broker if it stopped (salt 'kraftbroker' kafka.restart)")

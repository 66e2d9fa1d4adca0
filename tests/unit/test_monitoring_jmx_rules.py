"""The JMX exporter rules of kafkasalt/data/monitoring/jmx_exporter/, against recorded Kafka MBeans.

tests/data/monitoring/mbeans/ holds the MBean attributes real Kafka 3.9.2 processes registered
(a ZooKeeper-mode broker, a KRaft broker and controller, MirrorMaker 2); tests.monitoring_support
applies the rules to them the way the exporter's java agent does. The functional test
tests/functional/test_monitoring_exporters.py checks the same names on a real agent.
"""

import re

import pytest
import yaml

from kafkasalt import monitoring
from kafkasalt.kafka import render as kafka_render
from tests.monitoring_support import JmxExporterRules, load_mbeans

ROLE_MBEANS = {
    "broker.yml": ("broker-zookeeper-mode", "broker-kraft"),
    "controller.yml": ("controller-kraft",),
    "mirrormaker.yml": ("mirrormaker",),
}
# Named rules no recorded MBean matches, and why they stay.
UNMATCHED_ON_PURPOSE = {
    ("mirrormaker.yml", "kafka.connect.mirror<type=MirrorCheckpointConnector, source=([^,]+), "
                        "target=([^,>]+)><>(checkpoint-latency-ms(?:-avg|-max|-min)?)"):
        "MirrorMaker 2 before Kafka 3.x tags checkpoint metrics with the cluster aliases only",
}
KNOWN_CONFIG_KEYS = {"lowercaseOutputName", "lowercaseOutputLabelNames", "includeObjectNames", "rules"}
KNOWN_RULE_KEYS = {"pattern", "name", "type", "help", "labels"}


def rules_of(filename):
    return JmxExporterRules(monitoring.data_path("jmx_exporter", filename))


@pytest.mark.parametrize("filename", sorted(ROLE_MBEANS))
def test_rule_files_are_jmx_exporter_configs_with_kafka_names(filename):
    config = monitoring.load_data("jmx_exporter", filename)
    assert set(config) <= KNOWN_CONFIG_KEYS
    assert config["lowercaseOutputName"] is True and config["lowercaseOutputLabelNames"] is True
    assert config["includeObjectNames"], "every role scrapes only the Kafka domains it needs"
    for rule in config["rules"]:
        assert set(rule) <= KNOWN_RULE_KEYS, rule
        assert rule["type"] in ("GAUGE", "COUNTER", "UNTYPED"), rule
        assert rule["name"].startswith("kafka_") and rule["name"] == rule["name"].lower(), rule
        re.compile(rule["pattern"])
        if rule["type"] == "COUNTER":
            assert rule["name"].endswith("_total"), f"counters are exposed as ..._total: {rule}"


@pytest.mark.parametrize("fixture", ["broker-zookeeper-mode", "broker-kraft", "controller-kraft"])
def test_rules_export_every_series_the_python_rules_export_with_the_same_name_labels_and_type(fixture):
    # render_jmx_exporter_config() builds today's /etc/kafka/jmx_exporter.yml; the YAML files must
    # keep every name it exports so the renderer can switch to reading them.
    today = JmxExporterRules(yaml.safe_load(kafka_render.render_jmx_exporter_config()))
    filename = "controller.yml" if fixture.startswith("controller") else "broker.yml"
    new = rules_of(filename)
    compared = 0
    for line in load_mbeans(fixture):
        before = today.export(line)
        if before is not None:
            compared += 1
            assert new.export(line) == before, line
    assert compared > 90


def test_kraft_metrics_are_new_and_zookeeper_mode_exports_nothing_else_new():
    today = JmxExporterRules(yaml.safe_load(kafka_render.render_jmx_exporter_config()))
    broker = rules_of("broker.yml")
    zookeeper_mode_new = {broker.export(line)[0] for line in load_mbeans("broker-zookeeper-mode")
                          if broker.export(line) and not today.export(line)}
    assert zookeeper_mode_new == set()
    kraft_new = {broker.export(line)[0] for line in load_mbeans("broker-kraft")
                 if broker.export(line) and not today.export(line)}
    assert kraft_new and all(name.startswith(("kafka_server_raft_metrics_", "kafka_server_broker_metadata_metrics_"))
                             for name in kraft_new)


@pytest.mark.parametrize("filename", sorted(ROLE_MBEANS))
def test_every_named_rule_is_the_first_match_of_a_recorded_mbean(filename):
    rules = rules_of(filename)
    used = set()
    for fixture in ROLE_MBEANS[filename]:
        for line in load_mbeans(fixture):
            found = rules.first_match(line)
            if found is not None:
                used.add(found[0]["pattern"])
    named = [rule["pattern"] for rule in rules.config["rules"] if "help" in rule]
    unused = [pattern for pattern in named if pattern not in used and (filename, pattern) not in UNMATCHED_ON_PURPOSE]
    assert unused == []


def test_every_exporter_metric_listed_in_metrics_yml_comes_from_its_rules():
    exporters = monitoring.load_data("metrics.yml")["exporters"]
    broker = rules_of("broker.yml")
    zookeeper_mode = broker.exported_names(load_mbeans("broker-zookeeper-mode"))
    kraft = broker.exported_names(load_mbeans("broker-kraft"))
    entry = exporters["jmx_exporter_broker"]
    assert set(entry["metrics"]) - zookeeper_mode == set()
    assert set(entry["metrics"]) - kraft == {
        # What the ZooKeeper-mode controller reports; in KRaft the controllers report it.
        "kafka_controller_controllerstats_leaderelectionrateandtimems_count",
        "kafka_controller_controllerstats_uncleanleaderelections_total",
        "kafka_controller_kafkacontroller_activecontrollercount",
        "kafka_controller_kafkacontroller_fencedbrokercount",
        "kafka_controller_kafkacontroller_globalpartitioncount",
        "kafka_controller_kafkacontroller_globaltopiccount",
        "kafka_controller_kafkacontroller_offlinepartitionscount",
        "kafka_controller_kafkacontroller_zkmigrationstate",
    }
    assert set(entry["zookeeper_mode_metrics"]) - zookeeper_mode == set()
    assert set(entry["kraft_mode_metrics"]) - kraft == set()
    controller = rules_of("controller.yml").exported_names(load_mbeans("controller-kraft"))
    assert set(exporters["jmx_exporter_controller"]["metrics"]) - controller == set()
    mirrormaker = rules_of("mirrormaker.yml").exported_names(load_mbeans("mirrormaker"))
    assert set(exporters["jmx_exporter_mirrormaker"]["metrics"]) - mirrormaker == set()


def test_named_broker_rules_label_topics_requests_and_quantiles():
    broker = rules_of("broker.yml")
    assert broker.export("kafka.server<type=BrokerTopicMetrics, name=BytesInPerSec, topic=demo><>Count") == (
        "kafka_server_brokertopicmetrics_bytesin_total", {"topic": "demo"}, "COUNTER")
    assert broker.export("kafka.server<type=BrokerTopicMetrics, name=MessagesInPerSec><>Count") == (
        "kafka_server_brokertopicmetrics_messagesin_total", {}, "COUNTER")
    assert broker.export("kafka.network<type=RequestMetrics, name=TotalTimeMs, request=FetchFollower><>999thPercentile") == (
        "kafka_network_requestmetrics_totaltimems", {"request": "FetchFollower", "quantile": "0.999"}, "GAUGE")
    assert broker.export("kafka.server<type=raft-metrics><>current-leader") == (
        "kafka_server_raft_metrics_current_leader", {}, "GAUGE")
    assert broker.export("kafka.server<type=ReplicaFetcherManager, name=MaxLag, clientId=Replica><>Value") == (
        "kafka_server_replicafetchermanager_maxlag", {"clientid": "Replica"}, "GAUGE")
    # The request handler idle ratio is the meter's one-minute rate, not its ever-growing count.
    assert broker.export("kafka.server<type=KafkaRequestHandlerPool, name=RequestHandlerAvgIdlePercent><>OneMinuteRate")[0] == \
        "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent"
    # Beans outside includeObjectNames and attributes no rule names are not exported.
    assert broker.export("kafka.server<type=socket-server-metrics, listener=PLAINTEXT, networkProcessor=0><>connection-count") is None
    assert broker.export("kafka.utils<type=Throttler, name=cleaner-io><>Count") is None


def test_mirrormaker_rules_label_replication_by_target_topic_partition_and_group():
    mirrormaker = rules_of("mirrormaker.yml")
    assert mirrormaker.export(
        "kafka.connect.mirror<type=MirrorSourceConnector, target=B, topic=A.demo, partition=0><>record-count") == (
        "kafka_connect_mirror_mirrorsourceconnector_records_total",
        {"target": "B", "topic": "A.demo", "partition": "0"}, "COUNTER")
    assert mirrormaker.export(
        "kafka.connect.mirror<type=MirrorCheckpointConnector, source=A, target=B, group=g1, topic=A.demo, "
        "partition=0><>checkpoint-latency-ms-max") == (
        "kafka_connect_mirror_mirrorcheckpointconnector_checkpoint_latency_ms_max",
        {"source": "A", "target": "B", "group": "g1", "topic": "A.demo", "partition": "0"}, "GAUGE")
    assert mirrormaker.export(
        "kafka.connect<type=connect-worker-metrics, connector=MirrorSourceConnector><>connector-failed-task-count") == (
        "kafka_connect_worker_connector_failed_task_count", {"connector": "MirrorSourceConnector"}, "GAUGE")

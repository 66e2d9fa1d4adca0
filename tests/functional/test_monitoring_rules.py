"""Prometheus' own tool proves the monitoring data: promtool check rules / test rules / check config.

Needs promtool (Debian: ``apt-get install prometheus``); without it these tests fail, they never
skip. No process is started.
"""

import json

import yaml

from kafkasalt import monitoring
from tests.monitoring_support import MONITORING_TEST_DATA, promtool, promtool_ok

ALERTS = monitoring.data_path("alerts.yml")
DESCRIPTION = {
    "cluster": "prod",
    "brokers": {f"kafka{i}": {"broker_id": i, "address": f"10.0.1.1{i}", "rack": f"r{i}"} for i in (1, 2, 3)},
    "controllers": {f"ctl{i}": {"node_id": 3000 + i, "address": f"10.0.2.1{i}"} for i in (1, 2, 3)},
    "zookeeper": {f"zk{i}": {"myid": i, "address": f"10.0.0.1{i}"} for i in (1, 2, 3)},
    "mirrormaker": {"mm1": {"address": "10.0.3.11"}},
}


def alert_count():
    return sum(len(group["rules"]) for group in monitoring.load_data("alerts.yml")["groups"])


def test_promtool_check_rules_accepts_the_alert_rules():
    output = promtool_ok("check", "rules", ALERTS)
    assert f"SUCCESS: {alert_count()} rules found" in output


def test_promtool_unit_tests_prove_each_alert_fires_on_its_fault_and_stays_quiet_when_healthy():
    # alerts_test.yml: one test per alert, each checked before its `for` elapsed (nothing fires)
    # and after (exactly the unhealthy series fires, with its rendered summary and runbook).
    output = promtool_ok("test", "rules", "alerts_test.yml", cwd=MONITORING_TEST_DATA)
    assert "SUCCESS" in output


def test_promtool_unit_tests_fail_when_an_alert_no_longer_fires(tmp_path):
    # The unit tests are not vacuous: an alert whose expression can never be true fails them.
    rules = monitoring.load_data("alerts.yml")
    rules["groups"][0]["rules"][0]["expr"] = "vector(0) > 1"
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    tests = yaml.safe_load((MONITORING_TEST_DATA / "alerts_test.yml").read_text())
    tests["rule_files"] = ["alerts.yml"]
    (tmp_path / "alerts_test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert "alertname: KafkaBrokerDown" in result.stdout + result.stderr


def test_promtool_check_config_accepts_the_generated_config_and_its_file_sd_targets(tmp_path):
    file_sd_dir = tmp_path / "file_sd"
    for path, text in monitoring.file_sd_files(DESCRIPTION, file_sd_dir).items():
        path = tmp_path.joinpath(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    config = monitoring.prometheus_config([ALERTS], file_sd_dir, alertmanagers=["127.0.0.1:9093"],
                                          external_labels={"prometheus": "kafkasalt"})
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    output = promtool_ok("check", "config", tmp_path / "prometheus.yml")
    # promtool parses every file_sd file the globs match, and the rule files.
    assert "is valid prometheus config file syntax" in output
    assert "WARNING" not in output, output
    assert f"SUCCESS: {alert_count()} rules found" in output
    written = json.loads((file_sd_dir / "kafka-broker" / "prod.json").read_text())
    assert [group["labels"]["broker_id"] for group in written] == ["1", "2", "3"]


def test_promtool_check_config_rejects_a_broken_file_sd_file(tmp_path):
    # ...so the check above really reads the generated targets.
    (tmp_path / "node").mkdir()
    (tmp_path / "node" / "prod.json").write_text(json.dumps([{"targets": "10.0.0.1:9100"}]))
    config = monitoring.prometheus_config([], tmp_path)
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = promtool("check", "config", tmp_path / "prometheus.yml")
    assert result.returncode != 0
    assert 'checking SD file' in result.stderr and "node/*.json" in result.stderr and "targets" in result.stderr

"""Prometheus' own tool proves the monitoring data: promtool check rules / test rules.

Needs promtool (Debian: ``apt-get install prometheus``); without it these tests fail, they never
skip. No process is started.
"""

import yaml

from kafkasalt import monitoring
from tests.monitoring_support import MONITORING_TEST_DATA, promtool, promtool_ok

ALERTS = monitoring.data_path("alerts.yml")


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

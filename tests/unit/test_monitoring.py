"""kafkasalt.monitoring and the monitoring data: scrape targets, Prometheus config, dashboards, vocabulary."""

import ast
import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from kafkasalt import monitoring
from tests.monitoring_support import MONITORING_TEST_DATA, REPO, promtool_ok

DESCRIPTION = {
    "cluster": "prod",
    "brokers": {
        "kafka2": {"broker_id": 2, "address": "10.0.1.12", "rack": "eu-west-1b"},
        "kafka1": {"broker_id": 1, "address": "10.0.1.11", "rack": "eu-west-1a"},
    },
    "controllers": {"ctl1": {"node_id": 3001, "address": "10.0.2.11"}},
    "zookeeper": {
        "zk1": {"myid": 1, "address": "10.0.0.11"},
        "zk2": {"myid": 2, "address": "10.0.0.12"},
        "kafka1": {"myid": 3, "address": "10.0.1.11"},
    },
    "mirrormaker": {"mm1": {"address": "10.0.3.11", "port": 9404}},
}

EXPECTED_TARGETS = {
    "kafka-broker": [
        {"targets": ["10.0.1.11:9101"],
         "labels": {"cluster": "prod", "role": "broker", "instance": "kafka1", "broker_id": "1", "rack": "eu-west-1a"}},
        {"targets": ["10.0.1.12:9101"],
         "labels": {"cluster": "prod", "role": "broker", "instance": "kafka2", "broker_id": "2", "rack": "eu-west-1b"}},
    ],
    "kafka-controller": [
        {"targets": ["10.0.2.11:9102"],
         "labels": {"cluster": "prod", "role": "controller", "instance": "ctl1", "node_id": "3001"}},
    ],
    "zookeeper": [
        {"targets": ["10.0.1.11:7000"], "labels": {"cluster": "prod", "role": "zookeeper", "instance": "kafka1", "myid": "3"}},
        {"targets": ["10.0.0.11:7000"], "labels": {"cluster": "prod", "role": "zookeeper", "instance": "zk1", "myid": "1"}},
        {"targets": ["10.0.0.12:7000"], "labels": {"cluster": "prod", "role": "zookeeper", "instance": "zk2", "myid": "2"}},
    ],
    "mirrormaker": [
        {"targets": ["10.0.3.11:9404"], "labels": {"cluster": "prod", "role": "mirrormaker", "instance": "mm1"}},
    ],
    "node": [
        {"targets": ["10.0.2.11:9100"], "labels": {"cluster": "prod", "role": "controller", "instance": "ctl1"}},
        {"targets": ["10.0.1.11:9100"], "labels": {"cluster": "prod", "role": "broker,zookeeper", "instance": "kafka1"}},
        {"targets": ["10.0.1.12:9100"], "labels": {"cluster": "prod", "role": "broker", "instance": "kafka2"}},
        {"targets": ["10.0.3.11:9100"], "labels": {"cluster": "prod", "role": "mirrormaker", "instance": "mm1"}},
        {"targets": ["10.0.0.11:9100"], "labels": {"cluster": "prod", "role": "zookeeper", "instance": "zk1"}},
        {"targets": ["10.0.0.12:9100"], "labels": {"cluster": "prod", "role": "zookeeper", "instance": "zk2"}},
    ],
}


def alert_rules():
    return [rule for group in monitoring.load_data("alerts.yml")["groups"] for rule in group["rules"]]


def dashboard_queries():
    for dashboard in monitoring.dashboard_definitions()["dashboards"]:
        for panel in dashboard["panels"]:
            for query in panel["queries"]:
                yield dashboard["uid"], panel["title"], query["expr"]


def exporter_metrics():
    """{metric: set of jobs that serve it} from metrics.yml."""
    served = {}
    for exporter in monitoring.load_data("metrics.yml")["exporters"].values():
        names = list(exporter["metrics"])
        names += exporter.get("zookeeper_mode_metrics", []) + exporter.get("kraft_mode_metrics", [])
        for name in names:
            served.setdefault(name, set()).update(exporter["jobs"])
    return served


# --- scrape targets -----------------------------------------------------------------------------

def test_file_sd_targets_label_every_role_with_cluster_role_instance_id_and_rack():
    assert monitoring.file_sd_targets(DESCRIPTION) == EXPECTED_TARGETS


def test_file_sd_targets_are_deterministic_whatever_the_input_order():
    reordered = {key: (dict(reversed(list(value.items()))) if isinstance(value, dict) else value)
                 for key, value in reversed(list(DESCRIPTION.items()))}
    first = json.dumps(monitoring.file_sd_targets(DESCRIPTION))
    assert json.dumps(monitoring.file_sd_targets(reordered)) == first
    assert json.dumps(monitoring.file_sd_targets(copy.deepcopy(DESCRIPTION))) == first


def test_jobs_without_processes_get_empty_target_lists():
    targets = monitoring.file_sd_targets({"cluster": "small", "brokers": {"k1": {"broker_id": 0, "address": "k1.example"}}})
    assert targets["kafka-controller"] == targets["zookeeper"] == targets["mirrormaker"] == []
    assert [group["labels"] for group in targets["node"]] == [{"cluster": "small", "role": "broker", "instance": "k1"}]


def test_a_minion_that_is_broker_and_controller_is_one_combined_kraft_target():
    description = {"cluster": "kraft", "brokers": {"n1": {"broker_id": 1, "address": "n1.example"}},
                   "controllers": {"n1": {"node_id": 1, "address": "n1.example"},
                                   "c2": {"node_id": 2, "address": "c2.example"}}}
    targets = monitoring.file_sd_targets(description)
    assert targets["kafka-broker"] == [{"targets": ["n1.example:9101"], "labels": {
        "cluster": "kraft", "role": "broker,controller", "instance": "n1", "broker_id": "1", "node_id": "1"}}]
    assert [group["labels"]["instance"] for group in targets["kafka-controller"]] == ["c2"]
    assert [group["labels"]["role"] for group in targets["node"]] == ["controller", "broker,controller"]


def test_ports_come_from_the_entry_then_the_description_then_scrape_yml():
    description = {"cluster": "p", "ports": {"kafka-broker": 7071, "node": 19100},
                   "brokers": {"a": {"broker_id": 1, "address": "fd00::1"},
                               "b": {"broker_id": 2, "address": "b.example", "port": 7072}}}
    targets = monitoring.file_sd_targets(description)
    assert [group["targets"] for group in targets["kafka-broker"]] == [["[fd00::1]:7071"], ["b.example:7072"]]
    assert [group["targets"] for group in targets["node"]] == [["[fd00::1]:19100"], ["b.example:19100"]]


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("cluster"), "cluster: expected a non-empty name"),
    (lambda d: d.update(kafka={}), "unknown keys ['kafka']"),
    (lambda d: d["brokers"]["kafka1"].pop("address"), "brokers:kafka1:address: expected a host name"),
    (lambda d: d["brokers"]["kafka2"].update(broker_id=1), "brokers:kafka2:broker_id: 1 is also used by kafka1"),
    (lambda d: d["zookeeper"]["zk1"].update(myid="1"), "zookeeper:zk1:myid: expected a non-negative integer"),
    (lambda d: d["mirrormaker"]["mm1"].update(port=70000), "mirrormaker:mm1:port: expected a port number"),
    (lambda d: d["brokers"]["kafka1"].update(listeners=[]), "brokers:kafka1: unknown keys ['listeners']"),
    (lambda d: d["zookeeper"]["kafka1"].update(address="10.9.9.9"), "zookeeper:kafka1:address: 10.9.9.9 differs"),
    (lambda d: d.update(ports={"kafka": 1}), "ports: expected a mapping of job -> port"),
    (lambda d: d["brokers"].update({"bad id": {"broker_id": 9, "address": "x"}}), "brokers: 'bad id' is not a minion id"),
])
def test_bad_cluster_descriptions_name_the_key(change, message):
    description = copy.deepcopy(DESCRIPTION)
    change(description)
    with pytest.raises(ValueError) as error:
        monitoring.file_sd_targets(description)
    assert message in str(error.value)


def test_file_sd_files_write_one_json_file_per_job_and_cluster(tmp_path):
    files = monitoring.file_sd_files(DESCRIPTION, tmp_path)
    assert sorted(files) == sorted(str(tmp_path / job / "prod.json") for job in EXPECTED_TARGETS)
    assert json.loads(files[str(tmp_path / "zookeeper" / "prod.json")]) == EXPECTED_TARGETS["zookeeper"]


def test_prometheus_config_reads_every_job_from_its_file_sd_directory():
    config = monitoring.prometheus_config([monitoring.data_path("alerts.yml")], "/etc/prometheus/kafkasalt",
                                          alertmanagers=["am1:9093"], external_labels={"site": "eu"})
    jobs = {scrape["job_name"]: scrape for scrape in config["scrape_configs"]}
    assert list(jobs) == ["kafka-broker", "kafka-controller", "zookeeper", "mirrormaker", "node"]
    assert jobs["zookeeper"]["file_sd_configs"] == [{"files": ["/etc/prometheus/kafkasalt/zookeeper/*.json"],
                                                    "refresh_interval": "1m"}]
    # Only the node job keeps the labels kafkasalt's textfile metrics carry.
    assert [job for job, scrape in jobs.items() if scrape.get("honor_labels")] == ["node"]
    assert config["rule_files"] == [str(monitoring.data_path("alerts.yml"))]
    assert config["global"]["external_labels"] == {"site": "eu"}
    assert config["alerting"] == {"alertmanagers": [{"static_configs": [{"targets": ["am1:9093"]}]}]}
    assert "alerting" not in monitoring.prometheus_config([], "/x")
    with pytest.raises(ValueError, match="list of paths"):
        monitoring.prometheus_config("alerts.yml", "/x")


def test_every_job_in_the_alerts_and_dashboards_is_a_scrape_job():
    jobs = set(monitoring.scrape_jobs())
    texts = [rule["expr"] for rule in alert_rules()] + [expr for _, _, expr in dashboard_queries()]
    used = set()
    for text in texts:
        for match in re.finditer(r'job=~?"([^"]+)"', text):
            used.update(match.group(1).split("|"))
    assert used and used <= jobs


# --- PromQL vocabulary --------------------------------------------------------------------------

def test_promql_metric_names_leaves_out_functions_keywords_labels_and_durations():
    expr = ('sum by (cluster, instance) (rate(kafka_a_total{job="x", name="not_a_metric"}[5m] offset 1h)) '
            '/ on (cluster) group_left (role) max without (le) (kafka_b) > 0.5 * 1e3 '
            'and kafka_c unless ignoring (x) absent(kafka_d{cluster="$cluster"}) or vector(1) - time()')
    assert monitoring.promql_metric_names(expr) == {"kafka_a_total", "kafka_b", "kafka_c", "kafka_d"}
    assert monitoring.promql_metric_names('up{job="node"} == bool 0') == {"up"}
    assert monitoring.promql_metric_names("predict_linear(node_filesystem_avail_bytes[6h], 86400) < 0") == {
        "node_filesystem_avail_bytes"}


def test_every_metric_an_alert_or_a_panel_uses_is_served_by_an_exporter_listed_in_metrics_yml():
    served = exporter_metrics()
    used = {}
    for rule in alert_rules():
        for name in monitoring.promql_metric_names(rule["expr"]):
            used.setdefault(name, []).append(f"alert {rule['alert']}")
    for uid, title, expr in dashboard_queries():
        for name in monitoring.promql_metric_names(expr):
            used.setdefault(name, []).append(f"panel {uid}/{title}")
    unknown = {name: where for name, where in used.items() if name not in served}
    assert unknown == {}
    # metrics.yml is the vocabulary, not an inventory: every name it lists is used.
    assert sorted(set(served) - set(used)) == []


def test_a_metric_selected_with_a_job_is_one_that_job_serves():
    served = exporter_metrics()
    texts = [rule["expr"] for rule in alert_rules()] + [expr for _, _, expr in dashboard_queries()]
    wrong = []
    for text in texts:
        for match in re.finditer(r'([A-Za-z_:][A-Za-z0-9_:]*)\{([^}]*)\}', text):
            name, matchers = match.groups()
            job = re.search(r'job=~?"([^"]+)"', matchers)
            if job and name in served:
                wrong += [(name, j) for j in job.group(1).split("|") if j not in served[name]]
    assert wrong == []


def test_textfile_metrics_are_defined_with_type_file_labels_help_and_a_parsable_example():
    metrics = monitoring.load_data("metrics.yml")["exporters"]["kafkasalt_textfile"]["metrics"]
    assert set(metrics) == {"kafkasalt_certificate_expiry_timestamp_seconds", "kafkasalt_consumergroup_lag",
                            "kafkasalt_consumergroup_lag_threshold", "kafkasalt_data_dir_info"}
    assert metrics["kafkasalt_certificate_expiry_timestamp_seconds"]["labels"] == ["cluster", "host", "role", "certificate"]
    assert metrics["kafkasalt_consumergroup_lag"]["labels"] == ["cluster", "group", "topic"]
    for name, definition in metrics.items():
        assert definition["type"] == "gauge" and definition["help"] and definition["file"].startswith("kafkasalt_")
        example = re.fullmatch(r'(\w+)\{(.*)\} (\S+)', definition["example"])
        assert example and example.group(1) == name
        assert [pair.split("=")[0] for pair in example.group(2).split(",")] == definition["labels"]
        float(example.group(3))


# --- alert rules --------------------------------------------------------------------------------

def _salt_functions(directory):
    """module.function names the extension's execution modules (_modules) or runners (_runners) define."""
    functions = set()
    for path in sorted((REPO / directory).glob("*.py")):
        tree = ast.parse(path.read_text())
        virtual = path.stem
        for node in tree.body:
            if (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__virtualname__" for t in node.targets)
                    and isinstance(node.value, ast.Constant)):
                virtual = node.value.value
        functions |= {f"{virtual}.{node.name}" for node in tree.body
                      if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")}
    return functions


# Salt's own functions the runbooks use.
SALT_RUNNERS = {"state.orchestrate"}
SALT_MODULES = {"state.apply", "test.ping", "schedule.list", "file.remove"}


def test_every_alert_has_a_severity_a_summary_and_a_runbook_naming_a_salt_command():
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)) >= 50
    runners = _salt_functions("_runners") | SALT_RUNNERS
    modules = _salt_functions("_modules") | SALT_MODULES
    for rule in rules:
        alert, runbook = rule["alert"], rule["annotations"]["runbook"]
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), alert
        assert set(rule["annotations"]) == {"summary", "runbook"}, alert
        run = set(re.findall(r"salt-run\s+([a-z_]+\.[a-z_]+)", runbook))
        call = set(re.findall(r"salt\s+'[^']*'\s+([a-z_]+\.[a-z_]+)", runbook))
        assert run or call, f"{alert}: the runbook names no Salt command"
        assert run <= runners, f"{alert}: no such runner {run - runners}"
        assert call <= modules, f"{alert}: no such execution module function {call - modules}"


def test_the_promtool_test_file_checks_every_alert_quiet_then_firing():
    tests = yaml.safe_load((MONITORING_TEST_DATA / "alerts_test.yml").read_text())
    rule_file = (MONITORING_TEST_DATA / tests["rule_files"][0]).resolve()
    assert rule_file == monitoring.data_path("alerts.yml").resolve()
    checks = {}
    for test in tests["tests"]:
        for check in test["alert_rule_test"]:
            checks.setdefault(check["alertname"], []).append(check["exp_alerts"])
    assert sorted(checks) == sorted(rule["alert"] for rule in alert_rules())
    for alert, expectations in checks.items():
        assert [] in expectations, f"{alert}: no check that it stays quiet"
        assert any(expectations), f"{alert}: no check that it fires"


# --- dashboards ---------------------------------------------------------------------------------

def test_grafana_dashboards_have_variables_and_panels_on_the_grid():
    dashboards = monitoring.grafana_dashboards()
    assert list(dashboards) == ["kafkasalt-cluster", "kafkasalt-brokers", "kafkasalt-quorum", "kafkasalt-clients"]
    for uid, dashboard in dashboards.items():
        assert dashboard["uid"] == uid and dashboard["schemaVersion"] >= 36
        variables = dashboard["templating"]["list"]
        assert [v["name"] for v in variables] == ["datasource", "cluster"]
        assert variables[0]["type"] == "datasource" and variables[0]["query"] == "prometheus"
        assert variables[1]["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        cells = set()
        for panel in dashboard["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, panel["title"]
            cell = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])}
            assert not cell & cells, f"{uid}: {panel['title']} overlaps another panel"
            cells |= cell
            assert panel["datasource"]["uid"] == "${datasource}"
            assert panel["fieldConfig"]["defaults"]["unit"]
            assert [t["refId"] for t in panel["targets"]] == [chr(ord("A") + i) for i in range(len(panel["targets"]))]
        assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    json.dumps(dashboards)


def test_grafana_dashboards_are_the_same_on_every_build():
    assert json.dumps(monitoring.grafana_dashboards(), sort_keys=True) == \
        json.dumps(monitoring.grafana_dashboards(), sort_keys=True)


def test_every_dashboard_query_selects_the_dashboard_cluster():
    assert [(uid, title) for uid, title, expr in dashboard_queries() if '"$cluster"' not in expr] == []


def test_every_dashboard_query_parses_with_promtool(tmp_path):
    rules = monitoring.dashboard_query_rules()
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    count = sum(1 for _ in dashboard_queries())
    assert len(rules["groups"][0]["rules"]) == count
    output = promtool_ok("check", "rules", path)
    assert f"SUCCESS: {count} rules found" in output


def test_dashboard_query_rules_fail_on_a_variable_without_check_value():
    definitions = monitoring.dashboard_definitions()
    definitions["dashboards"][0]["panels"][0]["queries"][0]["expr"] = 'up{instance="$host"}'
    with pytest.raises(ValueError, match=r"\$host"):
        monitoring.dashboard_query_rules(definitions)


def test_certificate_expiry_textfile_follows_metrics_yml(tmp_path):
    from kafkasalt import monitoring

    rows = monitoring.certificate_expiry_rows("prod", "kafka1", [("broker", "keystore", 1767225600),
                                                                  ("broker", "truststore-ca", 1800000000),
                                                                  ("broker", "truststore-ca", 1900000000)])
    text = monitoring.textfile(rows)
    assert text.splitlines()[1] == "# TYPE kafkasalt_certificate_expiry_timestamp_seconds gauge"
    assert ('kafkasalt_certificate_expiry_timestamp_seconds{cluster="prod",host="kafka1",role="broker",'
            'certificate="truststore-ca-2"} 1900000000') in text
    assert monitoring.write_textfile(str(tmp_path), "kafkasalt_certificates.prom", text) is True
    assert monitoring.write_textfile(str(tmp_path), "kafkasalt_certificates.prom", text) is False
    assert oct((tmp_path / "kafkasalt_certificates.prom").stat().st_mode & 0o777) == "0o644"


def test_textfile_refuses_metrics_and_labels_metrics_yml_does_not_list():
    import pytest

    from kafkasalt import monitoring

    with pytest.raises(ValueError, match="not a kafkasalt textfile metric"):
        monitoring.textfile([("kafkasalt_nope", {}, 1)])
    with pytest.raises(ValueError, match="takes the labels"):
        monitoring.textfile([("kafkasalt_certificate_expiry_timestamp_seconds", {"cluster": "x"}, 1)])

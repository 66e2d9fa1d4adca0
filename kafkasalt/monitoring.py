"""Monitoring of a kafkasalt cluster: Prometheus scrape targets and configuration, Grafana dashboards.

Pure Python (no Salt). The monitoring itself is data in ``kafkasalt/data/monitoring/``:

=============================  ====================================================================
``jmx_exporter/*.yml``         JMX exporter rules per role (broker, KRaft controller, MirrorMaker 2)
``alerts.yml``                 the Prometheus alerting rules
``dashboards.yml``             the Grafana dashboards: panels with their PromQL
``metrics.yml``                the metric names each exporter serves (alerts and panels use no other)
``scrape.yml``                 the scrape jobs: names, default ports, the target labels
=============================  ====================================================================

This module turns a *cluster description* into Prometheus file-based service discovery targets
(:func:`file_sd_targets`, :func:`file_sd_files`), writes the Prometheus configuration that scrapes
them (:func:`prometheus_config`) and builds the dashboards' Grafana JSON (:func:`grafana_dashboards`).

A cluster description has the shape of the pillar (minion id -> entry)::

    {
        "cluster": "prod",
        "brokers": {"kafka1": {"broker_id": 1, "address": "10.0.1.11", "rack": "eu-west-1a"}},
        "controllers": {"ctl1": {"node_id": 3001, "address": "10.0.2.11"}},     # KRaft
        "zookeeper": {"zk1": {"myid": 1, "address": "10.0.0.11"}},
        "mirrormaker": {"mm1": {"address": "10.0.3.11"}},
    }

Every entry may set ``port`` (its metrics port, default from ``scrape.yml``); the description may
set ``ports: {job: port}`` for all entries of a job. A minion listed as broker and controller is a
KRaft combined node: one JVM, scraped once in ``kafka-broker`` with role ``broker,controller``.
Every minion also gets a ``node`` target (node exporter) with the roles it carries.
"""

import copy
import json
import re
from pathlib import Path

import yaml

from kafkasalt.common import data

DATA_DIR = Path(__file__).resolve().parent / "data" / "monitoring"

_MINION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_DESCRIPTION_KEYS = ("cluster", "ports")
_ENTRY_KEYS = ("address", "port", "rack")


def data_path(*parts):
    """Path of a file in ``kafkasalt/data/monitoring`` (e.g. ``data_path("alerts.yml")``), in the
    package or, for formula installs, in the file roots (:mod:`kafkasalt.common.data`)."""
    return data.path("monitoring", *parts)


def load_data(*parts):
    """The parsed YAML of a file in ``kafkasalt/data/monitoring``."""
    with open(data_path(*parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def scrape_jobs():
    """``{job: settings}`` from ``scrape.yml``, in the file's order."""
    return load_data("scrape.yml")["jobs"]


# --- scrape targets -----------------------------------------------------------------------------

def _port(value, where):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"{where}: expected a port number 1-65535, got {value!r}")
    return value


def _entries(description, key):
    entries = description.get(key) or {}
    if not isinstance(entries, dict):
        raise ValueError(f"{key}: expected a mapping of minion id -> entry, got {type(entries).__name__}")
    for minion, entry in entries.items():
        if not isinstance(minion, str) or not _MINION_ID.match(minion):
            raise ValueError(f"{key}: {minion!r} is not a minion id")
        if not isinstance(entry, dict):
            raise ValueError(f"{key}:{minion}: expected a mapping, got {type(entry).__name__}")
    return entries


def _check_cluster(description):
    if not isinstance(description, dict):
        raise ValueError(f"cluster description: expected a mapping, got {type(description).__name__}")
    cluster = description.get("cluster")
    if not isinstance(cluster, str) or not cluster:
        raise ValueError(f"cluster: expected a non-empty name, got {cluster!r}")
    known = set(_DESCRIPTION_KEYS) | {settings["members"] for settings in scrape_jobs().values() if "members" in settings}
    unknown = sorted(set(description) - known)
    if unknown:
        raise ValueError(f"cluster description: unknown keys {unknown} (known: {sorted(known)})")
    return cluster


def _job_port(description, job, settings):
    ports = description.get("ports") or {}
    if not isinstance(ports, dict) or set(ports) - set(scrape_jobs()):
        raise ValueError(f"ports: expected a mapping of job -> port for jobs {list(scrape_jobs())}, got {ports!r}")
    return _port(ports.get(job, settings["port"]), f"ports:{job}")


def _target(description, job, settings, minion, entry):
    key = settings["members"]
    where = f"{key}:{minion}"
    id_key = settings.get("id_key")
    allowed = set(_ENTRY_KEYS) | ({id_key} if id_key else set())
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown} (known: {sorted(allowed)})")
    address = entry.get("address")
    if not isinstance(address, str) or not address or any(c.isspace() for c in address):
        raise ValueError(f"{where}:address: expected a host name or IP address, got {address!r}")
    port = _port(entry.get("port", _job_port(description, job, settings)), f"{where}:port")
    labels = {"cluster": description["cluster"], "role": settings["role"], "instance": minion}
    if id_key:
        value = entry.get(id_key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{where}:{id_key}: expected a non-negative integer, got {value!r}")
        labels[settings["id_label"]] = str(value)
    if entry.get("rack") is not None:
        labels["rack"] = str(entry["rack"])
    host = f"[{address}]" if ":" in address else address
    return {"targets": [f"{host}:{port}"], "labels": labels}


def file_sd_targets(cluster_description):
    """``{job: [{"targets": ["address:port"], "labels": {...}}]}`` for every job of ``scrape.yml``.

    One target group per process, sorted by minion id, labels as strings (file_sd wants them so):
    ``cluster``, ``role``, ``instance`` (the minion id), the job's id label (``broker_id``,
    ``node_id``, ``myid``) and ``rack`` when given. Jobs without processes get an empty list, so
    a file written for each job replaces an older one. Raises ValueError naming the bad key.
    """
    cluster = _check_cluster(cluster_description)
    jobs = scrape_jobs()
    result = {job: [] for job in jobs}
    roles = {}          # minion -> roles, for the node targets
    addresses = {}      # minion -> address
    ids = {}
    broker_groups = {}
    for job, settings in jobs.items():
        key = settings.get("members")
        if key is None:
            continue
        for minion, entry in sorted(_entries(cluster_description, key).items()):
            group = _target(cluster_description, job, settings, minion, entry)
            id_label = settings.get("id_label")
            if id_label:
                seen = ids.setdefault(job, {})
                value = group["labels"][id_label]
                if value in seen:
                    raise ValueError(f"{key}:{minion}:{settings['id_key']}: {value} is also used by {seen[value]}")
                seen[value] = minion
            if minion in addresses and addresses[minion] != entry["address"]:
                raise ValueError(f"{key}:{minion}:address: {entry['address']} differs from {addresses[minion]} "
                                 "given for the same minion elsewhere")
            addresses[minion] = entry["address"]
            roles.setdefault(minion, []).append(settings["role"])
            if job == "kafka-controller" and minion in broker_groups:
                # KRaft combined mode: broker and controller in one JVM, scraped once as a broker.
                combined = broker_groups[minion]["labels"]
                combined["role"] = "broker,controller"
                combined[id_label] = group["labels"][id_label]
                continue
            result[job].append(group)
            if job == "kafka-broker":
                broker_groups[minion] = group
    node = jobs["node"]
    node_port = _job_port(cluster_description, "node", node)
    for minion in sorted(roles):
        address = addresses[minion]
        host = f"[{address}]" if ":" in address else address
        result["node"].append({"targets": [f"{host}:{node_port}"],
                               "labels": {"cluster": cluster, "role": ",".join(sorted(set(roles[minion]))),
                                          "instance": minion}})
    return result


def file_sd_path(file_sd_dir, job, cluster):
    """Where the file_sd targets of ``job`` for ``cluster`` live: ``<dir>/<job>/<cluster>.json``."""
    return Path(file_sd_dir) / job / f"{cluster}.json"


def file_sd_files(cluster_description, file_sd_dir):
    """``{path: json text}`` of the file_sd files :func:`prometheus_config` reads, one per job."""
    cluster = _check_cluster(cluster_description)
    return {str(file_sd_path(file_sd_dir, job, cluster)): json.dumps(groups, indent=2, sort_keys=True) + "\n"
            for job, groups in file_sd_targets(cluster_description).items()}


def prometheus_config(rule_files, file_sd_dir, alertmanagers=(), external_labels=None):
    """The Prometheus configuration (a dict; dump it as YAML) that scrapes kafkasalt clusters.

    One scrape job per job of ``scrape.yml``, reading the targets of every cluster from
    ``<file_sd_dir>/<job>/*.json`` (:func:`file_sd_files` writes them), so one Prometheus can
    watch several clusters. ``rule_files`` are the rule file paths (e.g.
    ``[data_path("alerts.yml")]``); ``alertmanagers`` is a list of ``host:port``.
    """
    if isinstance(rule_files, (str, Path)):
        raise ValueError("rule_files: expected a list of paths, got a single path")
    settings = load_data("scrape.yml")
    scrape_configs = []
    for job, job_settings in settings["jobs"].items():
        scrape = {
            "job_name": job,
            "metrics_path": "/metrics",
            "file_sd_configs": [{
                "files": [str(Path(file_sd_dir) / job / "*.json")],
                "refresh_interval": settings["file_sd_refresh_interval"],
            }],
        }
        if job_settings.get("honor_labels"):
            scrape["honor_labels"] = True
        scrape_configs.append(scrape)
    config = {"global": dict(settings["global"]), "rule_files": [str(path) for path in rule_files],
              "scrape_configs": scrape_configs}
    if external_labels:
        config["global"]["external_labels"] = {str(k): str(v) for k, v in external_labels.items()}
    if alertmanagers:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(alertmanagers)}]}]}
    return config


# --- PromQL -------------------------------------------------------------------------------------

_PROMQL_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_PROMQL_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_PROMQL_TOKEN = re.compile(
    r"(?P<duration>(?:\d+(?:ms|[smhdwy]))+)\b"
    r"|(?P<number>0x[0-9a-fA-F]+|\d*\.?\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<variable>\$\{?\w+\}?)"
    r"|(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?P<call>\s*\()?"
)
_PROMQL_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
                    "bool", "offset", "inf", "nan"}


def promql_metric_names(expr):
    """The metric names a PromQL expression selects (a set; functions and keywords left out)."""
    text = _PROMQL_STRING.sub('""', expr)
    text = re.sub(r"\{[^{}]*\}", " ", text)          # label matchers
    text = re.sub(r"\[[^\[\]]*\]", " ", text)        # ranges and subqueries
    text = _PROMQL_GROUPING.sub(" ", text)
    names = set()
    for token in _PROMQL_TOKEN.finditer(text):
        name = token.group("name")
        if name and not token.group("call") and name.lower() not in _PROMQL_KEYWORDS:
            names.add(name)
    return names


# --- Grafana dashboards -------------------------------------------------------------------------

def _datasource():
    return {"type": "prometheus", "uid": "${datasource}"}


def _variables(definition):
    variables = [{
        "name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
        "current": {}, "hide": 0, "options": [], "refresh": 1, "regex": "",
    }]
    for variable in definition["variables"]:
        variables.append({
            "name": variable["name"], "label": variable["label"], "type": "query",
            "datasource": _datasource(),
            "definition": variable["query"],
            "query": {"query": variable["query"], "refId": f"variable-{variable['name']}"},
            "current": {}, "hide": 0, "includeAll": False, "multi": False, "options": [],
            "refresh": 2, "regex": "", "sort": 1,
        })
    return variables


def _panel(panel_id, panel, x, y, width, height):
    kind = panel.get("type", "timeseries")
    built = {
        "id": panel_id,
        "type": kind,
        "title": panel["title"],
        "datasource": _datasource(),
        "gridPos": {"x": x, "y": y, "w": width, "h": height},
        "fieldConfig": {"defaults": {"unit": panel.get("unit", "short")}, "overrides": []},
        "targets": [{"refId": chr(ord("A") + index), "datasource": _datasource(), "expr": query["expr"],
                     "legendFormat": query.get("legend", "__auto")}
                    for index, query in enumerate(panel["queries"])],
    }
    if panel.get("description"):
        built["description"] = panel["description"]
    if kind == "stat":
        built["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                            "colorMode": "value", "graphMode": "area", "textMode": "auto"}
    else:
        built["options"] = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                            "tooltip": {"mode": "multi", "sort": "desc"}}
    return built


def dashboard_definitions():
    """``dashboards.yml`` parsed: the shared settings and the dashboards with their panels."""
    return load_data("dashboards.yml")


def grafana_dashboards(definitions=None):
    """``{uid: dashboard}``: Grafana dashboard JSON models (dicts) built from ``dashboards.yml``.

    Panels flow left to right on Grafana's 24-column grid (``width`` columns, 12 by default, 4 for
    ``stat`` panels) and wrap into new rows. Every dashboard has the ``datasource`` variable (any
    Prometheus data source) and the variables of ``dashboards.yml`` (``cluster``).
    """
    definitions = dashboard_definitions() if definitions is None else definitions
    settings = definitions["settings"]
    dashboards = {}
    for dashboard in definitions["dashboards"]:
        panels, x, y, row_height = [], 0, 0, 0
        for number, panel in enumerate(dashboard["panels"], start=1):
            kind = panel.get("type", "timeseries")
            width = panel.get("width", settings["stat_width"] if kind == "stat" else settings["width"])
            height = settings["stat_height"] if kind == "stat" else settings["height"]
            if x + width > 24:
                x, y, row_height = 0, y + row_height, 0
            panels.append(_panel(number, panel, x, y, width, height))
            x += width
            row_height = max(row_height, height)
        dashboards[dashboard["uid"]] = {
            "uid": dashboard["uid"],
            "title": dashboard["title"],
            "description": dashboard.get("description", ""),
            "tags": list(settings["tags"]),
            "schemaVersion": settings["schema_version"],
            "version": 1,
            "editable": True,
            "graphTooltip": 1,
            "refresh": settings["refresh"],
            "time": {"from": settings["time_from"], "to": "now"},
            "timezone": "browser",
            "templating": {"list": _variables(definitions)},
            "annotations": {"list": []},
            "links": [],
            "panels": panels,
        }
    return copy.deepcopy(dashboards)


def _check_query(expr, definitions):
    """``expr`` with the Grafana variables replaced by the ``check_value`` of ``dashboards.yml``."""
    values = dict(definitions["settings"]["check_values"])
    values.update({variable["name"]: variable["check_value"] for variable in definitions["variables"]})

    def replace(match):
        name = match.group(1) or match.group(2)
        if name not in values:
            raise ValueError(f"PromQL {expr!r} uses the Grafana variable ${name}, which has no check_value")
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", replace, expr)


def dashboard_query_rules(definitions=None):
    """Every panel query as a Prometheus recording rule (a rule file dict).

    ``promtool check rules`` on it parses each query with Prometheus' own PromQL parser, with the
    Grafana variables (``$cluster``, ``$__rate_interval``) replaced by their ``check_value``.
    Record names say where the query comes from: ``kafkasalt_dashboard:<uid>:<panel>:<query>``.
    """
    definitions = dashboard_definitions() if definitions is None else definitions
    rules = []
    for dashboard in definitions["dashboards"]:
        uid = re.sub(r"[^A-Za-z0-9_]", "_", dashboard["uid"])
        for number, panel in enumerate(dashboard["panels"], start=1):
            for index, query in enumerate(panel["queries"]):
                rules.append({"record": f"kafkasalt_dashboard:{uid}:{number}:{chr(ord('a') + index)}",
                              "expr": _check_query(query["expr"], definitions)})
    return {"groups": [{"name": "kafkasalt-dashboard-queries", "rules": rules}]}


# --- textfile metrics (the node exporter's textfile collector) --------------------------------------


def _escape_label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def textfile(rows):
    """Prometheus exposition text of kafkasalt's textfile metrics: ``rows`` are ``(metric,
    labels, value)`` for metrics of ``metrics.yml``'s ``kafkasalt_textfile`` (their HELP, TYPE
    and label names come from there; a metric or label it does not list is a ``ValueError``)."""
    specs = load_data("metrics.yml")["exporters"]["kafkasalt_textfile"]["metrics"]
    by_metric = {}
    for metric, labels, value in rows:
        spec = specs.get(metric)
        if spec is None:
            raise ValueError(f"{metric} is not a kafkasalt textfile metric (metrics.yml: {', '.join(sorted(specs))})")
        if sorted(labels) != sorted(spec["labels"]):
            raise ValueError(f"{metric} takes the labels {spec['labels']}, got {sorted(labels)}")
        by_metric.setdefault(metric, []).append((labels, value))
    lines = []
    for metric in sorted(by_metric):
        spec = specs[metric]
        lines.append(f"# HELP {metric} {' '.join(str(spec['help']).split())}")
        lines.append(f"# TYPE {metric} {spec['type']}")
        for labels, value in sorted(by_metric[metric], key=lambda row: sorted(row[0].items())):
            inner = ",".join(f'{key}="{_escape_label(labels[key])}"' for key in spec["labels"])
            lines.append(f"{metric}{{{inner}}} {value}")
    return "\n".join(lines) + "\n"


def certificate_expiry_rows(cluster, host, certificates):
    """``kafkasalt_certificate_expiry_timestamp_seconds`` rows from ``certificates``:
    ``[(role, name, not_after_epoch)]``; a name seen twice for one role gets ``-2``, ``-3``."""
    rows, seen = [], {}
    for role, name, not_after in certificates:
        count = seen[(role, name)] = seen.get((role, name), 0) + 1
        label = name if count == 1 else f"{name}-{count}"
        rows.append(("kafkasalt_certificate_expiry_timestamp_seconds",
                     {"cluster": cluster, "host": host, "role": role, "certificate": label}, int(not_after)))
    return rows


def write_textfile(directory, name, text):
    """Replace ``<directory>/<name>`` atomically (the node exporter never reads half a file);
    returns whether the content changed."""
    import os

    from kafkasalt.common.files import write_private

    path = os.path.join(directory, name)
    try:
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return False
    except OSError:
        pass
    os.makedirs(directory, exist_ok=True)
    write_private(path, text, mode=0o644)
    return True

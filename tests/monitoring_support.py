"""Test helpers for kafkasalt/data/monitoring: promtool, and the JMX exporter's rule matching.

:func:`promtool` runs Prometheus' own tool and fails the test (never skips it) when it is missing.

:class:`JmxExporterRules` applies a JMX exporter configuration to MBean attributes the way the
exporter's java agent (1.x) does, so the unit tests can check rule files against the MBeans
Kafka registers without a JVM:

* an attribute is written ``domain<key=value, key=value><>attribute: value`` (key properties in
  registration order) and matched against each rule's pattern wrapped as ``^.*(?:pattern).*$``;
  the first rule that matches wins, attributes no rule matches are not exported;
* ``includeObjectNames`` (JMX ObjectName patterns) filters the MBeans first;
* ``$n`` in name and labels is the pattern's group n; the name is made safe (characters outside
  ``[a-zA-Z0-9:_]`` and runs of ``_`` become one ``_``) and lowercased with
  ``lowercaseOutputName``, label names likewise with ``lowercaseOutputLabelNames``; label values
  are kept as captured;
* a ``COUNTER`` is exposed with a ``_total`` suffix (once), other types under their name.

The functional test tests/functional/test_monitoring_exporters.py checks the same names on a
real exporter.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
MONITORING_TEST_DATA = REPO / "tests" / "data" / "monitoring"
MBEANS_DIR = MONITORING_TEST_DATA / "mbeans"

PROMTOOL_MISSING = ("promtool is not on PATH: install Prometheus' tools with `apt-get install prometheus` "
                    "(Debian's package brings promtool); the monitoring tests need it and are never skipped")


def promtool(*args, cwd=None, timeout=120):
    """Run ``promtool args...``; return the CompletedProcess (text). Fails the test if promtool is missing."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(PROMTOOL_MISSING, pytrace=False)
    return subprocess.run([path, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def promtool_ok(*args, cwd=None):
    """Run promtool and assert it succeeded; return its output."""
    result = promtool(*args, cwd=cwd)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool {' '.join(map(str, args))} failed:\n{output}"
    return output


# --- MBean attributes ---------------------------------------------------------------------------

def load_mbeans(name):
    """The MBean attributes recorded in tests/data/monitoring/mbeans/<name>.txt (comments skipped)."""
    lines = (MBEANS_DIR / f"{name}.txt").read_text().splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def _split_properties(text):
    """``type=X, name=Y`` -> [("type", "X"), ("name", "Y")]; quoted values may hold commas."""
    properties, current, quoted = [], "", False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            properties.append(current)
            current = ""
            continue
        current += char
    if current:
        properties.append(current)
    pairs = []
    for item in properties:
        key, _, value = item.strip().partition("=")
        pairs.append((key, value))
    return pairs


def parse_mbean(line):
    """``domain<k=v, ...><>attribute`` -> (domain, [(key, value)...], attribute)."""
    domain, _, rest = line.partition("<")
    properties, marker, attribute = rest.rpartition("><>")
    if not marker:
        raise ValueError(f"not an MBean attribute line: {line!r}")
    return domain, _split_properties(properties), attribute


def _object_name_matches(pattern, domain, properties):
    """JMX ObjectName pattern matching, for the patterns includeObjectNames uses here."""
    pattern_domain, _, pattern_properties = pattern.partition(":")
    if not re.fullmatch(re.escape(pattern_domain).replace(r"\*", ".*").replace(r"\?", "."), domain):
        return False
    wanted = [item for item in pattern_properties.split(",") if item]
    wildcard = "*" in wanted
    wanted = dict(item.split("=", 1) for item in wanted if item != "*")
    actual = dict(properties)
    if any(actual.get(key) != value for key, value in wanted.items()):
        return False
    return wildcard or set(actual) == set(wanted)


def _safe_name(name):
    out = "_" if name[:1].isdigit() else ""
    previous_underscore = False
    for char in name:
        if re.match(r"[a-zA-Z0-9:]", char):
            out += char
            previous_underscore = False
        elif not previous_underscore:
            out += "_"
            previous_underscore = True
    return out


def _substitute(template, match):
    def group(ref):
        number = int(ref.group(1))
        return match.group(number) or ""
    return re.sub(r"\$(\d+)", group, str(template))


class JmxExporterRules:
    """A JMX exporter configuration (dict or path), applied to MBean attribute lines."""

    def __init__(self, config):
        if not isinstance(config, dict):
            config = yaml.safe_load(Path(config).read_text())
        self.config = config
        self.lowercase_names = bool(config.get("lowercaseOutputName"))
        self.lowercase_labels = bool(config.get("lowercaseOutputLabelNames"))
        self.include = config.get("includeObjectNames") or config.get("whitelistObjectNames")
        self.exclude = config.get("excludeObjectNames") or config.get("blacklistObjectNames") or []
        self.rules = [(re.compile(r"^.*(?:" + rule["pattern"] + r").*$", re.ASCII), rule)
                      for rule in config.get("rules", [])]

    def included(self, line):
        domain, properties, _ = parse_mbean(line)
        if self.include and not any(_object_name_matches(p, domain, properties) for p in self.include):
            return False
        return not any(_object_name_matches(p, domain, properties) for p in self.exclude)

    def first_match(self, line, value="1.0"):
        """(rule, regex match) of the first rule matching one MBean attribute, or None if none does."""
        if not self.included(line):
            return None
        domain, properties, attribute = parse_mbean(line)
        text = f"{domain}<{', '.join(f'{k}={v}' for k, v in properties)}><>{attribute}: {value}"
        for pattern, rule in self.rules:
            match = pattern.match(text)
            if match:
                return rule, match
        return None

    def export(self, line, value="1.0"):
        """(name as exposed, {label: value}, type) for one MBean attribute, or None if not exported."""
        found = self.first_match(line, value)
        if found is None:
            return None
        rule, match = found
        name = _safe_name(_substitute(rule["name"], match))
        if self.lowercase_names:
            name = name.lower()
        labels = {}
        for label, label_value in (rule.get("labels") or {}).items():
            label = _safe_name(_substitute(label, match))
            labels[label.lower() if self.lowercase_labels else label] = _substitute(label_value, match)
        kind = rule.get("type", "UNTYPED")
        if kind == "COUNTER":
            name = (name[:-len("_total")] if name.endswith("_total") else name) + "_total"
        return name, labels, kind

    def exported_names(self, lines):
        """The set of metric names the lines produce."""
        return {exported[0] for exported in map(self.export, lines) if exported}

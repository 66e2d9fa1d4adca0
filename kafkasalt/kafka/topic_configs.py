"""Kafka 3.9's topic-level configs, checked on the master before a topic reaches a broker.

The table is data, ``kafkasalt/data/kafka/topic_configs_3.9.yml`` (names, types, ranges and valid
values as Kafka's ``TopicConfig``/``LogConfig`` define them); this module only reads it and
applies it. :func:`check` parses one pillar value the way Kafka parses the string the formula
sends (``True`` -> ``true``, ``"4"`` -> 4) and says what is wrong with it.

The data file ships as package data (setup.cfg). A formula install through
``saltutil.sync_all`` copies Python files only, so there the table can be missing: :func:`table`
then returns None, logs a warning once, and the validator falls back to its generic checks
(names without spaces, scalar values, ``min.insync.replicas`` against the replication factor).
"""

import functools
import logging
import math
import re
from pathlib import Path

from kafkasalt.common import data
from kafkasalt.common.validation import did_you_mean, is_int, type_name

log = logging.getLogger(__name__)

KAFKA_VERSION = "3.9"
DATA_NAME = ("kafka", f"topic_configs_{KAFKA_VERSION}.yml")
TYPES = ("int", "long", "double", "boolean", "string", "list", "class")
_BOUNDS = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_INTEGER = re.compile(r"[+-]?[0-9]+")
_JAVA_CLASS = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def table(path=None):
    """``{config name: spec}`` from the data file, or None when the file is not installed."""
    return _table(path or data.path(*DATA_NAME))


@functools.lru_cache(maxsize=None)
def _table(path):
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        log.warning("kafkasalt: %s is not installed (a formula sync copies Python files only); topic configs "
                    "are checked without Kafka's table of names and types", path)
        return None
    import yaml  # Salt's own dependency; only needed once the table is read

    configs = yaml.safe_load(text)["configs"]
    for name, spec in configs.items():
        if spec.get("type") not in TYPES:
            raise ValueError(f"{path}: {name}: type must be one of {', '.join(TYPES)}, not {spec.get('type')!r}")
    return configs


def _broker_synonyms(configs):
    return {broker: name for name, spec in configs.items() for broker in spec.get("broker", ()) if broker != name}


def unknown_name_message(name, configs):
    """Why ``name`` is not a topic config, with the likely intended one."""
    synonym = _broker_synonyms(configs).get(name)
    if synonym:
        return f"{name} is a broker setting (server.properties); the topic's own config is {synonym}"
    hint = did_you_mean(name, configs) or " (see Kafka's topic configs)"
    return f"unknown topic config for Kafka {KAFKA_VERSION}{hint}"


def check(name, value, configs):
    """``(parsed, problem)``: the value as Kafka reads it and ``None``, or ``None`` and the reason
    it is refused. ``configs`` is :func:`table`'s result."""
    spec = configs.get(name)
    if spec is None:
        return None, unknown_name_message(name, configs)
    kind = spec["type"]
    parsed, problem = _PARSERS[kind](value)
    if problem:
        return None, problem
    problem = _bounds_problem(parsed, spec) if kind in ("int", "long", "double") else _values_problem(parsed, spec)
    if problem:
        return None, problem
    allowed = spec.get("zookeeper_mode")
    if allowed is not None and parsed not in allowed:
        shown = ", ".join(_show(v) for v in allowed)
        return None, f"Kafka refuses {_show(parsed)} in ZooKeeper mode (allowed: {shown})"
    return parsed, None


def as_int(value):
    """An integer or an integer string (``"4"``) as an int, else None (for checks across keys)."""
    if is_int(value):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    return None


def _show(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def _integer(kind):
    def parse(value):
        number = as_int(value)
        if number is None or isinstance(value, float):
            return None, f"expected an integer ({kind}), got {type_name(value)} {value!r}"
        low, high = _BOUNDS[kind]
        if not low <= number <= high:
            return None, f"{number} does not fit Kafka's {kind} ({low} to {high})"
        return number, None
    return parse


def _double(value):
    if isinstance(value, bool):
        return None, f"expected a number, got boolean {value!r}"
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None, f"expected a number, got {type_name(value)} {value!r}"
    if not math.isfinite(number):
        return None, f"expected a finite number, got {value!r}"
    return number, None


def _boolean(value):
    if isinstance(value, bool):
        return value, None
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true", None
    return None, f"expected true or false, got {type_name(value)} {value!r}"


def _string(value):
    if isinstance(value, bool):
        return None, f"expected a string, got boolean {value!r} (quote it in YAML)"
    if not isinstance(value, (str, int, float)):
        return None, f"expected a string, got {type_name(value)}"
    text = str(value)
    if _CONTROL_CHARS.search(text):
        return None, "must be a single line"
    return text.strip(), None


def _list(value):
    text, problem = _string(value)
    if problem:
        return None, problem.replace("a string", "a comma-separated list")
    return tuple(part.strip() for part in text.split(",")) if text else (), None


def _class(value):
    text, problem = _string(value)
    if problem:
        return None, problem
    if not _JAVA_CLASS.fullmatch(text):
        return None, f"expected a Java class name, got {value!r}"
    return text, None


_PARSERS = {"int": _integer("int"), "long": _integer("long"), "double": _double, "boolean": _boolean,
            "string": _string, "list": _list, "class": _class}


def _bounds_problem(number, spec):
    if number in spec.get("also", ()):
        return None
    low, high = spec.get("min"), spec.get("max")
    if (low is not None and number < low) or (high is not None and number > high):
        also = spec.get("also")
        if low is not None and high is not None:
            wanted = f"from {low} to {high}"
        elif low is not None:
            wanted = f"at least {low}"
        else:
            wanted = f"at most {high}"
        if also:
            wanted += " or " + ", ".join(str(a) for a in also)
        return f"{_show(number)} is out of range: Kafka accepts {wanted}"
    return None


def _values_problem(parsed, spec):
    values = spec.get("values")
    items = parsed if isinstance(parsed, tuple) else (parsed,)
    if values is not None:
        bad = [item for item in items if item not in values]
        if bad:
            hint = did_you_mean(bad[0], values) if isinstance(bad[0], str) else ""
            return f"{bad[0]!r} is not one of {', '.join(values)}{hint}"
    pattern = spec.get("item_pattern")
    if pattern is not None and isinstance(parsed, tuple):
        wildcard = spec.get("wildcard")
        if not ("".join(parsed) == wildcard or all(re.fullmatch(pattern, item) for item in parsed)):
            return (f"expected {wildcard!r} or a list of <partition>:<broker id> pairs such as '0:1,1:2', "
                    f"got {','.join(parsed)!r}")
    return None


__all__ = ["DATA_NAME", "KAFKA_VERSION", "as_int", "check", "table", "unknown_name_message"]

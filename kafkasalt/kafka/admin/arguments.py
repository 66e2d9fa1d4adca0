"""Argument checks shared by the admin operations: each raises
:class:`~kafkasalt.kafka.admin.connection.KafkaInputError` naming the argument."""

from __future__ import annotations

import re

from kafkasalt.kafka.admin.connection import KafkaInputError, _require_int

# Kafka's topic name rules (org.apache.kafka.common.internals.Topic).
_TOPIC_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")
_MAX_TOPIC_NAME_LENGTH = 249


def _require_topic_name(name, argument="name"):
    if not isinstance(name, str) or not name:
        raise KafkaInputError(argument, f"must be a non-empty topic name, got {name!r}")
    if name in (".", "..") or len(name) > _MAX_TOPIC_NAME_LENGTH or not _TOPIC_NAME.match(name):
        raise KafkaInputError(argument, f"{name!r} is not a legal topic name (letters, digits, '.', '_', '-'; "
                                        f"at most {_MAX_TOPIC_NAME_LENGTH} characters; not '.' or '..')")
    return name


def _config_value(argument, key, value):
    """Kafka config values travel as strings; render Python values the way Kafka spells them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, (list, tuple)) and all(isinstance(item, (str, int, float)) for item in value):
        return ",".join(str(item) for item in value)
    raise KafkaInputError(f"{argument}[{key!r}]", f"must be a string, number, boolean or list, got "
                                                  f"{type(value).__name__}")


def _require_config_map(argument, configs):
    if configs is None:
        return {}
    if not isinstance(configs, dict):
        raise KafkaInputError(argument, f"must be a mapping of config key to value, got {type(configs).__name__}")
    rendered = {}
    for key, value in configs.items():
        if not isinstance(key, str) or not key.strip():
            raise KafkaInputError(argument, f"config keys must be non-empty strings, got {key!r}")
        if value is None:
            raise KafkaInputError(f"{argument}[{key!r}]", "is None; list the key in delete_keys to remove it")
        rendered[key] = _config_value(argument, key, value)
    return rendered


def _require_key_list(argument, keys):
    if keys is None:
        return []
    if isinstance(keys, str) or not isinstance(keys, (list, tuple, set, frozenset)):
        raise KafkaInputError(argument, f"must be a list of config keys, got {type(keys).__name__}")
    for key in keys:
        if not isinstance(key, str) or not key.strip():
            raise KafkaInputError(argument, f"config keys must be non-empty strings, got {key!r}")
    return sorted(set(keys))


def _broker_resource_name(broker_id, argument="broker_id"):
    """Broker config resource name: the id as text, or '' for the cluster-wide default."""
    if broker_id is None or broker_id == "":
        return ""
    if isinstance(broker_id, str) and broker_id.isdigit():
        broker_id = int(broker_id)
    _require_int(argument, broker_id, minimum=0)
    return str(broker_id)


def _normalize_partition_key(argument, key):
    if isinstance(key, (tuple, list)) and len(key) == 2:
        topic, partition = key
    elif hasattr(key, "topic") and hasattr(key, "partition"):  # kafka.TopicPartition
        topic, partition = key.topic, key.partition
    else:
        raise KafkaInputError(argument, f"partitions are (topic, partition) pairs, got {key!r}")
    _require_topic_name(topic, argument)
    _require_int(argument, partition, minimum=0)
    return topic, partition


def _normalize_plan(plan, argument="plan"):
    """{(topic, partition): [broker ids]} from that form, a list of {topic, partition, replicas}
    dicts, or the ``{"version": 1, "partitions": [...]}`` document of kafka-reassign-partitions."""
    if isinstance(plan, dict) and "partitions" in plan and isinstance(plan["partitions"], list):
        plan = plan["partitions"]
    entries = []
    if isinstance(plan, dict):
        entries = list(plan.items())
    elif isinstance(plan, list):
        for index, entry in enumerate(plan):
            if not isinstance(entry, dict) or not {"topic", "partition", "replicas"} <= set(entry):
                raise KafkaInputError(f"{argument}[{index}]", "must be a mapping with topic, partition and replicas")
            entries.append(((entry["topic"], entry["partition"]), entry["replicas"]))
    else:
        raise KafkaInputError(argument, f"must map (topic, partition) to a list of broker ids, "
                                        f"got {type(plan).__name__}")
    if not entries:
        raise KafkaInputError(argument, "is empty")
    normalized = {}
    for key, replicas in entries:
        topic_partition = _normalize_partition_key(argument, key)
        label = f"{argument}[{topic_partition[0]}-{topic_partition[1]}]"
        if topic_partition in normalized:
            raise KafkaInputError(label, "appears twice")
        if isinstance(replicas, (str, bytes)) or not isinstance(replicas, (list, tuple)) or not replicas:
            raise KafkaInputError(label, f"must be a non-empty list of broker ids, got {replicas!r}")
        for broker in replicas:
            _require_int(label, broker, minimum=0)
        if len(set(replicas)) != len(replicas):
            raise KafkaInputError(label, f"lists a broker twice: {list(replicas)}")
        normalized[topic_partition] = list(replicas)
    return normalized


def _normalize_assignment(assignment, argument="replica_assignment"):
    """{partition: [broker ids]} from a list (index = partition) or a mapping; partitions 0..n-1."""
    if isinstance(assignment, (list, tuple)):
        assignment = dict(enumerate(assignment))
    if not isinstance(assignment, dict) or not assignment:
        raise KafkaInputError(argument, "must be a non-empty list of broker lists (one per partition)")
    normalized = {}
    for partition, replicas in assignment.items():
        if isinstance(partition, str) and partition.isdigit():
            partition = int(partition)
        _require_int(argument, partition, minimum=0)
        label = f"{argument}[{partition}]"
        if isinstance(replicas, (str, bytes)) or not isinstance(replicas, (list, tuple)) or not replicas:
            raise KafkaInputError(label, f"must be a non-empty list of broker ids, got {replicas!r}")
        for broker in replicas:
            _require_int(label, broker, minimum=0)
        if len(set(replicas)) != len(replicas):
            raise KafkaInputError(label, f"lists a broker twice: {list(replicas)}")
        normalized[partition] = list(replicas)
    if sorted(normalized) != list(range(len(normalized))):
        raise KafkaInputError(argument, f"partitions must be numbered 0..{len(normalized) - 1}, "
                                        f"got {sorted(normalized)}")
    return dict(sorted(normalized.items()))


def _normalize_partition_list(argument, partitions):
    if isinstance(partitions, dict):
        partitions = list(partitions)
    if isinstance(partitions, (str, bytes)) or not isinstance(partitions, (list, tuple, set)):
        raise KafkaInputError(argument, f"must be a list of (topic, partition) pairs, got {type(partitions).__name__}")
    return sorted({_normalize_partition_key(argument, item) for item in partitions})


def _partition_label(topic, partition):
    return f"{topic}-{partition}"

"""Topic and broker configs: read them, and change them with IncrementalAlterConfigs."""

from __future__ import annotations

from kafkasalt.kafka.admin.arguments import (_broker_resource_name, _config_value, _require_config_map,
                                             _require_key_list, _require_topic_name)
from kafkasalt.kafka.admin.connection import (_NO_ERROR, _TOPIC_READY_TIMEOUT_MS, _UNKNOWN_TOPIC_OR_PARTITION,
                                              KafkaAdminError, KafkaInputError)

CONFIG_OPERATIONS = ("SET", "DELETE", "APPEND", "SUBTRACT")
# ConfigSource values of DescribeConfigs (KIP-226).
_SOURCE_DYNAMIC_TOPIC = 1
_SOURCE_DYNAMIC_BROKER = 2
_SOURCE_DYNAMIC_DEFAULT_BROKER = 3


class ConfigsMixin:
    """The config operations of :class:`~kafkasalt.kafka.admin.KafkaAdmin`."""

    def _describe_configs(self, what, resource_type, name, keys=None, node_id=None, missing=None):
        """Raw request: DescribeConfigs of one resource -> ``{key: {"value", "source", ...}}``.

        Unlike kafka-python's describe_configs it raises on the resource's error code (a missing
        topic would otherwise look like a topic without overrides).
        """
        from kafka.admin import ConfigResource

        client = self.connect()
        request = client._describe_configs_request([ConfigResource(resource_type, name, keys)])
        response = self._send(what, request, node_id)
        configs = {}
        for result in response.results:
            if result.error_code == _UNKNOWN_TOPIC_OR_PARTITION and missing:
                raise KafkaAdminError(missing)
            if result.error_code != _NO_ERROR:
                raise self._protocol_error(what, result.error_code, result.error_message)
            for entry in result.configs:
                configs[entry.name] = {"value": entry.value, "source": entry.config_source,
                                       "read_only": entry.read_only, "sensitive": entry.is_sensitive}
        return configs

    def _describe_many_configs(self, what, resource_type, names, keys):
        """Raw request: the same keys of many resources (one request) -> ``{name: {key: value}}``."""
        from kafka.admin import ConfigResource

        if not names:
            return {}
        client = self.connect()
        request = client._describe_configs_request([ConfigResource(resource_type, name, list(keys))
                                                    for name in names])
        response = self._send(what, request)
        values = {}
        for result in response.results:
            if result.error_code != _NO_ERROR:
                continue  # e.g. deleted meanwhile; callers fall back to defaults
            values[result.resource_name] = {entry.name: entry.value for entry in result.configs}
        return values

    def _alter_configs(self, what, resource_type, name, operations, node_id=None):
        """Raw request: IncrementalAlterConfigs ``{key: (op, value)}`` on one resource.

        Topic configs are read from ZooKeeper, so they are visible at once. Broker configs are
        applied by each broker when ZooKeeper notifies it; this waits until the broker(s)
        concerned report the new values, so that the next read sees this write.
        """
        from kafka.admin import ConfigResource

        client = self.connect()
        request = client._alter_configs_request([ConfigResource(resource_type, name, dict(operations))],
                                                validate_only=False, incremental=True)
        response = self._send(what, request, node_id)
        for result in response.responses:
            if result.error_code != _NO_ERROR:
                raise self._protocol_error(what, result.error_code, result.error_message)
        if resource_type == "BROKER":
            self._wait_for_broker_configs(what, name, operations)

    def _wait_for_broker_configs(self, what, resource, operations, timeout_ms=_TOPIC_READY_TIMEOUT_MS):
        source = _SOURCE_DYNAMIC_DEFAULT_BROKER if resource == "" else _SOURCE_DYNAMIC_BROKER
        brokers = [int(resource)] if resource else [b["id"] for b in self.describe_cluster()["brokers"]]

        def ready(broker_id):
            configs = self._describe_configs(what, "BROKER", resource, list(operations), node_id=broker_id)
            current = {key: entry["value"] for key, entry in configs.items() if entry["source"] == source}
            return all(_config_applied(current, key, operation, value)
                       for key, (operation, value) in operations.items())

        pending = self._wait_for_every_broker(brokers, ready, timeout_ms)
        if pending:
            raise KafkaAdminError(f"{what}: accepted, but broker(s) {', '.join(map(str, pending))} "
                                  f"did not apply it within {timeout_ms} ms")

    def topic_configs(self, name):
        """The topic's overrides (configs whose source is the topic itself): ``{key: value}``."""
        _require_topic_name(name)
        configs = self._describe_configs(f"reading configs of topic '{name}'", "TOPIC", name,
                                         missing=f"topic '{name}' does not exist")
        return {key: entry["value"] for key, entry in sorted(configs.items())
                if entry["source"] == _SOURCE_DYNAMIC_TOPIC}

    def topics_configs(self, names, batch=500):
        """The overrides of many topics at once: ``{name: {key: value}}`` (DescribeConfigs in
        batches of ``batch`` topics). A topic deleted meanwhile is left out."""
        from kafka.admin import ConfigResource

        names = sorted({_require_topic_name(name, "names") for name in names})
        client = self.connect()
        result = {}
        for start in range(0, len(names), batch):
            chunk = names[start:start + batch]
            request = client._describe_configs_request([ConfigResource("TOPIC", name) for name in chunk])
            response = self._send(f"reading configs of {len(chunk)} topic(s)", request)
            for item in response.results:
                if item.error_code == _UNKNOWN_TOPIC_OR_PARTITION:
                    continue
                if item.error_code != _NO_ERROR:
                    raise self._protocol_error(f"reading configs of topic '{item.resource_name}'", item.error_code,
                                               item.error_message)
                result[item.resource_name] = {entry.name: entry.value for entry in sorted(item.configs,
                                                                                          key=lambda e: e.name)
                                              if entry.config_source == _SOURCE_DYNAMIC_TOPIC}
        return dict(sorted(result.items()))

    def broker_configs(self, broker_id):
        """Dynamic configs of one broker, or (``broker_id`` None/"") the cluster-wide defaults.

        Sensitive values (passwords) come back as None, as Kafka never returns them.
        """
        resource = _broker_resource_name(broker_id)
        source = _SOURCE_DYNAMIC_DEFAULT_BROKER if resource == "" else _SOURCE_DYNAMIC_BROKER
        what = "reading cluster-wide broker configs" if resource == "" else f"reading configs of broker {resource}"
        configs = self._describe_configs(what, "BROKER", resource, node_id=int(resource) if resource else None)
        return {key: entry["value"] for key, entry in sorted(configs.items()) if entry["source"] == source}

    def incremental_alter_configs(self, resource_type, resource_name, operations):
        """Low-level IncrementalAlterConfigs: ``operations`` maps key -> ``(op, value)`` with op one of
        SET, DELETE, APPEND, SUBTRACT (value ignored for DELETE). ``resource_type`` is TOPIC or
        BROKER (name '' = cluster-wide default). Applies as given; returns None."""
        kind = str(resource_type).upper()
        if kind not in ("TOPIC", "BROKER"):
            raise KafkaInputError("resource_type", f"must be TOPIC or BROKER, got {resource_type!r}")
        if kind == "TOPIC":
            _require_topic_name(resource_name, "resource_name")
            node_id = None
        else:
            resource_name = _broker_resource_name(resource_name, "resource_name")
            node_id = int(resource_name) if resource_name else None
        if not isinstance(operations, dict) or not operations:
            raise KafkaInputError("operations", "must be a non-empty mapping of key -> (operation, value)")
        checked = {}
        for key, entry in operations.items():
            if not isinstance(key, str) or not key:
                raise KafkaInputError("operations", f"config keys must be non-empty strings, got {key!r}")
            if not isinstance(entry, (tuple, list)) or len(entry) != 2:
                raise KafkaInputError(f"operations[{key!r}]", f"must be (operation, value), got {entry!r}")
            operation, value = entry
            operation_name = str(operation).upper()
            if operation_name not in CONFIG_OPERATIONS:
                raise KafkaInputError(f"operations[{key!r}]", f"unknown config operation {operation!r}; "
                                                              f"use one of {', '.join(CONFIG_OPERATIONS)}")
            if operation_name == "DELETE":
                checked[key] = ("DELETE", None)
            else:
                if value is None:
                    raise KafkaInputError(f"operations[{key!r}]", f"{operation_name} needs a value")
                checked[key] = (operation_name, _config_value("operations", key, value))
        label = f"topic '{resource_name}'" if kind == "TOPIC" else (
            f"broker {resource_name}" if resource_name else "the cluster-wide broker default")
        self._alter_configs(f"altering configs of {label}", kind, resource_name, checked, node_id)

    @staticmethod
    def _config_changes(current, set_configs, delete_keys):
        """The operations needed to go from ``current`` to the wanted state, and their report."""
        operations, changes = {}, {}
        for key, value in sorted(set_configs.items()):
            # A sensitive value reads back as None: always re-set it.
            if current.get(key) != value or (key in current and current[key] is None):
                operations[key] = ("SET", value)
                changes[key] = {"old": current.get(key), "new": value}
        for key in delete_keys:
            if key in current:
                operations[key] = ("DELETE", None)
                changes[key] = {"old": current[key], "new": None}
        return operations, changes

    def _check_set_and_delete(self, set_configs, delete_keys):
        wanted = _require_config_map("set_configs", set_configs)
        removed = _require_key_list("delete_keys", delete_keys)
        both = sorted(set(wanted) & set(removed))
        if both:
            raise KafkaInputError("delete_keys", f"{', '.join(both)} also appear in set_configs")
        return wanted, removed

    def alter_topic_config(self, name, set_configs=None, delete_keys=None, dry_run=False):
        """Set and/or remove topic overrides (IncrementalAlterConfigs; other keys stay untouched).

        Only what differs is sent. Returns ``{key: {"old", "new"}}`` of the changes (``new`` None =
        override removed); empty when nothing had to change.
        """
        _require_topic_name(name)
        wanted, removed = self._check_set_and_delete(set_configs, delete_keys)
        operations, changes = self._config_changes(self.topic_configs(name), wanted, removed)
        if operations and not dry_run:
            self._alter_configs(f"altering configs of topic '{name}'", "TOPIC", name, operations)
        return changes

    def alter_broker_config(self, broker_id, set_configs=None, delete_keys=None, dry_run=False):
        """Set and/or remove dynamic broker configs of one broker, or cluster-wide when
        ``broker_id`` is None or "". Returns the changes like :meth:`alter_topic_config`.
        """
        resource = _broker_resource_name(broker_id)
        wanted, removed = self._check_set_and_delete(set_configs, delete_keys)
        operations, changes = self._config_changes(self.broker_configs(resource), wanted, removed)
        if operations and not dry_run:
            label = f"broker {resource}" if resource else "the cluster-wide broker default"
            self._alter_configs(f"altering configs of {label}", "BROKER", resource, operations,
                                int(resource) if resource else None)
        return changes


def _config_applied(current, key, operation, value):
    if operation == "SET":
        # A sensitive value reads back as None: its presence is all we can check.
        return key in current and (current[key] is None or current[key] == value)
    if operation == "DELETE":
        return key not in current
    return True  # APPEND/SUBTRACT: the resulting list is the broker's business

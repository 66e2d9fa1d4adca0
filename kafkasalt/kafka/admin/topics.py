"""Topics: list, describe, create, delete, add partitions."""

from __future__ import annotations

from kafkasalt.kafka.admin.arguments import (_normalize_assignment, _require_config_map, _require_int,
                                             _require_topic_name)
from kafkasalt.kafka.admin.connection import (_NO_ERROR, _TOPIC_ALREADY_EXISTS, _TOPIC_AUTHORIZATION_FAILED,
                                              _TOPIC_READY_TIMEOUT_MS, _UNKNOWN_TOPIC_OR_PARTITION, KafkaAdminError,
                                              KafkaInputError)

INTERNAL_TOPICS = ("__consumer_offsets", "__transaction_state")


class TopicsMixin:
    """The topic operations of :class:`~kafkasalt.kafka.admin.KafkaAdmin`."""

    def list_topics(self, include_internal=False):
        """Sorted topic names, from a single Metadata request."""
        response = self._metadata()
        return sorted(topic.name for topic in response.topics
                      if topic.error_code == _NO_ERROR and (include_internal or not topic.is_internal))

    def describe_topics(self, names=None, missing_ok=False):
        """``{name: {"internal", "partitions": [...], "replication_factor"}}``.

        ``names=None`` describes every topic. A named topic that does not exist raises, unless
        ``missing_ok`` (then it is left out).
        """
        if names is not None:
            if isinstance(names, str):
                names = [names]
            names = sorted({_require_topic_name(name, "names") for name in names})
            if not names:
                return {}
        response = self._metadata(names)
        result, missing = {}, []
        for topic in response.topics:
            if topic.error_code == _UNKNOWN_TOPIC_OR_PARTITION:
                missing.append(topic.name)
                continue
            if topic.error_code == _TOPIC_AUTHORIZATION_FAILED:
                raise KafkaAdminError(f"describing topic '{topic.name}': user '{self.settings.username}' "
                                      f"is not authorized")
            if topic.error_code != _NO_ERROR:
                raise self._protocol_error(f"describing topic '{topic.name}'", topic.error_code)
            partitions = self._describe_partitions(topic)
            result[topic.name] = {
                "internal": bool(topic.is_internal),
                "partitions": partitions,
                "replication_factor": max((len(p["replicas"]) for p in partitions), default=0),
            }
        if missing and not missing_ok:
            names = ", ".join(f"'{name}'" for name in sorted(missing))
            raise KafkaAdminError(f"topic {names} does not exist" if len(missing) == 1 else
                                  f"topics {names} do not exist")
        return dict(sorted(result.items()))

    def create_topic(self, name, partitions, replication_factor, config=None, replica_assignment=None,
                     dry_run=False):
        """Create a topic and wait until every broker knows it with a leader per partition.
        Returns its description.

        ``replica_assignment`` (optional) places the replicas explicitly: a list with one broker
        list per partition (or ``{partition: [brokers]}``); ``partitions`` and
        ``replication_factor`` must then match it (or be None).
        """
        _require_topic_name(name)
        configs = _require_config_map("config", config)
        assignments = None
        if replica_assignment is not None:
            assignments = _normalize_assignment(replica_assignment)
            sizes = {len(replicas) for replicas in assignments.values()}
            if len(sizes) != 1:
                raise KafkaInputError("replica_assignment", "every partition needs the same number of replicas")
            if partitions is None:
                partitions = len(assignments)
            if replication_factor is None:
                replication_factor = sizes.pop()
            elif replication_factor not in sizes:
                raise KafkaInputError("replication_factor", f"{replication_factor} does not match "
                                                            f"replica_assignment ({sizes.pop()} replicas each)")
            if partitions != len(assignments):
                raise KafkaInputError("partitions", f"{partitions} does not match replica_assignment "
                                                    f"({len(assignments)} partitions)")
        _require_int("partitions", partitions, minimum=1)
        _require_int("replication_factor", replication_factor, minimum=1)
        brokers = {broker["id"] for broker in self.describe_cluster()["brokers"]}
        if replication_factor > len(brokers):
            raise KafkaInputError("replication_factor", f"{replication_factor} is larger than the number of "
                                                        f"brokers ({len(brokers)})")
        if assignments:
            unknown = sorted({b for replicas in assignments.values() for b in replicas} - brokers)
            if unknown:
                raise KafkaInputError("replica_assignment", f"broker(s) {', '.join(map(str, unknown))} are not in "
                                                            f"the cluster")
        if dry_run:
            if self.describe_topics([name], missing_ok=True):
                raise KafkaAdminError(f"topic '{name}' already exists")
            return {"name": name, "partitions": partitions, "replication_factor": replication_factor,
                    "config": configs}
        spec = {"configs": configs}
        if assignments:  # Kafka wants -1/-1 with an explicit assignment
            spec["assignments"] = assignments
        else:
            spec.update(num_partitions=partitions, replication_factor=replication_factor)
        response = self._call(f"creating topic '{name}'",
                              lambda client: client.create_topics({name: spec}, raise_errors=False))
        for topic in response["topics"]:
            if topic["error_code"] == _TOPIC_ALREADY_EXISTS:
                raise KafkaAdminError(f"topic '{name}' already exists")
            if topic["error_code"] != _NO_ERROR:
                raise self._protocol_error(f"creating topic '{name}'", topic["error_code"], topic.get("error_message"))
        self._wait_for_partitions(name, partitions)
        return self.describe_topics([name])[name]

    def create_topics_batch(self, topics, timeout_ms=None):
        """Create many topics in one CreateTopics request (no waiting for leaders).

        ``topics`` maps name -> ``{"partitions", "replication_factor", "config"?}``. Returns
        ``{name: None | error text}``. Meant for bulk loads (benchmarks, migrations).
        """
        if not isinstance(topics, dict) or not topics:
            raise KafkaInputError("topics", "must be a non-empty mapping of topic name to settings")
        request = {}
        for name, spec in topics.items():
            _require_topic_name(name, "topics")
            spec = spec or {}
            if not isinstance(spec, dict):
                raise KafkaInputError(f"topics[{name!r}]", "must be a mapping (partitions, replication_factor, config)")
            request[name] = {
                "num_partitions": _require_int(f"topics[{name!r}].partitions", spec.get("partitions", 1), 1),
                "replication_factor": _require_int(f"topics[{name!r}].replication_factor",
                                                   spec.get("replication_factor", 1), 1),
                "configs": _require_config_map(f"topics[{name!r}].config", spec.get("config")),
            }
        response = self._call("creating topics", lambda client: client.create_topics(
            request, timeout_ms=timeout_ms, raise_errors=False))
        results = {}
        for topic in response["topics"]:
            error = None
            if topic["error_code"] != _NO_ERROR:
                error = str(self._protocol_error(topic["name"], topic["error_code"], topic.get("error_message")))
            results[topic["name"]] = error
        return results

    def delete_topic(self, name, allow_internal=False, dry_run=False):
        """Delete a topic. Internal topics need ``allow_internal=True``. Returns True.

        Waits until no broker lists the topic any more.
        """
        _require_topic_name(name)
        if name in INTERNAL_TOPICS and not allow_internal:
            raise KafkaInputError("name", f"'{name}' is an internal Kafka topic; pass allow_internal=True "
                                          f"if you really mean to delete it")
        self.describe_topics([name])  # raises when missing
        if dry_run:
            return True
        response = self._call(f"deleting topic '{name}'",
                              lambda client: client.delete_topics([name], raise_errors=False))
        for topic in response["topics"]:
            if topic["error_code"] != _NO_ERROR:
                raise self._protocol_error(f"deleting topic '{name}'", topic["error_code"], topic.get("error_message"))
        self._wait_on_every_broker(name, lambda topic: topic is None, "gone")
        return True

    def create_partitions(self, name, total, dry_run=False):
        """Grow ``name`` to ``total`` partitions. Returns ``{"old", "new"}``, or ``{}`` if already there."""
        _require_topic_name(name)
        _require_int("total", total, minimum=1)
        current = len(self.describe_topics([name])[name]["partitions"])
        if total < current:
            raise KafkaInputError("total", f"topic '{name}' has {current} partitions; Kafka cannot remove "
                                           f"partitions (asked for {total})")
        if total == current:
            return {}
        if not dry_run:
            response = self._call(f"adding partitions to '{name}'",
                                  lambda client: client.create_partitions({name: total}, raise_errors=False))
            for result in response.results:
                if result.error_code != _NO_ERROR:
                    raise self._protocol_error(f"adding partitions to '{name}'", result.error_code,
                                               result.error_message)
            self._wait_for_partitions(name, total)
        return {"old": current, "new": total}

    def _wait_for_partitions(self, name, total):
        """Wait until every broker's metadata shows ``total`` partitions of ``name``, each led."""
        def ready(topic):
            return (topic is not None and topic.error_code == _NO_ERROR and len(topic.partitions) >= total
                    and all(p.leader_id >= 0 for p in topic.partitions))

        self._wait_on_every_broker(name, ready, f"visible with {total} partition(s) and their leaders")

    def _wait_on_every_broker(self, name, condition, wanted, timeout_ms=_TOPIC_READY_TIMEOUT_MS):
        """Each broker learns about topic changes on its own schedule (the controller pushes
        metadata): poll every broker until ``condition(topic metadata or None)`` holds, so that the
        next call reads what this one wrote whichever broker answers it."""
        def ready(broker_id):
            try:
                response = self._metadata([name], node_id=broker_id)
            except KafkaAdminError:
                return False  # that broker is not reachable right now; keep asking until the deadline
            topic = next((t for t in response.topics if t.name == name and
                          t.error_code != _UNKNOWN_TOPIC_OR_PARTITION), None)
            return condition(topic)

        brokers = [broker["id"] for broker in self.describe_cluster()["brokers"]]
        pending = self._wait_for_every_broker(brokers, ready, timeout_ms)
        if pending:
            raise KafkaAdminError(f"topic '{name}' was not {wanted} on broker(s) "
                                  f"{', '.join(map(str, pending))} within {timeout_ms} ms")

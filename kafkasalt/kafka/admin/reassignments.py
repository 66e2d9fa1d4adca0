"""Partition reassignments with replication throttles, and preferred-leader elections."""

from __future__ import annotations

from collections import defaultdict

from kafkasalt.kafka.admin.arguments import (_normalize_partition_list, _normalize_plan, _partition_label,
                                             _require_topic_name)
from kafkasalt.kafka.admin.connection import (_ELECTION_NOT_NEEDED, _NO_ERROR, KafkaAdminError, KafkaInputError,
                                              _require_int)

LEADER_THROTTLED_RATE = "leader.replication.throttled.rate"
FOLLOWER_THROTTLED_RATE = "follower.replication.throttled.rate"
LOG_DIR_THROTTLED_RATE = "replica.alter.log.dirs.io.max.bytes.per.second"
LEADER_THROTTLED_REPLICAS = "leader.replication.throttled.replicas"
FOLLOWER_THROTTLED_REPLICAS = "follower.replication.throttled.replicas"
#: Broker-level throttle keys that ``kafka-reassign-partitions.sh --verify`` removes when done.
BROKER_THROTTLE_KEYS = (LEADER_THROTTLED_RATE, FOLLOWER_THROTTLED_RATE, LOG_DIR_THROTTLED_RATE)
#: Topic-level throttle keys (lists of ``partition:broker``).
TOPIC_THROTTLE_KEYS = (LEADER_THROTTLED_REPLICAS, FOLLOWER_THROTTLED_REPLICAS)


class ReassignmentsMixin:
    """The reassignment, throttle and leader operations of
    :class:`~kafkasalt.kafka.admin.KafkaAdmin`."""

    def list_reassignments(self):
        """Ongoing partition reassignments: ``[{"topic", "partition", "replicas", "adding", "removing"}]``."""
        return self._reassignments(None)

    def _reassignments(self, partitions):
        from kafka import TopicPartition

        wanted = None if partitions is None else [TopicPartition(t, p) for t, p in partitions]
        if wanted == []:
            return []
        ongoing = self._call("listing partition reassignments",
                             lambda client: client.list_partition_reassignments(wanted))
        return sorted(({"topic": tp.topic, "partition": tp.partition, "replicas": state["replicas"],
                        "adding": state["adding_replicas"], "removing": state["removing_replicas"]}
                       for tp, state in ongoing.items()), key=lambda item: (item["topic"], item["partition"]))

    def _current_assignment(self, partitions):
        topics = self.describe_topics(sorted({topic for topic, _ in partitions}))
        current = {}
        for topic, partition in partitions:
            by_index = {p["partition"]: p["replicas"] for p in topics[topic]["partitions"]}
            if partition not in by_index:
                raise KafkaInputError("plan", f"topic '{topic}' has no partition {partition} "
                                              f"(it has {len(by_index)})")
            current[(topic, partition)] = by_index[partition]
        return current

    def execute_reassignment(self, plan, throttle_bytes=None, dry_run=False):
        """Start moving replicas as ``plan`` says, like ``kafka-reassign-partitions.sh --execute``.

        ``plan`` maps ``(topic, partition)`` to the target broker list (the JSON document of
        kafka-reassign-partitions or a list of ``{topic, partition, replicas}`` works too). With
        ``throttle_bytes`` (bytes/s) the involved brokers get ``leader/follower.replication.
        throttled.rate`` and the topics ``leader.replication.throttled.replicas`` (current
        replicas) and ``follower.replication.throttled.replicas`` (new replicas), each a sorted
        ``partition:broker`` list, before the move starts. Partitions already on their target
        are skipped. Returns ``{"partitions": [...], "brokers": [...], "throttle_bytes",
        "topic_throttles": {topic: {key: value}}}``.
        """
        from kafka import TopicPartition

        targets = _normalize_plan(plan)
        if throttle_bytes is not None:
            _require_int("throttle_bytes", throttle_bytes, minimum=1)
        brokers = {broker["id"] for broker in self.describe_cluster()["brokers"]}
        for (topic, partition), replicas in targets.items():
            unknown = sorted(set(replicas) - brokers)
            if unknown:
                raise KafkaInputError(f"plan[{_partition_label(topic, partition)}]",
                                      f"broker(s) {', '.join(map(str, unknown))} are not in the cluster "
                                      f"(registered: {', '.join(map(str, sorted(brokers)))})")
        current = self._current_assignment(list(targets))
        ongoing = {(item["topic"], item["partition"]): item for item in self._reassignments(list(targets))}
        moves = {}
        for key, replicas in sorted(targets.items()):
            if key in ongoing:
                # Like Kafka: the sources of a running move are its replicas minus the ones being added.
                sources = [b for b in ongoing[key]["replicas"] if b not in ongoing[key]["adding"]]
            elif current[key] == replicas:
                continue
            else:
                sources = current[key]
            moves[key] = {"sources": sorted(set(sources)), "destinations": sorted(set(replicas) - set(sources)),
                          "replicas": replicas}
        report = {"partitions": [{"topic": t, "partition": p, "from": current[(t, p)], "to": move["replicas"]}
                                 for (t, p), move in moves.items()],
                  "brokers": sorted({b for move in moves.values() for b in move["sources"] + move["destinations"]}),
                  "throttle_bytes": throttle_bytes, "topic_throttles": {}}
        if not moves:
            return report
        if throttle_bytes is not None:
            report["topic_throttles"] = _topic_throttles(moves)
        if dry_run:
            return report
        if throttle_bytes is not None:
            for topic, configs in sorted(report["topic_throttles"].items()):
                self._alter_configs(f"setting replication throttles on topic '{topic}'", "TOPIC", topic,
                                    {key: ("SET", value) for key, value in configs.items()})
            for broker in report["brokers"]:
                self._alter_configs(f"setting the replication throttle rate on broker {broker}", "BROKER",
                                    str(broker), {LEADER_THROTTLED_RATE: ("SET", str(throttle_bytes)),
                                                  FOLLOWER_THROTTLED_RATE: ("SET", str(throttle_bytes))}, broker)
        results = self._call("starting the partition reassignment", lambda client: client.alter_partition_reassignments(
            {TopicPartition(t, p): move["replicas"] for (t, p), move in moves.items()}))
        failed = {_partition_label(tp.topic, tp.partition): error.__name__ for tp, error in results.items() if error}
        if failed:
            raise KafkaAdminError("starting the partition reassignment failed for "
                                  + ", ".join(f"{label} ({error})" for label, error in sorted(failed.items())))
        return report

    def verify_reassignment(self, plan, clear_throttles=True):
        """Progress of ``plan``, like ``kafka-reassign-partitions.sh --verify``.

        ``pending`` lists partitions still moving (``state`` "in progress") or whose replicas
        differ from the plan without a running move (``state`` "not running": cancelled or
        never started). When ``done``, every replication throttle is removed: the rates on all
        brokers and the throttled-replica lists of the plan's topics. Returns
        ``{"done", "pending", "throttles_cleared"}``.
        """
        targets = _normalize_plan(plan)
        ongoing = {(item["topic"], item["partition"]): item for item in self._reassignments(list(targets))}
        current = self._current_assignment(list(targets))
        pending = []
        for (topic, partition), replicas in sorted(targets.items()):
            if (topic, partition) in ongoing:
                state = ongoing[(topic, partition)]
                pending.append({"topic": topic, "partition": partition, "state": "in progress",
                                "replicas": state["replicas"], "adding": state["adding"],
                                "removing": state["removing"], "target": replicas})
            elif current[(topic, partition)] != replicas:
                pending.append({"topic": topic, "partition": partition, "state": "not running",
                                "replicas": current[(topic, partition)], "target": replicas})
        done = not pending
        cleared = False
        if done and clear_throttles:
            self.clear_throttles(None, sorted({topic for topic, _ in targets}))
            cleared = True
        return {"done": done, "pending": pending, "throttles_cleared": cleared}

    def cancel_reassignment(self, partitions, clear_throttles=True):
        """Cancel running moves of ``partitions`` (``(topic, partition)`` pairs or a plan); partitions
        not moving are ignored. Like kafka-reassign-partitions ``--cancel``, throttles are then
        cleared unless ``clear_throttles=False``. Returns the cancelled partitions.
        """
        from kafka import TopicPartition

        if isinstance(partitions, dict) and not all(isinstance(k, tuple) for k in partitions):
            partitions = list(_normalize_plan(partitions))
        wanted = _normalize_partition_list("partitions", partitions)
        ongoing = self._reassignments(wanted)
        cancelled = [(item["topic"], item["partition"]) for item in ongoing]
        if cancelled:
            results = self._call("cancelling partition reassignments",
                                 lambda client: client.alter_partition_reassignments(
                                     {TopicPartition(t, p): None for t, p in cancelled}))
            failed = {_partition_label(tp.topic, tp.partition): error.__name__
                      for tp, error in results.items() if error}
            if failed:
                raise KafkaAdminError("cancelling the reassignment failed for "
                                      + ", ".join(f"{label} ({error})" for label, error in sorted(failed.items())))
        if clear_throttles:
            self.clear_throttles(None, sorted({topic for topic, _ in wanted}))
        return [{"topic": t, "partition": p} for t, p in cancelled]

    def clear_throttles(self, broker_ids=None, topics=None):
        """Remove replication throttles: the rate keys of ``broker_ids`` (all brokers when None)
        and the throttled-replica lists of ``topics`` (when None: every topic that has one).

        Returns ``{"brokers": {id: [removed keys]}, "topics": {name: [removed keys]}}`` listing
        only what was actually set.
        """
        if broker_ids is None:
            broker_ids = [broker["id"] for broker in self.describe_cluster()["brokers"]]
        elif isinstance(broker_ids, (str, bytes)) or not isinstance(broker_ids, (list, tuple, set)):
            raise KafkaInputError("broker_ids", "must be a list of broker ids or None for all brokers")
        broker_ids = sorted({_require_int("broker_ids", b, minimum=0) for b in broker_ids})
        if topics is None:
            topics = self.list_topics(include_internal=True)
        elif isinstance(topics, str) or not isinstance(topics, (list, tuple, set)):
            raise KafkaInputError("topics", "must be a list of topic names or None for all topics")
        topics = sorted({_require_topic_name(t, "topics") for t in topics})
        report = {"brokers": {}, "topics": {}}
        for broker in broker_ids:
            present = [key for key in BROKER_THROTTLE_KEYS if key in self.broker_configs(broker)]
            if present:
                self._alter_configs(f"clearing replication throttles of broker {broker}", "BROKER", str(broker),
                                    {key: ("DELETE", None) for key in present}, broker)
                report["brokers"][broker] = present
        current = self._describe_many_configs("reading topic throttles", "TOPIC", topics, TOPIC_THROTTLE_KEYS)
        for topic in topics:
            # Unset keys read back as the empty default; only a non-empty value is a throttle.
            present = [key for key in TOPIC_THROTTLE_KEYS if current.get(topic, {}).get(key)]
            if present:
                self._alter_configs(f"clearing replication throttles of topic '{topic}'", "TOPIC", topic,
                                    {key: ("DELETE", None) for key in present})
                report["topics"][topic] = present
        return report

    # ----------------------------------------------------------------- log directories (JBOD)
    def log_dirs(self, broker_id):
        """One broker's log directories: ``{dir: {"error": name or None, "replicas": {(topic,
        partition): bytes}, "future": {(topic, partition): bytes}}}``; ``future`` replicas are
        being copied into the directory (a move between directories in flight)."""
        broker_id = _require_int("broker_id", broker_id, minimum=0)
        replies = self._call(f"describing the log directories of broker {broker_id}",
                             lambda client: client.describe_log_dirs(None, [broker_id]))
        out = {}
        for reply in replies:
            for result in reply.get("log_dirs", []):
                entry = out.setdefault(result["log_dir"], {"error": None, "replicas": {}, "future": {}})
                if result.get("error_code"):
                    from kafka import errors

                    entry["error"] = errors.for_code(result["error_code"]).__name__
                for topic in result.get("topics", []):
                    for partition in topic.get("partitions", []):
                        kind = "future" if partition.get("is_future_key") else "replicas"
                        entry[kind][(topic["name"], partition["partition_index"])] = partition.get("partition_size", 0)
        return out

    def move_between_log_dirs(self, broker_id, moves, throttle_bytes=None):
        """Start moving replicas of ``broker_id`` between its directories: ``moves`` maps
        ``(topic, partition)`` to the target directory. With ``throttle_bytes`` the broker's
        ``replica.alter.log.dirs.io.max.bytes.per.second`` is set first (cleared by
        :meth:`clear_throttles`)."""
        broker_id = _require_int("broker_id", broker_id, minimum=0)
        if not moves:
            return []
        if throttle_bytes is not None:
            _require_int("throttle_bytes", throttle_bytes, minimum=1)
            self._alter_configs(f"setting the log-dir move throttle of broker {broker_id}", "BROKER", str(broker_id),
                                {LOG_DIR_THROTTLED_RATE: ("SET", str(throttle_bytes))}, broker_id)
        results = self._call(f"moving replicas between the log directories of broker {broker_id}",
                             lambda client: client.alter_replica_log_dirs(
                                 {(topic, partition, broker_id): target for (topic, partition), target in moves.items()}))
        failed = sorted(f"{tpr.topic}-{tpr.partition}: {error.__name__}" for tpr, error in results.items()
                        if error is not None and error.__name__ != "NoError")
        if failed:
            raise KafkaAdminError(f"moving replicas between log directories of broker {broker_id} failed: "
                                  + ", ".join(failed))
        return sorted(f"{topic}-{partition}" for topic, partition in moves)

    # ----------------------------------------------------------------- leaders
    def elect_preferred_leaders(self, topic_partitions=None):
        """Move leadership back to each partition's preferred (first) replica.

        ``topic_partitions``: a list of ``(topic, partition)`` pairs, or None for every partition.
        Returns ``{"elected": [...], "not_needed": n, "failed": [{"topic", "partition", "error"}]}``.
        """
        if topic_partitions is None:
            by_topic = {name: [p["partition"] for p in topic["partitions"]]
                        for name, topic in self.describe_topics().items()}
        else:
            by_topic = defaultdict(list)
            for topic, partition in _normalize_partition_list("topic_partitions", topic_partitions):
                by_topic[topic].append(partition)
        report = {"elected": [], "not_needed": 0, "failed": []}
        if not by_topic:
            return report
        response = self._call("electing preferred leaders", lambda client: client.elect_leaders(
            0, dict(by_topic), raise_errors=False))
        if getattr(response, "error_code", _NO_ERROR) not in (None, _NO_ERROR):
            raise self._protocol_error("electing preferred leaders", response.error_code)
        for result in response.replica_election_results:
            for partition in result.partition_result:
                entry = {"topic": result.topic, "partition": partition.partition_id}
                if partition.error_code == _NO_ERROR:
                    report["elected"].append(entry)
                elif partition.error_code == _ELECTION_NOT_NEEDED:
                    report["not_needed"] += 1
                else:
                    from kafka import errors

                    report["failed"].append(dict(entry, error=errors.for_code(partition.error_code).__name__))
        report["elected"].sort(key=lambda item: (item["topic"], item["partition"]))
        report["failed"].sort(key=lambda item: (item["topic"], item["partition"]))
        return report


def _topic_throttles(moves):
    """kafka-reassign-partitions' throttle lists: leader = sources, follower = destinations that
    are not sources, each ``partition:broker`` joined by commas in string order (Java TreeSet)."""
    leader, follower = defaultdict(set), defaultdict(set)
    for (topic, partition), move in moves.items():
        leader[topic].update(f"{partition}:{broker}" for broker in move["sources"])
        follower[topic].update(f"{partition}:{broker}" for broker in move["destinations"]
                               if broker not in move["sources"])
    throttles = {}
    for topic in sorted(set(leader) | set(follower)):
        throttles[topic] = {LEADER_THROTTLED_REPLICAS: ",".join(sorted(leader[topic])),
                            FOLLOWER_THROTTLED_REPLICAS: ",".join(sorted(follower[topic]))}
    return throttles

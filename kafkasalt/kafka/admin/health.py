"""The cluster in one look: its brokers and controller, and the health verdict."""

from __future__ import annotations

from kafkasalt.kafka.admin.arguments import _partition_label
from kafkasalt.ops import gates as rules
from kafkasalt.kafka.admin.connection import _NO_ERROR, KafkaAdminError, KafkaInputError, _require_int

MIN_INSYNC_REPLICAS = "min.insync.replicas"


class HealthMixin:
    """The cluster description and health verdict of :class:`~kafkasalt.kafka.admin.KafkaAdmin`."""

    def describe_cluster(self):
        """``{"cluster_id", "controller_id", "brokers": [{"id", "host", "port", "rack"}]}``."""
        metadata = self._call("describing the cluster", lambda client: client.describe_cluster())
        brokers = [{"id": broker.get("broker_id", broker.get("node_id")), "host": broker["host"],
                    "port": broker["port"], "rack": broker.get("rack")}
                   for broker in metadata["brokers"]]
        return {"cluster_id": metadata.get("cluster_id"), "controller_id": metadata.get("controller_id"),
                "brokers": sorted(brokers, key=lambda broker: broker["id"])}

    def _min_insync_replicas(self, topic_names):
        """min.insync.replicas per topic (the topic's effective value, which already falls back to
        the broker's default); topics whose value cannot be read get the broker default."""
        per_topic = self._describe_many_configs("reading min.insync.replicas", "TOPIC", topic_names,
                                                [MIN_INSYNC_REPLICAS])
        result, unknown = {}, []
        for name in topic_names:
            value = per_topic.get(name, {}).get(MIN_INSYNC_REPLICAS)
            if value is None:
                unknown.append(name)
            else:
                result[name] = int(value)
        if unknown:
            default = 1
            controller = self.describe_cluster()["controller_id"]
            broker_configs = self._describe_configs("reading the broker default of min.insync.replicas", "BROKER",
                                                    str(controller), [MIN_INSYNC_REPLICAS], node_id=controller)
            if broker_configs.get(MIN_INSYNC_REPLICAS, {}).get("value") is not None:
                default = int(broker_configs[MIN_INSYNC_REPLICAS]["value"])
            result.update({name: default for name in unknown})
        return result

    def gate_view(self):
        """The cluster as the step engine's gates read it: every topic's partitions (internal
        ones included), each topic's ``min.insync.replicas``, in-flight reassignments, the
        registered brokers and the controller."""
        cluster = self.describe_cluster()
        topics = self.describe_topics(None)
        min_isr = self._min_insync_replicas(sorted(topics)) if topics else {}
        return {
            "topics": topics,
            "min_isr": min_isr,
            "reassignments": sorted(_reassignment_label(r) for r in self.list_reassignments()),
            "registered": [b["id"] for b in cluster["brokers"]],
            "controller": cluster["controller_id"],
        }

    def health(self, expected_brokers=None):
        """Cluster health in one look, for restart gating and monitoring.

        ``verdict`` is ``unavailable`` when no broker answers (or there is no controller),
        ``degraded`` when the cluster answers but something is wrong (a missing expected broker,
        partitions without a leader, under-replicated or below ``min.insync.replicas``), else
        ``healthy``. ``reasons`` explains a non-healthy verdict. ``expected_brokers`` is a list of
        broker ids that must be registered.
        """
        expected = None
        if expected_brokers is not None:
            if isinstance(expected_brokers, (str, bytes)) or not isinstance(expected_brokers, (list, tuple, set)):
                raise KafkaInputError("expected_brokers", "must be a list of broker ids")
            expected = sorted({_require_int("expected_brokers", b, minimum=0) for b in expected_brokers})
        report = {"verdict": "healthy", "reasons": [], "brokers": [], "controller_id": None,
                  "missing_brokers": [], "under_replicated": [], "offline": [], "under_min_isr": []}
        try:
            cluster = self.describe_cluster()
            metadata = self._metadata()
        except KafkaAdminError as exc:
            report.update(verdict="unavailable", reasons=[str(exc)])
            return report
        report["brokers"] = cluster["brokers"]
        report["controller_id"] = cluster["controller_id"]
        registered = {broker["id"] for broker in cluster["brokers"]}
        if not registered or cluster["controller_id"] in (None, -1):
            report["verdict"] = "unavailable"
            report["reasons"].append("no active controller" if registered else "no broker registered")
            return report

        topics = {}
        for topic in metadata.topics:
            if topic.error_code != _NO_ERROR:
                continue
            topics[topic.name] = {"partitions": sorted(self._describe_partitions(topic), key=lambda p: p["partition"])}
        reasons = report["reasons"]
        try:
            min_isr = self._min_insync_replicas(sorted(topics))
        except KafkaAdminError as exc:
            min_isr = {}
            reasons.append(f"could not read min.insync.replicas (assuming 1): {exc}")

        # The same partition rules as the restart gates (kafkasalt.ops.gates).
        def entry(name, partition):
            return {"topic": name, "partition": partition["partition"], "leader": partition["leader"],
                    "replicas": partition["replicas"], "isr": partition["isr"]}

        report["offline"] = [entry(t, p) for t, p in rules.offline(topics)]
        report["under_replicated"] = [entry(t, p) for t, p in rules.under_replicated(topics)]
        report["under_min_isr"] = [dict(entry(t, p), min_insync_replicas=m)
                                   for t, p, m in rules.under_min_isr(topics, min_isr, 1)]

        if expected is not None:
            report["missing_brokers"] = [b for b in expected if b not in registered]
            if report["missing_brokers"]:
                reasons.append(f"expected broker(s) not registered: {', '.join(map(str, report['missing_brokers']))}")
        for key, text in (("offline", "without a leader"), ("under_replicated", "under-replicated"),
                          ("under_min_isr", "below min.insync.replicas")):
            if report[key]:
                reasons.append(f"{len(report[key])} partition(s) {text}: "
                               f"{_summarize([_partition_label(e['topic'], e['partition']) for e in report[key]])}")
        if reasons:
            report["verdict"] = "degraded"
        return report


def _reassignment_label(reassignment):
    return f"{reassignment['topic']}-{reassignment['partition']}"


def _summarize(labels, limit=10):
    shown = ", ".join(labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")

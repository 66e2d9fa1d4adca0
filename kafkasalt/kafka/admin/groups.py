"""Consumer groups: list them, describe one with its per-partition lag."""

from __future__ import annotations

import time

from kafkasalt.kafka.admin.connection import KafkaAdminError, KafkaInputError

# A cluster's first group operation creates __consumer_offsets; its coordinator answers
# COORDINATOR_NOT_AVAILABLE / LOAD_IN_PROGRESS until the partitions have leaders.
COORDINATOR_TIMEOUT_SECONDS = 30


class GroupsMixin:
    """The consumer-group operations of :class:`~kafkasalt.kafka.admin.KafkaAdmin`."""

    def list_groups(self):
        """Sorted ids of the consumer groups known to the cluster (all coordinators)."""
        groups = self._call("listing consumer groups", lambda client: client.list_groups())
        return sorted({group["group_id"] for group in groups})

    def group_states(self, group_ids):
        """``{group: {"state", "members"}}`` of many groups (one DescribeGroups per coordinator);
        ``members`` counts the group's active members."""
        group_ids = sorted(set(group_ids))
        if not group_ids:
            return {}
        described = self._call("describing consumer groups", lambda client: client.describe_groups(group_ids))
        states = {}
        for group_id in group_ids:
            description = described.get(group_id) or {}
            if description.get("error"):
                raise KafkaAdminError(f"describing consumer group '{group_id}': {description['error']}")
            states[group_id] = {"state": description.get("group_state"),
                                "members": len(description.get("members") or [])}
        return states

    def committed_offsets(self, group_ids):
        """``{group: {(topic, partition): (offset, metadata)}}``: every committed offset of each
        group (OffsetFetch; partitions without a committed offset left out)."""
        result = {}
        for group_id in sorted(set(group_ids)):
            fetched = self._call(f"reading offsets of consumer group '{group_id}'",
                                 lambda client, g=group_id: client.list_group_offsets({g: None})).get(group_id, {})
            result[group_id] = {(tp.topic, tp.partition): (meta.offset, meta.metadata or "")
                                for tp, meta in sorted(fetched.items()) if meta.offset is not None and meta.offset >= 0}
        return result

    def alter_group_offsets(self, group_id, offsets):
        """Commit ``offsets`` (``{(topic, partition): offset or (offset, metadata)}``) for a group
        that has no active members (the coordinator refuses otherwise). Returns the number of
        partitions committed; raises on any partition's error."""
        from kafka import TopicPartition
        from kafka.structs import OffsetAndMetadata

        if not isinstance(group_id, str) or not group_id:
            raise KafkaInputError("group_id", f"must be a non-empty string, got {group_id!r}")
        wanted = {}
        for (topic, partition), value in offsets.items():
            offset, metadata = value if isinstance(value, (tuple, list)) else (value, "")
            wanted[TopicPartition(topic, int(partition))] = OffsetAndMetadata(int(offset), metadata or "", -1)
        if not wanted:
            return 0
        what = f"committing offsets of consumer group '{group_id}'"
        results = self._call(what, lambda client: _until_coordinator(
            lambda: client.alter_group_offsets(group_id, wanted), COORDINATOR_TIMEOUT_SECONDS))
        failed = sorted(f"{tp.topic}-{tp.partition}: {error.__name__}" for tp, error in results.items()
                        if getattr(error, "errno", 0) not in (0, None))
        if failed:
            raise KafkaAdminError(f"{what}: {', '.join(failed)}")
        return len(wanted)

    def describe_group(self, group_id):
        """State, members and per-partition committed offset, end offset and lag of a group.

        ``lag`` is None for a partition without a committed offset. A group that neither exists
        nor has committed offsets raises.
        """
        from kafka import TopicPartition
        from kafka.admin import OffsetSpec

        if not isinstance(group_id, str) or not group_id:
            raise KafkaInputError("group_id", f"must be a non-empty string, got {group_id!r}")
        what = f"describing consumer group '{group_id}'"
        description = self._call(what, lambda client: client.describe_groups([group_id]))[group_id]
        if description.get("error"):
            raise KafkaAdminError(f"{what}: {description['error']}")
        committed = self._call(f"reading offsets of consumer group '{group_id}'",
                               lambda client: client.list_group_offsets({group_id: None})).get(group_id, {})
        members, assigned = [], set()
        for member in description.get("members", []):
            partitions = _assigned_partitions(member.get("member_assignment"))
            assigned.update(partitions)
            members.append({"member_id": member["member_id"], "client_id": member.get("client_id"),
                            "host": (member.get("client_host") or "").lstrip("/") or None,
                            "group_instance_id": member.get("group_instance_id"),
                            "assignment": [{"topic": t, "partition": p} for t, p in sorted(partitions)]})
        state = description.get("group_state")
        committed_offsets = {(tp.topic, tp.partition): meta.offset for tp, meta in committed.items()}
        if state == "Dead" and not committed_offsets:
            raise KafkaAdminError(f"consumer group '{group_id}' does not exist")
        all_partitions = sorted(set(committed_offsets) | assigned)
        end_offsets = {}
        if all_partitions:
            ends = self._call(f"reading end offsets for consumer group '{group_id}'",
                              lambda client: client.list_partition_offsets(
                                  {TopicPartition(t, p): OffsetSpec.LATEST for t, p in all_partitions}))
            end_offsets = {(tp.topic, tp.partition): value.offset for tp, value in ends.items()}
        owners = {tp: member["member_id"] for member in members
                  for tp in ((a["topic"], a["partition"]) for a in member["assignment"])}
        offsets, total_lag = [], 0
        for topic_partition in all_partitions:
            committed_offset = committed_offsets.get(topic_partition)
            if committed_offset is not None and committed_offset < 0:
                committed_offset = None
            end = end_offsets.get(topic_partition)
            lag = None if committed_offset is None or end is None else max(end - committed_offset, 0)
            total_lag += lag or 0
            offsets.append({"topic": topic_partition[0], "partition": topic_partition[1],
                            "committed": committed_offset, "end": end, "lag": lag,
                            "member_id": owners.get(topic_partition)})
        return {"group_id": group_id, "state": state, "protocol_type": description.get("protocol_type"),
                "protocol": description.get("protocol_data"), "members": members, "offsets": offsets,
                "total_lag": total_lag}


def _assigned_partitions(assignment):
    """(topic, partition) pairs of a decoded ConsumerProtocolAssignment (or its dict form)."""
    if not assignment:
        return set()
    topics = getattr(assignment, "assigned_partitions", None)
    if topics is None and isinstance(assignment, dict):
        topics = assignment.get("assigned_partitions")
    pairs = set()
    for entry in topics or []:
        if isinstance(entry, dict):
            topic, partitions = entry.get("topic"), entry.get("partitions", [])
        elif hasattr(entry, "topic"):
            topic, partitions = entry.topic, entry.partitions
        else:
            topic, partitions = entry
        pairs.update((topic, partition) for partition in partitions)
    return pairs


def _until_coordinator(call, timeout):
    """``call()``, retried every 0.5 s while the group coordinator is not there yet."""
    from kafka import errors

    retriable = (errors.CoordinatorNotAvailableError, errors.NotCoordinatorError,
                 errors.CoordinatorLoadInProgressError)
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = call()
        except retriable:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)
            continue
        # Partition-level answers of a coordinator that moved meanwhile: ask again.
        if isinstance(result, dict) and any(error in retriable for error in result.values()) \
                and time.monotonic() < deadline:
            time.sleep(0.5)
            continue
        return result

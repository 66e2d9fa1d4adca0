"""Kafka topics: created, grown, re-replicated and configured from pillar, with a key-by-key diff.

Partitions only grow (Kafka cannot shrink them); a replication-factor change goes through a
throttled reassignment; deleting an internal topic needs ``allow_internal: True``.
"""

import time

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "kafka_topic"

INTERNAL_TOPICS = ("__consumer_offsets", "__transaction_state")


def __virtual__():
    if "kafka.topic_state" not in __salt__:
        return (False, "kafka_topic: the kafka execution module is not available")
    return __virtualname__


def _positive_int(value, argument):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SaltInvocationError(f"{argument}: must be an integer >= 1, got {value!r}")
    return value


def _config_diff(current, wanted, manage_config):
    diff = {}
    for key, value in sorted(wanted.items()):
        if str(current.get(key)) != str(value) or key not in current:
            diff[key] = {"old": current.get(key), "new": str(value)}
    if manage_config:
        for key in sorted(set(current) - set(wanted)):
            diff[key] = {"old": current[key], "new": None}
    return diff


def present(name, partitions, replication_factor=None, config=None, manage_config=True,
            reassignment_timeout=600, throttle_bytes=None):
    """
    Ensure topic ``name`` exists with at least ``partitions`` partitions, exactly
    ``replication_factor`` replicas and exactly ``config`` as its non-default configs
    (``manage_config: False`` leaves unlisted keys alone).

    .. code-block:: yaml

        orders:
          kafka_topic.present:
            - partitions: 6
            - replication_factor: 3
            - config:
                retention.ms: 604800000
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    config = {str(k): str(v) for k, v in (config or {}).items()}
    try:
        _positive_int(partitions, "partitions")
        if replication_factor is not None:
            _positive_int(replication_factor, "replication_factor")
        state = __salt__["kafka.topic_state"](name)
        brokers = len(state["broker_ids"])
        if replication_factor is not None and replication_factor > brokers:
            raise SaltInvocationError(f"replication_factor: {replication_factor} is more than the {brokers} brokers")
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret

    if not state["exists"]:
        ret["changes"] = {"created": {"partitions": partitions, "replication_factor": replication_factor, "config": config}}
        if __opts__["test"]:
            ret.update(result=None, comment=f"topic {name} would be created")
            return ret
        try:
            __salt__["kafka.create_topic"](name, partitions, replication_factor, config=config or None)
        except (CommandExecutionError, SaltInvocationError) as exc:
            ret.update(result=False, changes={}, comment=str(exc))
            return ret
        ret["comment"] = f"topic {name} created"
        return ret

    changes = {}
    if partitions < state["partitions"]:
        ret.update(result=False, comment=f"partitions: topic {name} has {state['partitions']} partitions; "
                                         f"Kafka cannot shrink them to {partitions}")
        return ret
    if partitions > state["partitions"]:
        changes["partitions"] = {"old": state["partitions"], "new": partitions}
    if replication_factor is not None and replication_factor != state["replication_factor"]:
        changes["replication_factor"] = {"old": state["replication_factor"], "new": replication_factor}
    config_diff = _config_diff(state["config"], config, manage_config)
    if config_diff:
        changes["config"] = config_diff
    if not changes:
        ret["comment"] = f"topic {name} is as wanted"
        return ret
    if __opts__["test"]:
        ret.update(result=None, changes=changes, comment=f"topic {name} would be updated")
        return ret
    reassigned = []
    try:
        if "partitions" in changes:
            __salt__["kafka.add_partitions"](name, partitions)
        if config_diff:
            __salt__["kafka.alter_topic_config"](
                name, set_configs={k: v["new"] for k, v in config_diff.items() if v["new"] is not None} or None,
                delete_keys=[k for k, v in config_diff.items() if v["new"] is None] or None)
        if "replication_factor" in changes:
            plan = __salt__["kafka.plan_replication_factor"](name, replication_factor)
            __salt__["kafka.execute_reassignment"](plan, throttle_bytes=throttle_bytes)
            deadline = time.monotonic() + reassignment_timeout
            while True:
                status = __salt__["kafka.verify_reassignment"](plan)
                if status.get("done"):
                    break
                if time.monotonic() > deadline:
                    ret.update(result=False, changes=changes, comment=(
                        f"topic {name}: replication factor reassignment still running after {reassignment_timeout}s "
                        f"(pending {status.get('pending')}); re-run to verify and clear the throttle"))
                    return ret
                time.sleep(1)
            # In the comment, not in changes: test=True cannot know the moves (planned after any
            # new partitions exist), and a real run reports exactly what test=True announced.
            reassigned = sorted(plan)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, changes=changes, comment=str(exc))
        return ret
    comment = f"topic {name} updated"
    if reassigned:
        comment += f"; partitions reassigned: {', '.join(reassigned)}"
    ret.update(changes=changes, comment=comment)
    return ret


def absent(name, allow_internal=False):
    """
    Ensure topic ``name`` does not exist. Internal topics need ``allow_internal: True``.

    .. code-block:: yaml

        old-topic:
          kafka_topic.absent
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    if name in INTERNAL_TOPICS and not allow_internal:
        ret.update(result=False, comment=f"allow_internal: {name} is an internal topic; deleting it needs allow_internal: True")
        return ret
    try:
        state = __salt__["kafka.topic_state"](name)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    if not state["exists"]:
        ret["comment"] = f"topic {name} is absent"
        return ret
    ret["changes"] = {"deleted": name}
    if __opts__["test"]:
        ret.update(result=None, comment=f"topic {name} would be deleted")
        return ret
    try:
        __salt__["kafka.delete_topic"](name, allow_internal=allow_internal)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, changes={}, comment=str(exc))
        return ret
    ret["comment"] = f"topic {name} deleted"
    return ret

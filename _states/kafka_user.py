"""SCRAM users of a Kafka cluster.

Passwords are never state arguments: a state names the pillar key that holds the password
(``password_pillar``), so neither the rendered SLS, the state output nor the job cache ever
carries one. Rotation needs no restart: brokers pick credentials up from ZooKeeper live.
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "kafka_user"


def __virtual__():
    if "kafka.user_ensure" not in __salt__:
        return (False, "kafka_user: the kafka execution module is not available")
    return __virtualname__


_CHANGE_WORDS = {"credential missing": "created", "password changed": "password rotated"}


def present(name, password_pillar, mechanism=None, iterations=4096, via="auto"):
    """
    Ensure SCRAM user ``name`` exists with the password at pillar key ``password_pillar``.

    .. code-block:: yaml

        alice:
          kafka_user.present:
            - password_pillar: kafka:users:alice:password
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        diff = __salt__["kafka.user_ensure"](name, password_pillar, mechanism=mechanism,
                                             iterations=iterations, via=via, dry_run=True)
    except (CommandExecutionError, SaltInvocationError) as exc:
        if __opts__["test"]:
            ret.update(result=None, changes={"user": name, "credential": "created"},
                       comment=f"SCRAM user {name} would be created (current state unreadable: {exc})")
        else:
            ret.update(result=False, comment=str(exc))
        return ret
    if not diff["changed"]:
        ret["comment"] = f"SCRAM user {name} is up to date"
        return ret
    what = _CHANGE_WORDS.get(diff["reason"], diff["reason"])
    if __opts__["test"]:
        ret.update(result=None, changes={"user": name, "credential": what},
                   comment=f"SCRAM user {name} would be updated: {what}")
        return ret
    try:
        done = __salt__["kafka.user_ensure"](name, password_pillar, mechanism=mechanism,
                                             iterations=iterations, via=via)
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    what = _CHANGE_WORDS.get(done["reason"], done["reason"])
    ret.update(changes={"user": name, "credential": what} if done["changed"] else {},
               comment=f"SCRAM user {name}: {what} (via {done['via']})")
    return ret


def absent(name, mechanism=None):
    """
    Ensure SCRAM user ``name`` has no credential (one mechanism, or all).

    .. code-block:: yaml

        old-app:
          kafka_user.absent
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        existing = __salt__["kafka.list_users"]()
    except CommandExecutionError as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    mechanisms = existing.get(name, {})
    if mechanism:
        mechanisms = {m: v for m, v in mechanisms.items() if m == mechanism}
    if not mechanisms:
        ret["comment"] = f"SCRAM user {name} is absent"
        return ret
    changes = {"user": name, "removed": sorted(mechanisms)}
    if __opts__["test"]:
        ret.update(result=None, changes=changes, comment=f"SCRAM user {name} would be removed")
        return ret
    try:
        __salt__["kafka.user_delete"](name, mechanism=mechanism)
    except CommandExecutionError as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret.update(changes=changes, comment=f"SCRAM user {name} removed")
    return ret

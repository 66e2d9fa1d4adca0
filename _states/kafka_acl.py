"""Kafka ACL bindings: add, remove, or make a principal's bindings exactly a given set.

Bindings are dicts (resource_type, resource_name, pattern_type, principal, host, operation,
permission) or role entries (role: producer|consumer|admin, principal, topic, group_prefix),
validated by :mod:`kafkasalt.security.acl` before anything is sent.
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from kafkasalt.security import acl
    from kafkasalt.common.errors import PillarError, PillarErrors

    HAS_CORE = True
except ImportError:
    HAS_CORE = False

__virtualname__ = "kafka_acl"


def __virtual__():
    if not HAS_CORE or "kafka.list_acls" not in __salt__:
        return (False, "kafka_acl: the kafka execution module is not available")
    return __virtualname__


def _parse(bindings, argument="bindings"):
    if isinstance(bindings, dict):
        bindings = [bindings]
    try:
        return set(acl.parse_bindings(bindings, key=argument))
    except (PillarError, PillarErrors) as exc:
        raise SaltInvocationError(str(exc)) from None


def _current(principals):
    current = set()
    for principal in sorted(principals):
        for entry in __salt__["kafka.list_acls"](principal=principal):
            current.add(acl.parse_binding(entry, key="current"))
    return current


def _apply(ret, to_add, to_remove, what):
    changes = {}
    if to_add:
        changes["added"] = sorted(str(b) for b in to_add)
    if to_remove:
        changes["removed"] = sorted(str(b) for b in to_remove)
    if not changes:
        ret["comment"] = f"ACLs of {what} are as wanted"
        return ret
    if __opts__["test"]:
        ret.update(result=None, changes=changes, comment=f"ACLs of {what} would change")
        return ret
    try:
        if to_remove:
            __salt__["kafka.remove_acls"]([b.as_dict() for b in sorted(to_remove)])
        if to_add:
            __salt__["kafka.add_acls"]([b.as_dict() for b in sorted(to_add)])
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    ret.update(changes=changes, comment=f"ACLs of {what} updated")
    return ret


def present(name, bindings):
    """
    Ensure every binding in ``bindings`` exists (others are left alone).

    .. code-block:: yaml

        orders-producer:
          kafka_acl.present:
            - bindings:
              - {role: producer, principal: 'User:orders-app', topic: orders}
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        wanted = _parse(bindings)
        current = _current({b.principal for b in wanted})
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    return _apply(ret, wanted - current, set(), name)


def absent(name, bindings):
    """
    Ensure none of ``bindings`` exists.

    .. code-block:: yaml

        revoke-old-app:
          kafka_acl.absent:
            - bindings:
              - {resource_type: TOPIC, resource_name: orders, principal: 'User:old', operation: READ}
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        unwanted = _parse(bindings)
        current = _current({b.principal for b in unwanted})
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    return _apply(ret, set(), unwanted & current, name)


def managed(name, bindings):
    """
    Make principal ``name``'s ACLs exactly ``bindings``: missing ones are added, any other binding
    of that principal is removed.

    .. code-block:: yaml

        'User:orders-app':
          kafka_acl.managed:
            - bindings:
              - {role: producer, principal: 'User:orders-app', topic: orders}
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        wanted = _parse(bindings)
        strangers = sorted({b.principal for b in wanted} - {name})
        if strangers:
            raise SaltInvocationError(f"bindings: every binding must be for principal {name}, not {', '.join(strangers)}")
        current = _current({name})
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    return _apply(ret, wanted - current, current - wanted, name)

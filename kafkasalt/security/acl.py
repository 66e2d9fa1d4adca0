"""Kafka ACL bindings: model, validation, role shortcuts and diffing.

The rules follow Kafka 3.9 (checked against the 3.9.2 jars and sources):

- Operations allowed per resource type come from
  ``org.apache.kafka.security.authorizer.AclEntry.supportedOperations`` (3.9.2
  printed: GROUP = READ, DESCRIBE, DELETE only; group DESCRIBE_CONFIGS and
  ALTER_CONFIGS arrived after 3.9). ``ALL`` is accepted on every resource type,
  as ``kafka-acls.sh`` does.
- Bindings use ``LITERAL`` or ``PREFIXED`` patterns only; ``MATCH``/``ANY`` are
  filter-only, as are ``ANY`` operations, permissions and resource types
  (AclControlManager.validateNewAcl); ``UNKNOWN`` is refused like any other
  unknown name.
- Resource names must not be empty and, in ZooKeeper mode, must not contain
  ``/`` (AclAuthorizer.validateAclBinding). The CLUSTER resource is always the
  literal name ``kafka-cluster``.
- Hosts are ``*`` or an IP address: the authorizer compares the string with the
  client's ``InetAddress.getHostAddress()``, so host names never match. IPv6 is
  rewritten to Java's spelling (``0:0:0:0:0:0:0:1``) for the same reason.
- Principals are ``Type:name``. Kafka stores any type, but its default
  principal builder (SASL/SCRAM and mTLS alike) only ever produces ``User``
  principals and the stock authorizer has no group membership, so a
  ``Group:ops`` binding would silently never match. We therefore accept only
  the ``User`` type (any letter case, written back as ``User``); extend
  :data:`PRINCIPAL_TYPES` if a custom principal builder is deployed.

Extra checks on top of Kafka (both are always mistakes): a ``PREFIXED``
pattern named ``*`` (it is not a wildcard; use LITERAL ``*``), and YAML values
that are not strings (``topic: 123`` must be quoted).
"""

from __future__ import annotations

import dataclasses
import ipaddress

from kafkasalt.common.errors import PillarError, PillarErrors

__all__ = [
    "AclBinding",
    "AclError",
    "CLUSTER_RESOURCE_NAME",
    "OPERATIONS",
    "PATTERN_TYPES",
    "PERMISSIONS",
    "PRINCIPAL_TYPES",
    "RESOURCE_TYPES",
    "ROLES",
    "SUPPORTED_OPERATIONS",
    "WILDCARD",
    "diff",
    "exactly",
    "for_principal",
    "parse_binding",
    "parse_bindings",
    "role_bindings",
]

RESOURCE_TYPES = ("TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN", "USER")
PATTERN_TYPES = ("LITERAL", "PREFIXED")
OPERATIONS = (
    "ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE", "CLUSTER_ACTION",
    "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE", "CREATE_TOKENS", "DESCRIBE_TOKENS",
)
PERMISSIONS = ("ALLOW", "DENY")
PRINCIPAL_TYPES = ("User",)
CLUSTER_RESOURCE_NAME = "kafka-cluster"
WILDCARD = "*"

# Kafka 3.9 AclEntry.supportedOperations; ALL is added on top for every type.
SUPPORTED_OPERATIONS = {
    "TOPIC": frozenset({"READ", "WRITE", "CREATE", "DESCRIBE", "DELETE", "ALTER",
                        "DESCRIBE_CONFIGS", "ALTER_CONFIGS"}),
    "GROUP": frozenset({"READ", "DESCRIBE", "DELETE"}),
    "CLUSTER": frozenset({"CREATE", "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS",
                          "IDEMPOTENT_WRITE", "ALTER", "DESCRIBE"}),
    "TRANSACTIONAL_ID": frozenset({"DESCRIBE", "WRITE"}),
    "DELEGATION_TOKEN": frozenset({"DESCRIBE"}),
    "USER": frozenset({"CREATE_TOKENS", "DESCRIBE_TOKENS"}),
}

# role -> (operations on the topic pattern, operations on the group prefix)
ROLES = {
    "producer": (("WRITE", "DESCRIBE"), ()),
    "consumer": (("READ", "DESCRIBE"), ("READ",)),
    "admin": (("ALL",), ("ALL",)),
}


# Values of Kafka's enums that only make sense in ACL filters (describe/delete).
_FILTER_ONLY = {
    "resource_type": ("ANY",),
    "pattern_type": ("MATCH", "ANY"),
    "operation": ("ANY",),
    "permission": ("ANY",),
}
_CHOICES = {
    "resource_type": RESOURCE_TYPES,
    "pattern_type": PATTERN_TYPES,
    "operation": OPERATIONS,
    "permission": PERMISSIONS,
}
_BINDING_FIELDS = ("resource_type", "resource_name", "pattern_type", "principal", "host",
                   "operation", "permission")
_ROLE_FIELDS = ("role", "principal", "topic", "group_prefix", "pattern")


class AclError(ValueError):
    """Invalid ACL input; ``field`` names the binding field or function argument."""

    def __init__(self, field, message):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


def _require_string(field, value):
    if not isinstance(value, str):
        raise AclError(field, f"must be a string, got {type(value).__name__} (quote it in YAML)")
    return value


def _choice(field, value):
    text = _require_string(field, value).strip().upper()
    if text in _CHOICES[field]:
        return text
    if text in _FILTER_ONLY[field]:
        raise AclError(field, f"{text} is only valid in ACL filters, not in a binding; "
                              f"use one of {', '.join(_CHOICES[field])}")
    raise AclError(field, f"must be one of {', '.join(_CHOICES[field])}, got {value!r}")


def _principal(value):
    text = _require_string("principal", value).strip()
    principal_type, sep, name = text.partition(":")
    if not sep or not principal_type or not name:
        raise AclError("principal", f"must look like 'User:<name>', got {value!r}")
    for allowed in PRINCIPAL_TYPES:
        if principal_type.lower() == allowed.lower():
            return f"{allowed}:{name}"
    raise AclError(
        "principal",
        f"type {principal_type!r} is not supported: Kafka's default principal builder only "
        f"produces {', '.join(PRINCIPAL_TYPES)} principals, so this binding would never match",
    )


def _java_host_address(address):
    # Java's Inet6Address.getHostAddress(): 8 groups, lowercase hex, no '::'.
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)  # Java turns these into Inet4Address
        return ":".join(format(int(group, 16), "x") for group in address.exploded.split(":"))
    return str(address)


def _host(value):
    text = _require_string("host", value).strip()
    if text == WILDCARD:
        return text
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise AclError(
            "host",
            f"must be '*' or an IP address (Kafka compares it with the client's IP, "
            f"host names never match), got {value!r}",
        ) from None
    if getattr(address, "scope_id", None):
        raise AclError("host", f"must not carry an IPv6 scope (%zone), got {value!r}")
    return _java_host_address(address)


@dataclasses.dataclass(frozen=True, order=True)
class AclBinding:
    """One ACL binding (resource pattern + access control entry).

    Construction normalizes (upper-case enum names, canonical principal type,
    Java-style IPv6 host) and validates; problems raise :class:`AclError`
    naming the field.
    """

    resource_type: str
    resource_name: str
    pattern_type: str
    principal: str
    host: str
    operation: str
    permission: str

    def __post_init__(self):
        resource_type = _choice("resource_type", self.resource_type)
        pattern_type = _choice("pattern_type", self.pattern_type)
        operation = _choice("operation", self.operation)
        permission = _choice("permission", self.permission)
        principal = _principal(self.principal)
        host = _host(self.host)
        resource_name = _require_string("resource_name", self.resource_name)

        if not resource_name:
            raise AclError("resource_name", "must not be empty")
        if "/" in resource_name:
            raise AclError("resource_name", f"must not contain '/' (ZooKeeper-mode ACL store), got {resource_name!r}")
        if resource_type == "CLUSTER":
            if resource_name != CLUSTER_RESOURCE_NAME:
                raise AclError("resource_name", f"the CLUSTER resource is always named {CLUSTER_RESOURCE_NAME!r}, "
                                                f"got {resource_name!r}")
            if pattern_type != "LITERAL":
                raise AclError("pattern_type", "the CLUSTER resource only takes a LITERAL pattern")
        if pattern_type == "PREFIXED" and resource_name == WILDCARD:
            raise AclError("resource_name", "'*' is not a wildcard in a PREFIXED pattern; "
                                            "use pattern_type LITERAL with '*' to match every name")
        allowed = SUPPORTED_OPERATIONS[resource_type] | {"ALL"}
        if operation not in allowed:
            raise AclError("operation", f"{operation} is not valid on {resource_type}; "
                                        f"valid: {', '.join(sorted(allowed))}")

        for name, value in (("resource_type", resource_type), ("pattern_type", pattern_type),
                            ("operation", operation), ("permission", permission),
                            ("principal", principal), ("host", host)):
            object.__setattr__(self, name, value)

    def as_dict(self):
        """Plain dict (pillar field names), e.g. for state change reports."""
        return dataclasses.asdict(self)

    def __str__(self):
        return (f"{self.permission} {self.principal} {self.operation} on "
                f"{self.resource_type}:{self.pattern_type}:{self.resource_name} from {self.host}")


def _binding(resource_type, resource_name, pattern_type, principal, operation,
             host=WILDCARD, permission="ALLOW"):
    return AclBinding(resource_type=resource_type, resource_name=resource_name,
                      pattern_type=pattern_type, principal=principal, host=host,
                      operation=operation, permission=permission)


def parse_binding(data, key="kafka:acls:0"):
    """Build an :class:`AclBinding` from a pillar dict.

    Fields: ``resource_type``, ``resource_name``, ``principal``, ``operation``
    (required; ``resource_name`` defaults to ``kafka-cluster`` for CLUSTER),
    ``pattern_type`` (LITERAL), ``host`` (``*``), ``permission`` (ALLOW).
    Errors raise :class:`PillarError` whose key is ``<key>:<field>``.
    """
    if not isinstance(data, dict):
        raise PillarError(key, f"an ACL binding must be a mapping, got {type(data).__name__}")
    unknown = sorted(str(name) for name in data if name not in _BINDING_FIELDS)
    if unknown:
        raise PillarError(f"{key}:{unknown[0]}",
                          f"unknown ACL field; valid fields: {', '.join(_BINDING_FIELDS)}")
    for required in ("resource_type", "principal", "operation"):
        if data.get(required) in (None, ""):
            raise PillarError(f"{key}:{required}", "is required")
    fields = {
        "pattern_type": "LITERAL",
        "host": WILDCARD,
        "permission": "ALLOW",
    }
    fields.update({name: value for name, value in data.items() if value is not None})
    if "resource_name" not in fields:
        if isinstance(fields["resource_type"], str) and fields["resource_type"].strip().upper() == "CLUSTER":
            fields["resource_name"] = CLUSTER_RESOURCE_NAME
        else:
            raise PillarError(f"{key}:resource_name", "is required")
    try:
        return AclBinding(**fields)
    except AclError as exc:
        raise PillarError(f"{key}:{exc.field}", exc.message) from None


def role_bindings(principal, role, topic, group_prefix=None, pattern="LITERAL"):
    """Expand a role into bindings for ``principal`` on ``topic``.

    ``pattern`` (LITERAL or PREFIXED) applies to ``topic``; consumer groups are
    always matched by prefix (``group_prefix='*'`` means every group, as a
    LITERAL wildcard). Roles:

    - ``producer``: WRITE + DESCRIBE on the topic. No IDEMPOTENT_WRITE on the
      cluster: since Kafka 2.8 (KIP-679) a principal with WRITE on any topic may
      initialise an idempotent producer, and 3.x producers are idempotent by default.
      No CREATE either: topics are created by this formula, not by clients.
    - ``consumer``: READ + DESCRIBE on the topic, READ on the group prefix
      (what ``kafka-acls.sh --consumer`` grants). Without ``group_prefix`` no
      group ACL is made (manually assigned consumers need none).
    - ``admin``: ALL on the topic and, if given, on the group prefix. This
      covers topic DESCRIBE_CONFIGS/ALTER_CONFIGS/CREATE/DELETE. Nothing on the
      CLUSTER resource: cluster-wide rights belong to the super user.

    DESCRIBE is listed explicitly although READ/WRITE imply it, matching
    ``kafka-acls.sh`` so listings look familiar. Returns a sorted, duplicate-free
    list; bad arguments raise :class:`AclError` naming the argument.
    """
    role_name = _require_string("role", role).strip().lower()
    if role_name not in ROLES:
        raise AclError("role", f"must be one of {', '.join(sorted(ROLES))}, got {role!r}")
    topic = _require_string("topic", topic)
    if not topic:
        raise AclError("topic", "must not be empty")
    try:
        topic_pattern = _choice("pattern_type", pattern)
    except AclError as exc:
        raise AclError("pattern", exc.message) from None

    topic_operations, group_operations = ROLES[role_name]
    topic_arguments = {"resource_name": "topic", "pattern_type": "pattern"}
    bindings = {
        _binding_for_arguments(topic_arguments, "TOPIC", topic, topic_pattern, principal, operation)
        for operation in topic_operations
    }
    if group_prefix is not None:
        group_prefix = _require_string("group_prefix", group_prefix)
        if not group_prefix:
            raise AclError("group_prefix", "must not be empty (omit it for no group ACL)")
        group_pattern = "LITERAL" if group_prefix == WILDCARD else "PREFIXED"
        bindings.update(
            _binding_for_arguments({"resource_name": "group_prefix"}, "GROUP", group_prefix,
                                   group_pattern, principal, operation)
            for operation in group_operations
        )
    return sorted(bindings)


def _binding_for_arguments(field_to_argument, *args):
    """Build a binding; errors name the caller's argument instead of the binding field."""
    try:
        return _binding(*args)
    except AclError as exc:
        raise AclError(field_to_argument.get(exc.field, exc.field), exc.message) from None


def parse_bindings(entries, key="kafka:acls"):
    """Parse the pillar ACL list into a sorted, duplicate-free list of bindings.

    Each entry is either a binding mapping (see :func:`parse_binding`) or a
    role mapping ``{role, principal, topic, group_prefix?, pattern?}`` (see
    :func:`role_bindings`). All problems are collected and raised together as
    :class:`PillarErrors`, each naming ``<key>:<index>:<field>``.
    """
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise PillarErrors([PillarError(key, f"must be a list of ACL entries, got {type(entries).__name__}")])
    errors = []
    bindings = set()
    for index, entry in enumerate(entries):
        entry_key = f"{key}:{index}"
        try:
            if isinstance(entry, dict) and "role" in entry:
                bindings.update(_parse_role_entry(entry, entry_key))
            else:
                bindings.add(parse_binding(entry, entry_key))
        except PillarError as exc:
            errors.append(exc)
    if errors:
        raise PillarErrors(errors)
    return sorted(bindings)


def _parse_role_entry(entry, key):
    unknown = sorted(str(name) for name in entry if name not in _ROLE_FIELDS)
    if unknown:
        raise PillarError(f"{key}:{unknown[0]}",
                          f"unknown field in a role entry; valid fields: {', '.join(_ROLE_FIELDS)}")
    for required in ("principal", "topic"):
        if entry.get(required) in (None, ""):
            raise PillarError(f"{key}:{required}", "is required")
    try:
        return role_bindings(entry["principal"], entry["role"], entry["topic"],
                             group_prefix=entry.get("group_prefix"),
                             pattern=entry.get("pattern", "LITERAL"))
    except AclError as exc:
        raise PillarError(f"{key}:{exc.field}", exc.message) from None


def _as_binding_set(bindings, argument):
    result = set()
    for binding in bindings:
        if not isinstance(binding, AclBinding):
            raise AclError(argument, f"must contain AclBinding objects, got {type(binding).__name__}")
        result.add(binding)
    return result


def diff(current, desired):
    """Set difference both ways: ``(to_add, to_remove)``, each sorted.

    ``to_add`` = desired bindings missing from ``current``; ``to_remove`` =
    current bindings not desired. For additive ("present") management only use
    ``to_add``; for managed principals use :func:`exactly`.
    """
    current_set = _as_binding_set(current, "current")
    desired_set = _as_binding_set(desired, "desired")
    return sorted(desired_set - current_set), sorted(current_set - desired_set)


def for_principal(bindings, principal):
    """The bindings that belong to ``principal`` (``User:`` type normalized)."""
    wanted = _principal(principal)
    return sorted(b for b in _as_binding_set(bindings, "bindings") if b.principal == wanted)


def exactly(current_for_principal, desired):
    """Changes that make one principal's ACLs exactly ``desired``.

    Both collections must concern a single principal (the same one), which
    guards against wiping somebody else's ACLs by passing the wrong list.
    Returns ``(to_add, to_remove)`` like :func:`diff`.
    """
    current_set = _as_binding_set(current_for_principal, "current_for_principal")
    desired_set = _as_binding_set(desired, "desired")
    principals = {b.principal for b in current_set | desired_set}
    if len(principals) > 1:
        raise AclError("desired", f"exactly() manages one principal at a time, got {', '.join(sorted(principals))}")
    return diff(current_set, desired_set)

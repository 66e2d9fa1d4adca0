"""Unit tests for kafkasalt.security.acl."""

import dataclasses
import re

import pytest

from kafkasalt.security import acl
from kafkasalt.security.acl import AclBinding, AclError
from kafkasalt.common.errors import PillarError, PillarErrors


def make(**overrides):
    fields = dict(resource_type="TOPIC", resource_name="orders", pattern_type="LITERAL",
                  principal="User:alice", host="*", operation="READ", permission="ALLOW")
    fields.update(overrides)
    return AclBinding(**fields)


def pillar_error(data, key="kafka:acls:0"):
    with pytest.raises(PillarError) as excinfo:
        acl.parse_binding(data, key)
    return excinfo.value


BASE = {"resource_type": "TOPIC", "resource_name": "orders", "principal": "User:alice",
        "operation": "READ"}


# --- the per-resource operation table ---------------------------------------------

# AclEntry.supportedOperations as printed by Kafka 3.9.2 (see kafkasalt.security.acl docstring).
KAFKA_3_9_SUPPORTED = {
    "TOPIC": "ALTER, ALTER_CONFIGS, CREATE, DELETE, DESCRIBE, DESCRIBE_CONFIGS, READ, WRITE",
    "GROUP": "DELETE, DESCRIBE, READ",
    "CLUSTER": "ALTER, ALTER_CONFIGS, CLUSTER_ACTION, CREATE, DESCRIBE, DESCRIBE_CONFIGS, IDEMPOTENT_WRITE",
    "TRANSACTIONAL_ID": "DESCRIBE, WRITE",
    "DELEGATION_TOKEN": "DESCRIBE",
    "USER": "CREATE_TOKENS, DESCRIBE_TOKENS",
}


def test_supported_operations_table_matches_kafka_3_9():
    assert {rt: ", ".join(sorted(ops)) for rt, ops in acl.SUPPORTED_OPERATIONS.items()} == KAFKA_3_9_SUPPORTED
    assert set(acl.SUPPORTED_OPERATIONS) == set(acl.RESOURCE_TYPES)


@pytest.mark.parametrize("resource_type", acl.RESOURCE_TYPES)
@pytest.mark.parametrize("operation", acl.OPERATIONS)
def test_every_resource_operation_combination(resource_type, operation):
    name = acl.CLUSTER_RESOURCE_NAME if resource_type == "CLUSTER" else "thing"
    allowed = operation == "ALL" or operation in KAFKA_3_9_SUPPORTED[resource_type].split(", ")
    if allowed:
        binding = make(resource_type=resource_type, resource_name=name, operation=operation)
        assert binding.operation == operation
    else:
        with pytest.raises(AclError, match=f"operation: {operation} is not valid on {resource_type}"):
            make(resource_type=resource_type, resource_name=name, operation=operation)


# --- normalization --------------------------------------------------------------------

def test_case_insensitive_parse_with_canonical_output():
    binding = make(resource_type=" topic", pattern_type="prefixed", principal="user:alice",
                   operation="Describe_Configs", permission="deny")
    assert (binding.resource_type, binding.pattern_type, binding.principal, binding.operation,
            binding.permission) == ("TOPIC", "PREFIXED", "User:alice", "DESCRIBE_CONFIGS", "DENY")
    assert binding == make(pattern_type="PREFIXED", operation="DESCRIBE_CONFIGS", permission="DENY")
    assert hash(binding) == hash(make(pattern_type="PREFIXED", operation="DESCRIBE_CONFIGS", permission="DENY"))


def test_resource_names_are_case_sensitive():
    assert make(resource_name="Orders") != make(resource_name="orders")


def test_principal_name_may_hold_colons_and_dn_characters():
    assert make(principal="User:CN=app,OU=x:y").principal == "User:CN=app,OU=x:y"
    assert make(principal="User:*").principal == "User:*"


@pytest.mark.parametrize("host,expected", [
    ("*", "*"),
    ("127.0.0.11", "127.0.0.11"),
    ("::1", "0:0:0:0:0:0:0:1"),
    ("2001:DB8::10", "2001:db8:0:0:0:0:0:10"),
    ("::ffff:10.0.0.1", "10.0.0.1"),
])
def test_host_is_written_like_javas_get_host_address(host, expected):
    assert make(host=host).host == expected


def test_binding_is_frozen():
    binding = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        binding.operation = "WRITE"


def test_str_and_as_dict():
    binding = make(operation="write")
    assert str(binding) == "ALLOW User:alice WRITE on TOPIC:LITERAL:orders from *"
    assert binding.as_dict() == {"resource_type": "TOPIC", "resource_name": "orders",
                                 "pattern_type": "LITERAL", "principal": "User:alice",
                                 "host": "*", "operation": "WRITE", "permission": "ALLOW"}
    assert AclBinding(**binding.as_dict()) == binding


# --- parse_binding ---------------------------------------------------------------------

def test_parse_binding_defaults():
    binding = acl.parse_binding(dict(BASE))
    assert binding == make()
    cluster = acl.parse_binding({"resource_type": "cluster", "principal": "User:ops",
                                 "operation": "describe_configs"}, "kafka:acls:3")
    assert cluster.resource_name == "kafka-cluster" and cluster.pattern_type == "LITERAL"


def test_parse_binding_null_optional_fields_take_defaults():
    binding = acl.parse_binding(dict(BASE, host=None, permission=None, pattern_type=None))
    assert binding == make()


@pytest.mark.parametrize("overrides,field,message", [
    ({"resource_type": "QUEUE"}, "resource_type", "must be one of TOPIC, GROUP"),
    ({"resource_type": "any"}, "resource_type", "ANY is only valid in ACL filters"),
    ({"resource_type": 5}, "resource_type", "must be a string, got int"),
    ({"pattern_type": "MATCH"}, "pattern_type", "MATCH is only valid in ACL filters"),
    ({"pattern_type": "any"}, "pattern_type", "ANY is only valid in ACL filters"),
    ({"pattern_type": "REGEX"}, "pattern_type", "must be one of LITERAL, PREFIXED"),
    ({"operation": "ANY"}, "operation", "ANY is only valid in ACL filters"),
    ({"operation": "unknown"}, "operation", "must be one of ALL, READ"),
    ({"operation": "PUBLISH"}, "operation", "must be one of ALL, READ"),
    ({"operation": "CLUSTER_ACTION"}, "operation", "CLUSTER_ACTION is not valid on TOPIC"),
    ({"resource_type": "GROUP", "operation": "DESCRIBE_CONFIGS"}, "operation",
     "DESCRIBE_CONFIGS is not valid on GROUP"),
    ({"permission": "MAYBE"}, "permission", "must be one of ALLOW, DENY"),
    ({"permission": "ANY"}, "permission", "ANY is only valid in ACL filters"),
    ({"principal": "alice"}, "principal", "must look like 'User:<name>'"),
    ({"principal": "User:"}, "principal", "must look like 'User:<name>'"),
    ({"principal": ":alice"}, "principal", "must look like 'User:<name>'"),
    ({"principal": "Group:ops"}, "principal", "type 'Group' is not supported"),
    ({"principal": ["User:a"]}, "principal", "must be a string, got list"),
    ({"host": "broker1.example.com"}, "host", "must be '\\*' or an IP address"),
    ({"host": "10.0.0.0/8"}, "host", "must be '\\*' or an IP address"),
    ({"host": "fe80::1%eth0"}, "host", "must not carry an IPv6 scope"),
    ({"resource_name": ""}, "resource_name", "must not be empty"),
    ({"resource_name": "a/b"}, "resource_name", "must not contain '/'"),
    ({"resource_name": 123}, "resource_name", "quote it in YAML"),
    ({"resource_name": "*", "pattern_type": "PREFIXED"}, "resource_name", "not a wildcard in a PREFIXED"),
    ({"resource_type": "CLUSTER", "resource_name": "prod", "operation": "DESCRIBE"}, "resource_name",
     "always named 'kafka-cluster'"),
    ({"resource_type": "CLUSTER", "resource_name": "kafka-cluster", "pattern_type": "PREFIXED",
      "operation": "DESCRIBE"}, "pattern_type", "only takes a LITERAL pattern"),
])
def test_parse_binding_errors_name_key_and_field(overrides, field, message):
    error = pillar_error(dict(BASE, **overrides), "kafka:acls:7")
    assert error.key == f"kafka:acls:7:{field}"
    assert str(error).startswith(f"pillar key 'kafka:acls:7:{field}': ")
    assert re.search(message, error.message), error.message


@pytest.mark.parametrize("missing", ["resource_type", "principal", "operation", "resource_name"])
def test_parse_binding_missing_field(missing):
    data = dict(BASE)
    del data[missing]
    error = pillar_error(data)
    assert error.key == f"kafka:acls:0:{missing}" and error.message == "is required"


def test_parse_binding_unknown_field_and_wrong_type():
    error = pillar_error(dict(BASE, topic="orders"))
    assert error.key == "kafka:acls:0:topic" and "unknown ACL field" in error.message
    error = pillar_error(["TOPIC", "orders"])
    assert error.key == "kafka:acls:0" and "must be a mapping, got list" in error.message


def test_acl_error_names_field_when_built_directly():
    with pytest.raises(AclError) as excinfo:
        make(operation="FLY")
    assert excinfo.value.field == "operation"
    assert isinstance(excinfo.value, ValueError)


# --- roles -----------------------------------------------------------------------------

def triples(bindings):
    return sorted((b.resource_type, b.resource_name, b.pattern_type, b.operation) for b in bindings)


def test_producer_role():
    bindings = acl.role_bindings("User:app", "producer", "orders")
    assert triples(bindings) == [("TOPIC", "orders", "LITERAL", "DESCRIBE"),
                                 ("TOPIC", "orders", "LITERAL", "WRITE")]
    assert all(b.principal == "User:app" and b.permission == "ALLOW" and b.host == "*" for b in bindings)
    # KIP-679: no IDEMPOTENT_WRITE on the cluster is needed on 3.x brokers.
    assert not any(b.resource_type == "CLUSTER" for b in bindings)


def test_consumer_role_with_and_without_group():
    with_group = acl.role_bindings("User:app", "Consumer", "orders.", group_prefix="app-",
                                   pattern="prefixed")
    assert triples(with_group) == [("GROUP", "app-", "PREFIXED", "READ"),
                                   ("TOPIC", "orders.", "PREFIXED", "DESCRIBE"),
                                   ("TOPIC", "orders.", "PREFIXED", "READ")]
    without_group = acl.role_bindings("User:app", "consumer", "orders")
    assert triples(without_group) == [("TOPIC", "orders", "LITERAL", "DESCRIBE"),
                                      ("TOPIC", "orders", "LITERAL", "READ")]


def test_admin_role_and_wildcards():
    bindings = acl.role_bindings("User:ops", "admin", "*", group_prefix="*")
    assert triples(bindings) == [("GROUP", "*", "LITERAL", "ALL"), ("TOPIC", "*", "LITERAL", "ALL")]


def test_role_bindings_are_sorted_and_unique():
    bindings = acl.role_bindings("User:app", "consumer", "orders", group_prefix="g")
    assert bindings == sorted(bindings) and len(set(bindings)) == len(bindings)


@pytest.mark.parametrize("kwargs,field,message", [
    ({"role": "reader"}, "role", "must be one of admin, consumer, producer"),
    ({"role": None}, "role", "must be a string"),
    ({"topic": ""}, "topic", "must not be empty"),
    ({"topic": "a/b"}, "topic", "must not contain '/'"),
    ({"topic": "*", "pattern": "PREFIXED"}, "topic", "not a wildcard"),
    ({"pattern": "MATCH"}, "pattern", "only valid in ACL filters"),
    ({"group_prefix": ""}, "group_prefix", "must not be empty"),
    ({"group_prefix": "g/x"}, "group_prefix", "must not contain '/'"),
    ({"group_prefix": 7}, "group_prefix", "must be a string"),
    ({"principal": "alice"}, "principal", "must look like"),
])
def test_role_binding_errors_name_the_argument(kwargs, field, message):
    arguments = dict(principal="User:app", role="consumer", topic="orders")
    arguments.update(kwargs)
    with pytest.raises(AclError) as excinfo:
        acl.role_bindings(**arguments)
    assert excinfo.value.field == field
    assert message in excinfo.value.message


# --- parse_bindings (the whole pillar list) -----------------------------------------------

def test_parse_bindings_mixes_roles_and_bindings_and_dedupes():
    entries = [
        {"role": "producer", "principal": "User:app", "topic": "orders"},
        {"resource_type": "TOPIC", "resource_name": "orders", "principal": "user:app", "operation": "write"},
        {"role": "consumer", "principal": "User:app", "topic": "orders", "group_prefix": "app-"},
    ]
    bindings = acl.parse_bindings(entries)
    assert triples(bindings) == [("GROUP", "app-", "PREFIXED", "READ"),
                                 ("TOPIC", "orders", "LITERAL", "DESCRIBE"),
                                 ("TOPIC", "orders", "LITERAL", "READ"),
                                 ("TOPIC", "orders", "LITERAL", "WRITE")]
    assert acl.parse_bindings(None) == [] and acl.parse_bindings([]) == []


def test_parse_bindings_reports_every_error_with_its_key():
    entries = [
        dict(BASE),
        dict(BASE, operation="IDEMPOTENT_WRITE"),
        {"role": "producer", "principal": "User:app", "topic": "t", "groups": "x"},
        {"role": "auditor", "principal": "User:app", "topic": "t"},
        {"role": "consumer", "principal": "User:app"},
        "TOPIC:orders",
        {"role": "consumer", "principal": "User:app", "topic": "t", "pattern": "ANY"},
    ]
    with pytest.raises(PillarErrors) as excinfo:
        acl.parse_bindings(entries, key="kafka:acls")
    keys = [error.key for error in excinfo.value.errors]
    assert keys == ["kafka:acls:1:operation", "kafka:acls:2:groups", "kafka:acls:3:role",
                    "kafka:acls:4:topic", "kafka:acls:5", "kafka:acls:6:pattern"]
    assert "kafka:acls:3:role" in str(excinfo.value)


def test_parse_bindings_requires_a_list():
    with pytest.raises(PillarErrors) as excinfo:
        acl.parse_bindings({"a": 1}, key="kafka:acls")
    assert excinfo.value.errors[0].key == "kafka:acls"


# --- diff / exactly ---------------------------------------------------------------------------

def test_diff_both_directions():
    keep, old, new = make(operation="READ"), make(operation="WRITE"), make(operation="DESCRIBE")
    to_add, to_remove = acl.diff([keep, old], [keep, new])
    assert to_add == [new] and to_remove == [old]
    assert acl.diff([keep], [keep]) == ([], [])
    assert acl.diff([], []) == ([], [])


def test_diff_treats_normalized_bindings_as_equal():
    assert acl.diff([make(principal="user:alice")], [make(principal="User:alice")]) == ([], [])


def test_exactly_manages_one_principal():
    current = [make(operation="READ"), make(operation="WRITE")]
    desired = [make(operation="READ"), make(resource_type="GROUP", resource_name="g", operation="READ")]
    to_add, to_remove = acl.exactly(current, desired)
    assert to_add == [desired[1]] and to_remove == [current[1]]
    # Removing everything for the principal is allowed.
    assert acl.exactly(current, []) == ([], sorted(current))


def test_exactly_refuses_several_principals():
    with pytest.raises(AclError, match="one principal at a time, got User:alice, User:bob"):
        acl.exactly([make()], [make(principal="User:bob")])
    with pytest.raises(AclError, match="one principal"):
        acl.exactly([make(), make(principal="User:bob")], [])


def test_for_principal_filters():
    bindings = [make(), make(principal="User:bob"), make(operation="WRITE")]
    assert acl.for_principal(bindings, "user:alice") == sorted([bindings[0], bindings[2]])


def test_diff_rejects_non_bindings():
    with pytest.raises(AclError) as excinfo:
        acl.diff([make()], [{"resource_type": "TOPIC"}])
    assert excinfo.value.field == "desired"

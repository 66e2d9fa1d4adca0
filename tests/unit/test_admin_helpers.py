"""Pure parts of kafkasalt.kafka.admin: argument checks, plan handling, throttle strings, secret hiding.

Nothing here opens a connection: every KafkaAdmin call below fails its argument check first
(the settings point at a port nobody listens on, so a network attempt would show up as a
different error).
"""

import logging

import pytest

from kafkasalt.security import acl
from kafkasalt.kafka.admin import KafkaAdmin
from kafkasalt.kafka.admin.arguments import _config_value, _normalize_assignment, _normalize_plan
from kafkasalt.kafka.admin.connection import ConnectionSettings, KafkaAdminError, KafkaInputError, _RedactSecrets
from kafkasalt.kafka.admin.groups import _assigned_partitions
from kafkasalt.kafka.admin.reassignments import (FOLLOWER_THROTTLED_REPLICAS, LEADER_THROTTLED_REPLICAS,
                                                 _topic_throttles)

OFFLINE = ConnectionSettings(bootstrap_servers=["127.0.0.1:1"], username="admin", password="pw-unit-test",
                             bootstrap_timeout_ms=1)


# --------------------------------------------------------------------------- connection settings
def test_settings_hide_the_password_and_map_to_kafka_python():
    settings = ConnectionSettings(bootstrap_servers="a:9093, b:9093", username="admin", password="pw-unit-test",
                                  ca_file="/ca.pem", cert_file="/c.pem", key_file="/k.pem", client_id="me")
    assert "pw-unit-test" not in repr(settings)
    assert settings.client_config() == {
        "bootstrap_servers": ["a:9093", "b:9093"], "security_protocol": "SASL_SSL", "client_id": "me",
        "request_timeout_ms": 30000, "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "admin",
        "sasl_plain_password": "pw-unit-test", "ssl_cafile": "/ca.pem", "ssl_check_hostname": True,
        "ssl_certfile": "/c.pem", "ssl_keyfile": "/k.pem"}
    assert settings.scrub("oops pw-unit-test leaked") == "oops *** leaked"


def test_plaintext_settings_need_no_credentials():
    settings = ConnectionSettings(bootstrap_servers=["h:9092"], security_protocol="plaintext")
    assert settings.client_config() == {"bootstrap_servers": ["h:9092"], "security_protocol": "PLAINTEXT",
                                        "client_id": "kafkasalt", "request_timeout_ms": 30000}


@pytest.mark.parametrize("kwargs, argument", [
    ({"bootstrap_servers": []}, "bootstrap_servers"),
    ({"bootstrap_servers": ["host-without-port"]}, "bootstrap_servers"),
    ({"bootstrap_servers": ["h:70000"]}, "bootstrap_servers"),
    ({"bootstrap_servers": ["h:1"], "security_protocol": "TLS"}, "security_protocol"),
    ({"bootstrap_servers": ["h:1"], "sasl_mechanism": "GSSAPI", "username": "u", "password": "p"}, "sasl_mechanism"),
    ({"bootstrap_servers": ["h:1"], "password": "p"}, "username"),
    ({"bootstrap_servers": ["h:1"], "username": "u"}, "password"),
    ({"bootstrap_servers": ["h:1"], "username": "u", "password": "p", "key_file": "/k"}, "cert_file"),
    ({"bootstrap_servers": ["h:1"], "username": "u", "password": "p", "request_timeout_ms": 0}, "request_timeout_ms"),
])
def test_settings_errors_name_the_argument(kwargs, argument):
    with pytest.raises(KafkaInputError) as failure:
        ConnectionSettings(**kwargs)
    assert failure.value.argument == argument


# --------------------------------------------------------------------------- argument checks before any I/O
@pytest.mark.parametrize("call, argument", [
    (lambda a: a.create_topic("t", 0, 1), "partitions"),
    (lambda a: a.create_topic("t", 1, 0), "replication_factor"),
    (lambda a: a.create_topic("t", 1, True), "replication_factor"),
    (lambda a: a.create_topic("..", 1, 1), "name"),
    (lambda a: a.create_topic("x" * 250, 1, 1), "name"),
    (lambda a: a.create_topic("t", 2, None, replica_assignment=[[1, 2]]), "partitions"),
    (lambda a: a.create_topic("t", None, 3, replica_assignment=[[1, 2]]), "replication_factor"),
    (lambda a: a.create_topic("t", None, None, replica_assignment=[[1, 2], [1]]), "replica_assignment"),
    (lambda a: a.create_topic("t", 1, 1, config={"a": object()}), "config['a']"),
    (lambda a: a.delete_topic("__consumer_offsets"), "name"),
    (lambda a: a.create_partitions("t", 0), "total"),
    (lambda a: a.incremental_alter_configs("TOPIC", "t", {"k": ("MERGE", "v")}), "operations['k']"),
    (lambda a: a.incremental_alter_configs("GROUP", "g", {"k": ("SET", "v")}), "resource_type"),
    (lambda a: a.incremental_alter_configs("TOPIC", "t", {"k": ("SET", None)}), "operations['k']"),
    (lambda a: a.alter_topic_config("t", delete_keys="retention.ms"), "delete_keys"),
    (lambda a: a.alter_broker_config("one", set_configs={"a": 1}), "broker_id"),
    (lambda a: a.list_acls(principal="alice"), "principal"),
    (lambda a: a.list_acls(resource_name=""), "resource_name"),
    (lambda a: a.add_acls("TOPIC:orders"), "bindings"),
    (lambda a: a.remove_acls([42]), "bindings:0"),
    (lambda a: a.add_acls([{"resource_type": "TOPIC", "resource_name": "t", "principal": "User:u"}]),
     "bindings:0:operation"),
    (lambda a: a.add_acls([acl.AclBinding("TOPIC", "t", "LITERAL", "User:u", "*", "READ", "ALLOW"),
                           {"role": "reader", "principal": "User:u", "topic": "t"}]), "bindings:1:role"),
    (lambda a: a.upsert_scram_user("", "pw"), "name"),
    (lambda a: a.upsert_scram_user("u", "pw", iterations=2), "iterations"),
    (lambda a: a.delete_scram_user("u", mechanism="SCRAM-SHA-1"), "mechanism"),
    (lambda a: a.execute_reassignment({}), "plan"),
    (lambda a: a.execute_reassignment({("t", 0): [1]}, throttle_bytes=0), "throttle_bytes"),
    (lambda a: a.cancel_reassignment("t-0"), "partitions"),
    (lambda a: a.elect_preferred_leaders([("t", -1)]), "topic_partitions"),
    (lambda a: a.describe_group(""), "group_id"),
    (lambda a: a.clear_throttles(broker_ids="1"), "broker_ids"),
])
def test_bad_arguments_fail_before_any_network_call(call, argument):
    with pytest.raises(KafkaInputError) as failure:
        call(KafkaAdmin(OFFLINE))
    assert failure.value.argument == argument
    assert str(failure.value).startswith(f"{argument}: ")
    assert "pw-unit-test" not in str(failure.value)


def test_input_errors_are_admin_errors_and_value_errors():
    assert issubclass(KafkaInputError, KafkaAdminError) and issubclass(KafkaInputError, ValueError)
    with pytest.raises(KafkaInputError, match="^settings: must be ConnectionSettings"):
        KafkaAdmin({"bootstrap_servers": ["h:1"]})


# --------------------------------------------------------------------------- values and plans
@pytest.mark.parametrize("value, rendered", [
    (True, "true"), (False, "false"), (86400000, "86400000"), (0.5, "0.5"), ("compact", "compact"),
    (["compact", "delete"], "compact,delete"),
])
def test_config_values_are_rendered_like_kafka_spells_them(value, rendered):
    assert _config_value("config", "k", value) == rendered


def test_plan_forms_are_equivalent():
    expected = {("orders", 0): [2, 3], ("orders", 1): [3, 1]}
    as_pairs = {("orders", 0): [2, 3], ("orders", 1): (3, 1)}
    as_list = [{"topic": "orders", "partition": 0, "replicas": [2, 3]},
               {"topic": "orders", "partition": 1, "replicas": [3, 1]}]
    as_document = {"version": 1, "partitions": as_list}
    assert _normalize_plan(as_pairs) == _normalize_plan(as_list) == _normalize_plan(as_document) == expected


@pytest.mark.parametrize("plan, argument, message", [
    ({("t", 0): []}, "plan[t-0]", "non-empty list"),
    ({("t", 0): [1, 1]}, "plan[t-0]", "twice"),
    ({("t", 0): ["1"]}, "plan[t-0]", "integer"),
    ({"t-0": [1]}, "plan", "(topic, partition) pairs"),
    ([{"topic": "t", "partition": 0}], "plan[0]", "topic, partition and replicas"),
    ([{"topic": "t", "partition": 0, "replicas": [1]}] * 2, "plan[t-0]", "appears twice"),
    ("t:0=1,2", "plan", "must map"),
])
def test_bad_plans_name_the_entry(plan, argument, message):
    with pytest.raises(KafkaInputError) as failure:
        _normalize_plan(plan)
    assert failure.value.argument == argument and message in failure.value.problem


def test_replica_assignment_accepts_list_or_mapping_and_needs_contiguous_partitions():
    assert _normalize_assignment([[1, 2], [2, 3]]) == {0: [1, 2], 1: [2, 3]}
    assert _normalize_assignment({"1": [2, 3], 0: [1, 2]}) == {0: [1, 2], 1: [2, 3]}
    with pytest.raises(KafkaInputError, match="numbered 0..1"):
        _normalize_assignment({0: [1], 2: [2]})


def test_throttle_lists_follow_kafka_reassign_partitions():
    # Sources are throttled as leaders, new replicas as followers; entries are sorted as strings,
    # as Java's TreeSet<String> sorts them ("10:4" before "2:1").
    moves = {
        ("orders", 2): {"sources": [1, 2], "destinations": [3]},
        ("orders", 10): {"sources": [4], "destinations": [5, 6]},
        ("audit", 0): {"sources": [1, 2, 3], "destinations": []},
    }
    assert _topic_throttles(moves) == {
        "audit": {LEADER_THROTTLED_REPLICAS: "0:1,0:2,0:3", FOLLOWER_THROTTLED_REPLICAS: ""},
        "orders": {LEADER_THROTTLED_REPLICAS: "10:4,2:1,2:2", FOLLOWER_THROTTLED_REPLICAS: "10:5,10:6,2:3"},
    }


def test_assigned_partitions_from_decoded_or_plain_assignments():
    class Topic:
        def __init__(self, topic, partitions):
            self.topic, self.partitions = topic, partitions

    class Assignment:
        assigned_partitions = [Topic("a", [0, 1]), Topic("b", [3])]

    assert _assigned_partitions(Assignment()) == {("a", 0), ("a", 1), ("b", 3)}
    assert _assigned_partitions({"assigned_partitions": [{"topic": "a", "partitions": [2]}]}) == {("a", 2)}
    assert _assigned_partitions(None) == set()


def test_acl_bindings_accept_model_objects_and_pillar_entries():
    binding = acl.AclBinding("TOPIC", "t", "LITERAL", "User:u", "*", "READ", "ALLOW")
    assert KafkaAdmin._check_bindings(binding) == [binding]
    assert KafkaAdmin._check_bindings([binding, binding]) == [binding]
    from_pillar = KafkaAdmin._check_bindings([
        {"resource_type": "topic", "resource_name": "t", "principal": "User:u", "operation": "read"},
        {"role": "consumer", "principal": "User:u", "topic": "t", "group_prefix": "g-"},
    ])
    assert from_pillar == sorted({binding} | set(acl.role_bindings("User:u", "consumer", "t", group_prefix="g-")))


# --------------------------------------------------------------------------- secrets in logs
def _record(message, args):
    return logging.LogRecord("kafka.admin.client", logging.DEBUG, __file__, 1, message, args, None)


def test_client_configuration_logged_by_kafka_python_is_redacted():
    record = _record("Starting KafkaAdminClient with configuration: %s",
                     ({"sasl_plain_username": "admin", "sasl_plain_password": "pw-unit-test"},))
    assert _RedactSecrets().filter(record) is True
    assert "pw-unit-test" not in record.getMessage() and "admin" in record.getMessage()


def test_credential_requests_are_redacted_as_objects_and_bytes():
    class AlterUserScramCredentialsRequest:  # stands in for kafka-python's request class
        def __repr__(self):
            return "AlterUserScramCredentialsRequest(salted_password=b'secret')"

    record = _record("%s Sending request %d %s", ("node", 7, AlterUserScramCredentialsRequest()))
    _RedactSecrets().filter(record)
    assert "secret" not in record.getMessage()

    scram_frame = (12).to_bytes(4, "big") + (51).to_bytes(2, "big") + b"\x00" * 10
    metadata_frame = (4).to_bytes(4, "big") + (3).to_bytes(2, "big") + b"\x00" * 2
    record = _record("%s Send: %r", ("node", bytearray(metadata_frame + scram_frame)))
    _RedactSecrets().filter(record)
    assert record.getMessage() == "node Send: '<redacted request bytes>'"

    record = _record("%s Send: %r", ("node", metadata_frame))
    _RedactSecrets().filter(record)
    assert record.args[1] == metadata_frame

"""kafka_acl states through Salt's loader dunders, over a fake cluster."""

import pytest

from _states import kafka_acl
from kafkasalt.security import acl
from tests.unit.states.state_fakes import converge

APP = "User:orders-app"
PRODUCER = {"role": "producer", "principal": APP, "topic": "orders"}
AUDIT_READ = {"resource_type": "TOPIC", "resource_name": "audit", "pattern_type": "LITERAL", "principal": APP,
              "host": "*", "operation": "READ", "permission": "ALLOW"}


@pytest.fixture
def configure_loader_modules(cluster, opts):
    return {kafka_acl: {"__salt__": cluster.salt_functions(), "__opts__": opts}}


def test_virtual_needs_the_kafka_module():
    assert kafka_acl.__virtual__() == "kafka_acl"


def test_present_adds_the_missing_bindings(cluster, opts):
    cluster.acls.update(acl.parse_bindings([AUDIT_READ]))
    converge(lambda: kafka_acl.present("orders-producer", bindings=[PRODUCER]), cluster, opts,
             changes={"added": ["ALLOW User:orders-app DESCRIBE on TOPIC:LITERAL:orders from *",
                                "ALLOW User:orders-app WRITE on TOPIC:LITERAL:orders from *"]})
    assert len(cluster.acls) == 3  # the other binding is left alone


def test_absent_removes_only_the_listed_bindings(cluster, opts):
    cluster.acls.update(acl.parse_bindings([AUDIT_READ, PRODUCER]))
    converge(lambda: kafka_acl.absent("revoke-audit", bindings=AUDIT_READ), cluster, opts,
             changes={"removed": ["ALLOW User:orders-app READ on TOPIC:LITERAL:audit from *"]})
    assert sorted(b.operation for b in cluster.acls) == ["DESCRIBE", "WRITE"]


def test_managed_makes_the_principal_s_bindings_exact(cluster, opts):
    other = {**AUDIT_READ, "principal": "User:someone-else"}
    cluster.acls.update(acl.parse_bindings([AUDIT_READ, other, {**PRODUCER, "role": "consumer"}]))
    converge(lambda: kafka_acl.managed(APP, bindings=[PRODUCER]), cluster, opts,
             changes={"added": ["ALLOW User:orders-app WRITE on TOPIC:LITERAL:orders from *"],
                      "removed": ["ALLOW User:orders-app READ on TOPIC:LITERAL:audit from *",
                                  "ALLOW User:orders-app READ on TOPIC:LITERAL:orders from *"]})
    assert sorted(str(b) for b in cluster.acls) == [
        "ALLOW User:orders-app DESCRIBE on TOPIC:LITERAL:orders from *",
        "ALLOW User:orders-app WRITE on TOPIC:LITERAL:orders from *",
        "ALLOW User:someone-else READ on TOPIC:LITERAL:audit from *",
    ]


def test_managed_refuses_bindings_of_another_principal(cluster, opts):
    ret = kafka_acl.managed(APP, bindings=[{**AUDIT_READ, "principal": "User:someone-else"}])
    assert ret["result"] is False and "User:someone-else" in ret["comment"]
    assert not cluster.writes

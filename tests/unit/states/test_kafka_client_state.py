"""kafka_client.present through Salt's loader dunders: it drives the user, topic and ACL states
(``__states__``) and the client.properties writer over one fake cluster."""

import pytest

from _states import kafka_acl, kafka_client, kafka_topic, kafka_user
from tests.unit.states.state_fakes import FakeCluster, converge

PILLAR_KEY = "kafka:users:orders-app:password"
PASSWORD = "orders-Secret-Pw-7"
PROPERTIES = "/etc/kafka/clients/orders-app.properties"


@pytest.fixture
def cluster():
    fake = FakeCluster()
    fake.pillar[PILLAR_KEY] = PASSWORD
    return fake


@pytest.fixture
def configure_loader_modules(cluster, opts):
    salt = cluster.salt_functions()
    states = {"kafka_user.present": kafka_user.present, "kafka_topic.present": kafka_topic.present,
              "kafka_acl.present": kafka_acl.present}
    loader = {"__salt__": salt, "__opts__": opts}
    return {kafka_client: {**loader, "__states__": states}, kafka_user: loader, kafka_topic: loader,
            kafka_acl: loader}


def test_virtual_needs_the_kafka_module():
    assert kafka_client.__virtual__() == "kafka_client"


def test_present_gives_the_application_its_user_topic_acls_and_properties(cluster, opts):
    planned, done, _, _ = converge(
        lambda: kafka_client.present("orders-app", password_pillar=PILLAR_KEY, topic="orders", partitions=6,
                                     replication_factor=3),
        cluster, opts, secrets=[PASSWORD],
        changes={
            "user": {"user": "orders-app", "credential": "created"},
            "topic": {"created": {"partitions": 6, "replication_factor": 3, "config": {}}},
            "acls": {"added": ["ALLOW User:orders-app DESCRIBE on TOPIC:LITERAL:orders from *",
                               "ALLOW User:orders-app READ on GROUP:PREFIXED:orders-app- from *",
                               "ALLOW User:orders-app READ on TOPIC:LITERAL:orders from *",
                               "ALLOW User:orders-app WRITE on TOPIC:LITERAL:orders from *"]},
            "files": {PROPERTIES: "written (0600, content hidden)",
                      f"{PROPERTIES}.ca.pem": "written (0600, content hidden)"},
        })
    assert "orders" in cluster.topics and "orders-app" in cluster.users
    assert PASSWORD in cluster.files[PROPERTIES]  # in the file, never in the state's return


def test_present_without_partitions_leaves_the_topic_alone(cluster, opts):
    converge(lambda: kafka_client.present("orders-app", password_pillar=PILLAR_KEY, topic="orders",
                                          roles="producer", path="/srv/app/kafka.properties"),
             cluster, opts, secrets=[PASSWORD],
             changes={"user": {"user": "orders-app", "credential": "created"},
                      "acls": {"added": ["ALLOW User:orders-app DESCRIBE on TOPIC:LITERAL:orders from *",
                                         "ALLOW User:orders-app WRITE on TOPIC:LITERAL:orders from *"]},
                      "files": {"/srv/app/kafka.properties": "written (0600, content hidden)",
                                "/srv/app/kafka.properties.ca.pem": "written (0600, content hidden)"}})
    assert cluster.topics == {}


def test_present_refuses_unknown_roles(cluster, opts):
    ret = kafka_client.present("orders-app", password_pillar=PILLAR_KEY, topic="orders", roles=["reader"])
    assert ret["result"] is False and "roles" in ret["comment"]
    assert not cluster.writes

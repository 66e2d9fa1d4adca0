"""kafka_user states through Salt's loader dunders, over a fake cluster: passwords stay out of
every return."""

import pytest

from _states import kafka_user
from tests.unit.states.state_fakes import FakeCluster, converge

PILLAR_KEY = "kafka:users:alice:password"
PASSWORD = "alice-Secret-Pw-1"


@pytest.fixture
def cluster():
    fake = FakeCluster()
    fake.pillar[PILLAR_KEY] = PASSWORD
    return fake


@pytest.fixture
def configure_loader_modules(cluster, opts):
    return {kafka_user: {"__salt__": cluster.salt_functions(), "__opts__": opts}}


def test_virtual_needs_the_kafka_module():
    assert kafka_user.__virtual__() == "kafka_user"


def test_present_creates_the_user(cluster, opts):
    converge(lambda: kafka_user.present("alice", password_pillar=PILLAR_KEY), cluster, opts,
             changes={"user": "alice", "credential": "created"}, secrets=[PASSWORD])
    assert cluster.users["alice"]["SCRAM-SHA-512"] == {"iterations": 4096, "password": PASSWORD}


def test_present_rotates_a_changed_password(cluster, opts):
    cluster.users["alice"] = {"SCRAM-SHA-512": {"iterations": 4096, "password": "old-Secret-Pw-0"}}
    converge(lambda: kafka_user.present("alice", password_pillar=PILLAR_KEY), cluster, opts,
             changes={"user": "alice", "credential": "password rotated"}, secrets=[PASSWORD, "old-Secret-Pw-0"])
    assert cluster.users["alice"]["SCRAM-SHA-512"]["password"] == PASSWORD


def test_present_rewrites_a_credential_with_other_iterations(cluster, opts):
    cluster.users["alice"] = {"SCRAM-SHA-256": {"iterations": 4096, "password": PASSWORD}}
    converge(lambda: kafka_user.present("alice", password_pillar=PILLAR_KEY, mechanism="SCRAM-SHA-256",
                                        iterations=8192),
             cluster, opts, changes={"user": "alice", "credential": "iterations 4096 != wanted 8192"},
             secrets=[PASSWORD])


def test_absent_removes_every_mechanism(cluster, opts):
    cluster.users["old-app"] = {"SCRAM-SHA-256": {"iterations": 4096, "password": "x-Secret-1"},
                                "SCRAM-SHA-512": {"iterations": 4096, "password": "x-Secret-1"}}
    converge(lambda: kafka_user.absent("old-app"), cluster, opts,
             changes={"user": "old-app", "removed": ["SCRAM-SHA-256", "SCRAM-SHA-512"]}, secrets=["x-Secret-1"])
    assert cluster.list_users() == {}


def test_absent_removes_one_mechanism(cluster, opts):
    cluster.users["old-app"] = {"SCRAM-SHA-256": {"iterations": 4096, "password": "x-Secret-1"},
                                "SCRAM-SHA-512": {"iterations": 4096, "password": "x-Secret-1"}}
    converge(lambda: kafka_user.absent("old-app", mechanism="SCRAM-SHA-256"), cluster, opts,
             changes={"user": "old-app", "removed": ["SCRAM-SHA-256"]})
    assert cluster.list_users() == {"old-app": {"SCRAM-SHA-512": {"iterations": 4096}}}

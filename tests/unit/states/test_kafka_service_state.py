"""kafka_service.running through Salt's loader dunders, over a fake service manager."""

import types

import pytest

from _states import kafka_service
from tests.unit.states.state_fakes import FakeService, converge


@pytest.fixture
def configure_loader_modules(cluster, opts):
    service = types.SimpleNamespace(Service=lambda name, manager="systemd": FakeService(cluster, name, manager),
                                    ServiceError=kafka_service.service.ServiceError)
    return {kafka_service: {"__opts__": opts, "service": service}}


def test_virtual_needs_the_core():
    assert kafka_service.__virtual__() == "kafka_service"


def test_running_registers_and_starts_the_service(cluster, opts):
    _, done, _, _ = converge(lambda: kafka_service.running("zookeeper", manager="supervisord"), cluster, opts,
                             changes={"registered": "supervisord", "started": True})
    assert cluster.services["zookeeper"] == {"registered": True, "running": True, "pid": 4242}
    assert done["comment"] == "zookeeper started (pid 4242)"


def test_running_starts_a_registered_service(cluster, opts):
    cluster.services["kafka"] = {"registered": True, "running": False, "pid": None}
    converge(lambda: kafka_service.running("kafka"), cluster, opts, changes={"started": True})
    assert cluster.writes == [("start", "kafka")]


def test_running_refuses_an_unknown_manager(cluster, opts):
    ret = kafka_service.running("kafka", manager="upstart")
    assert ret["result"] is False and "manager" in ret["comment"]

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


class _TlsBroker:
    """kafka.tls_status / kafka.reload_tls of a broker whose key store on disk is newer."""

    def __init__(self, running=True, listeners=("CLIENT",), stale=("keystore",)):
        self.running, self.listeners, self.stale, self.reloads = running, list(listeners), set(stale), 0

    def status(self):
        return {"running": self.running, "tls_listeners": self.listeners,
                "keystore_loaded": "keystore" not in self.stale, "truststore_loaded": "truststore" not in self.stale}

    def reload(self):
        self.reloads += 1
        self.stale.clear()
        return {"reloaded": True}


def _tls_state(broker, opts):
    kafka_service.__salt__ = {"kafka.tls_status": broker.status, "kafka.reload_tls": broker.reload}
    kafka_service.__opts__ = opts
    return kafka_service.tls_loaded("kafka")


def test_tls_loaded_reloads_a_renewed_key_store_live_and_is_idempotent(opts):
    broker = _TlsBroker(stale=("keystore", "truststore"))
    preview = _tls_state(broker, {"test": True})
    assert preview["result"] is None and preview["changes"] == {"reloaded": ["keystore", "truststore"]}
    assert broker.reloads == 0
    done = _tls_state(broker, opts)
    assert done["result"] is True and done["changes"] == {"reloaded": ["keystore", "truststore"]}
    assert "without a restart" in done["comment"] and broker.reloads == 1
    again = _tls_state(broker, opts)
    assert again["changes"] == {} and broker.reloads == 1


def test_tls_loaded_leaves_a_stopped_broker_or_one_without_tls_alone(opts):
    assert _tls_state(_TlsBroker(running=False), opts)["changes"] == {}
    assert _tls_state(_TlsBroker(listeners=()), opts)["changes"] == {}

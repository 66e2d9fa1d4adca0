"""``kafka.render`` never hands a secret file to a job of its own (its return lands in the job cache)."""

import pytest
from salt.exceptions import SaltInvocationError

from kafkasalt.kafka import hostplan
from tests.unit.test_kafka_hostplan import REC
from tests.unit.test_broker_model import model
from tests.unit.test_kafka_module_sizing import load_module


@pytest.fixture
def module():
    loaded = load_module()
    plan = hostplan.BrokerHostPlan(model(), "kafka2", REC, "supervisord",
                                   tls=lambda part: "CA PEM" if part == "ca_cert" else {"key": "PRIVATE", "cert": "C"})
    loaded._host_plan = lambda: plan
    return loaded


@pytest.mark.parametrize("name", [f.name for f in hostplan.CONFIG_FILES if f.secret])
def test_a_secret_file_asked_for_as_a_job_is_refused_naming_the_state_that_writes_it(module, name):
    with pytest.raises(SaltInvocationError, match="holds secrets: it is written by the kafka.config state"):
        module.render(name, __pub_fun="kafka.render", __pub_jid="20261202000000000000")


def test_the_template_and_plain_files_still_render(module):
    # The SLS's template calls it in-process (no __pub_ arguments): it gets the secret file.
    assert "ScramLoginModule" in module.render("kafka_server_jaas.conf")
    assert "broker.id=2" in module.render("server.properties", __pub_fun="kafka.render")

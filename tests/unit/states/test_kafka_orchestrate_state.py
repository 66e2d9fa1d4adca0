"""kafka_orchestrate.runner through Salt's loader dunders, over fake runners."""

import pytest

from _states import kafka_orchestrate
from tests.unit.states.state_fakes import FakeSaltglue, converge


@pytest.fixture
def glue(cluster):
    return FakeSaltglue(cluster)


@pytest.fixture
def configure_loader_modules(cluster, opts, glue):
    return {kafka_orchestrate: {"__salt__": cluster.salt_functions(), "__opts__": opts, "saltglue": glue}}


def test_virtual_needs_the_master():
    assert kafka_orchestrate.__virtual__() == "kafka_orchestrate"


def test_a_planning_runner_reports_its_plan_then_acts(cluster, opts, glue):
    cluster.dynamic["wanted"] = {"log.cleaner.threads": "2"}
    converge(lambda: kafka_orchestrate.runner("kafka.apply_config", plans=True), cluster, opts,
             changes={"cluster_default": {"log.cleaner.threads": "2"}})
    assert cluster.dynamic["applied"] == {"log.cleaner.threads": "2"}
    assert [kwarg for _, kwarg in glue.calls] == [{"test": True}, {}, {}, {"test": True}]


def test_a_runner_that_cannot_plan_is_not_run_under_test(cluster, opts, glue):
    opts["test"] = True
    planned = kafka_orchestrate.runner("kafka.verify_cluster")
    assert planned == {"name": "kafka.verify_cluster", "changes": {}, "result": None,
                       "comment": "kafka.verify_cluster would run"}
    assert glue.calls == []
    opts["test"] = False
    done = kafka_orchestrate.runner("kafka.verify_cluster", __id__="kafka-cluster-verified", __env__="base")
    assert done["result"] is True and done["changes"] == {}
    assert done["comment"].startswith("cluster healthy")
    assert glue.calls == [("kafka.verify_cluster", {})]  # Salt's own __ arguments are not passed on


def test_a_failed_runner_fails_the_step_with_its_reason(opts, glue):
    ret = kafka_orchestrate.runner("kafka.broken")
    assert ret["result"] is False and ret["changes"] == {}
    assert ret["comment"] == "kafka.broken: no broker host answered kafka.health | details: {'replies': {'kafka1': None}}"

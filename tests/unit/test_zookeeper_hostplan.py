"""One ZooKeeper member host plan, and the per-job cache both execution modules use."""

import pytest

from kafkasalt.common import cache
from kafkasalt.zookeeper import hostplan
from kafkasalt.zookeeper import model as zk_model
from tests.unit.test_zookeeper_model import base_pillar


def plan(pillar=None, manager="supervisord", **kwargs):
    model = zk_model.EnsembleModel.from_pillar(pillar or base_pillar(3), heap_mb_default=768)
    return hostplan.MemberHostPlan(model, "kafka2", manager, **kwargs)


def test_facts_and_restart_files_of_a_member():
    p = plan()
    facts = p.facts()
    assert (facts["myid"], facts["heap_mb"], facts["service_manager"]) == (2, 768, "supervisord")
    assert p.config_files() == ["/etc/zookeeper/zoo.cfg", "/etc/zookeeper/jaas.conf", "/etc/zookeeper/java.args",
                                "/etc/supervisor/conf.d/zookeeper.conf"]
    assert facts["config_files"] == p.config_files()
    assert plan(manager="systemd").config_files()[-1] == "/etc/systemd/system/zookeeper.service"


def test_renderers_cover_the_member_files_and_refuse_unknown_names():
    p = plan()
    assert "-Xmx768m" in p.render("java.args")
    assert p.render("myid").strip() == "2"
    with pytest.raises(ValueError, match="unknown file 'nope'.*tls/ca.pem"):
        p.render("nope")


def test_a_transition_reaches_zoo_cfg():
    pillar = base_pillar(3)
    pillar["tls"] = {"enabled": True}
    assert "portUnification=true" in plan(pillar, transition={"ssl_quorum": False}).render("zoo.cfg")


def test_a_minion_that_is_not_a_member_is_refused():
    model = zk_model.EnsembleModel.from_pillar(base_pillar(3), heap_mb_default=768)
    with pytest.raises(zk_model.NotAMember):
        hostplan.MemberHostPlan(model, "zk9")


def test_per_job_cache_builds_once_and_rebuilds_when_the_pillar_changes():
    context, builds = {}, []

    def build():
        builds.append(1)
        return object()

    pillar = {"kafka": {"version": "3.9.2"}}
    key = cache.digest(pillar, ("kafka",))
    first = cache.per_job(context, "slot", key, "model", build)
    assert cache.per_job(context, "slot", key, "model", build) is first and len(builds) == 1
    changed = cache.digest({"kafka": {"version": "3.9.1"}}, ("kafka",))
    assert cache.per_job(context, "slot", changed, "model", build) is not first and len(builds) == 2

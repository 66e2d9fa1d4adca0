"""One broker host plan: the pillar-over-sizing precedence is settled once, for every file."""

import pytest

from kafkasalt.kafka import hostplan
from kafkasalt.kafka import model as kafka_model
from tests.unit.test_broker_model import lab, model

REC = {
    "broker_heap_mb": {"value": 2048},
    "log.dirs": {"value": ["/data1/kafka", "/data2/kafka"]},
    "num.network.threads": {"value": 4},
    "num.io.threads": {"value": 9},
    "num.recovery.threads.per.data.dir": {"value": 2},
    "nofile": {"value": 200000},
}


def plan(pillar=None, manager="supervisord"):
    return hostplan.BrokerHostPlan(model(pillar), "kafka2", REC, manager, tls=lambda part: "CA PEM")


def test_sized_values_apply_when_pillar_leaves_them_open():
    p = plan()
    assert (p.heap_mb, p.log_dirs, p.nofile) == (2048, ["/data1/kafka", "/data2/kafka"], 200000)
    config = p.effective_config()
    assert config["log.dirs"] == "/data1/kafka,/data2/kafka"
    assert config["num.io.threads"] == "9"
    assert "-Xmx2048m" in p.render("supervisord")
    assert "log.dirs=/data1/kafka,/data2/kafka" in p.render("server.properties")


def test_a_brokers_own_log_dirs_win_over_the_cluster_wide_list_for_that_broker_only():
    pillar = lab(log_dirs=["/srv/kafka"])
    pillar["brokers"]["kafka2"]["log_dirs"] = ["/srv/kafka", "/srv/kafka2"]
    p = plan(pillar)
    assert p.log_dirs == ["/srv/kafka", "/srv/kafka2"] and p.facts()["log_dirs"] == ["/srv/kafka", "/srv/kafka2"]
    assert "log.dirs=/srv/kafka,/srv/kafka2" in p.render("server.properties")
    other = hostplan.BrokerHostPlan(model(pillar), "kafka1", REC, "supervisord", tls=lambda part: "CA PEM")
    assert other.log_dirs == ["/srv/kafka"]
    del pillar["log_dirs"]
    assert hostplan.BrokerHostPlan(model(pillar), "kafka1", REC, "supervisord").log_dirs == REC["log.dirs"]["value"]


def test_pillar_values_win_over_sizing_in_every_file():
    p = plan(lab(heap_mb=1024, log_dirs=["/srv/kafka"]))
    assert (p.heap_mb, p.log_dirs) == (1024, ["/srv/kafka"])
    assert p.effective_config()["log.dirs"] == "/srv/kafka"
    assert "-Xmx1024m" in p.render("supervisord") and "-Xmx2048m" not in p.render("supervisord")
    assert p.facts()["log_dirs"] == ["/srv/kafka"] and p.facts()["heap_mb"] == 1024


def test_files_say_which_are_secret_and_which_need_a_restart():
    p = plan(manager="systemd")
    facts = p.facts()
    assert facts["plain_files"] == ["server.properties", "log4j.properties", "jmx_exporter.yml", "tls/truststore.pem"]
    assert facts["secret_files"] == ["kafka_server_jaas.conf", "tls/keystore.pem", "tls/admin-keystore.pem",
                                     "admin-client.properties"]
    assert all(f.mode == "0600" for f in p.files if f.secret)
    # Key and trust stores are reloaded live (kafka.reload_tls): a renewed certificate restarts nothing.
    assert p.config_files() == [kafka_model.SERVER_PROPERTIES_PATH, kafka_model.JAAS_PATH, kafka_model.LOG4J_PATH,
                                kafka_model.JMX_EXPORTER_CONFIG_PATH, "/etc/systemd/system/kafka.service"]
    restart_paths = {f.path for f in p.files if f.restart}
    assert restart_paths == set(p.config_files()[:-1])


def test_every_listed_file_has_a_renderer_and_unknown_names_are_refused():
    p = plan()
    names = {f.name for f in p.files} | {"systemd", "supervisord"}
    assert names == set(p.renderers())
    assert p.render("tls/truststore.pem") == "CA PEM"
    with pytest.raises(ValueError, match="unknown file 'nope'"):
        p.render("nope")


def test_a_minion_that_is_not_a_broker_is_refused():
    with pytest.raises(KeyError):
        hostplan.BrokerHostPlan(model(), "zk9", REC)

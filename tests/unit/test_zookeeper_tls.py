"""ZooKeeper TLS: pillar validation, zoo.cfg, the quorum-TLS switch phases and the broker side."""

import copy

import pytest

from kafkasalt.common.errors import PillarError, PillarErrors
from kafkasalt.kafka import model as kafka_model
from kafkasalt.kafka import render as kafka_render
from kafkasalt.zookeeper import model as zk_model
from kafkasalt.zookeeper import render as zk_render
from kafkasalt.zookeeper import tls as zk_tls
from tests.unit.test_broker_model import LAB, ZOOKEEPER
from tests.unit.test_zookeeper_model import base_pillar


def tls_model(**tls):
    pillar = base_pillar(3)
    pillar["tls"] = {"enabled": True, **tls}
    return zk_model.EnsembleModel.from_pillar(pillar, heap_mb_default=512)


def tls_errors(tls, **extra):
    pillar = base_pillar(3)
    pillar["tls"] = tls
    pillar.update(extra)
    with pytest.raises(PillarErrors) as info:
        zk_model.EnsembleModel.from_pillar(pillar, heap_mb_default=512)
    return {e.key: e.message for e in info.value.errors}


def cfg_lines(text):
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_tls_is_off_by_default_and_zoo_cfg_unchanged():
    model = zk_model.EnsembleModel.from_pillar(base_pillar(3), heap_mb_default=512)
    assert model.tls == zk_model.TlsSettings(enabled=False, client_auth="need", plaintext_clients=True,
                                        hostname_verification=True)
    text = zk_render.render_zoo_cfg(model, "kafka1")
    assert "ssl" not in text.lower().replace("# no secrets", "") and "secureClientPort" not in text
    assert model.connect_string == "127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181"


def test_tls_zoo_cfg_has_quorum_tls_and_a_tls_client_port_on_the_member_address():
    model = tls_model()
    lines = cfg_lines(zk_render.render_zoo_cfg(model, "kafka2"))
    for expected in (
        "serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
        "clientPortAddress=127.0.0.12", "clientPort=2181",
        "secureClientPortAddress=127.0.0.12", "secureClientPort=2182",
        "ssl.keyStore.location=/etc/zookeeper/tls/member.pem", "ssl.keyStore.type=PEM",
        "ssl.trustStore.location=/etc/zookeeper/tls/ca.pem", "ssl.trustStore.type=PEM",
        "ssl.clientAuth=need",
        "sslQuorum=true",
        "ssl.quorum.keyStore.location=/etc/zookeeper/tls/member.pem",
        "ssl.quorum.trustStore.location=/etc/zookeeper/tls/ca.pem",
        "ssl.quorum.hostnameVerification=true",
    ):
        assert expected in lines, expected
    assert not any(line.startswith("portUnification") for line in lines)
    # Clients prefer TLS: the connect string names the TLS ports.
    assert model.connect_string == "127.0.0.11:2182,127.0.0.12:2182,127.0.0.13:2182"


def test_tls_only_closes_the_plaintext_port():
    model = tls_model(plaintext_clients=False, client_auth="want", hostname_verification=False)
    lines = cfg_lines(zk_render.render_zoo_cfg(model, "kafka1"))
    assert not any(line.startswith(("clientPort=", "clientPortAddress=")) for line in lines)
    assert "ssl.clientAuth=want" in lines and "ssl.quorum.hostnameVerification=false" in lines


def test_transition_renders_port_unification_with_the_given_ssl_quorum():
    model = tls_model()
    first = cfg_lines(zk_render.render_zoo_cfg(model, "kafka1", {"ssl_quorum": False}))
    assert "portUnification=true" in first and "sslQuorum=false" in first
    assert "ssl.quorum.keyStore.location=/etc/zookeeper/tls/member.pem" in first
    second = cfg_lines(zk_render.render_zoo_cfg(model, "kafka1", {"ssl_quorum": True}))
    assert "portUnification=true" in second and "sslQuorum=true" in second


@pytest.mark.parametrize("tls, key, words", [
    ({"enabled": "yes"}, "zookeeper:tls:enabled", "true or false"),
    ({"enabled": True, "client_auth": "always"}, "zookeeper:tls:client_auth", "need, want, none"),
    ({"enabled": False, "plaintext_clients": False}, "zookeeper:tls:plaintext_clients", "no port at all"),
    ({"enabled": True, "ciphers": "x"}, "zookeeper:tls:ciphers", "unknown key"),
    ("on", "zookeeper:tls", "must be a mapping"),
])
def test_bad_tls_pillar_names_the_key(tls, key, words):
    errors = tls_errors(tls)
    assert key in errors and words in errors[key], errors


def test_secure_client_port_clashes_only_when_tls_binds_it():
    pillar = base_pillar(3)
    pillar["ports"] = {"secure_client": 2888}
    zk_model.EnsembleModel.from_pillar(pillar, heap_mb_default=512)  # TLS off: the port is never bound
    errors = tls_errors({"enabled": True}, ports={"secure_client": 2888})
    assert "zookeeper:ports:secure_client" in errors or "zookeeper:ports:quorum" in errors, errors


def test_ssl_keys_in_config_are_owned_by_the_formula():
    pillar = base_pillar(3)
    pillar["config"] = {"sslQuorum": True, "ssl.quorum.keyStore.location": "/tmp/x", "portUnification": True}
    with pytest.raises(PillarErrors) as info:
        zk_model.EnsembleModel.from_pillar(pillar, heap_mb_default=512)
    keys = sorted(e.key for e in info.value.errors)
    assert keys == ["zookeeper:config:portUnification", "zookeeper:config:ssl.quorum.keyStore.location",
                    "zookeeper:config:sslQuorum"]


def deployed(ssl_quorum, port_unification=False, secure=True, members=("kafka1", "kafka2", "kafka3")):
    return {mid: {"ssl_quorum": ssl_quorum, "port_unification": port_unification,
                  "client_port": 2181, "secure_client_port": 2182 if secure else None} for mid in members}


def test_quorum_tls_phases():
    on, off = tls_model(), zk_model.EnsembleModel.from_pillar(base_pillar(3), heap_mb_default=512)
    assert zk_tls.quorum_tls_phases({}, on) == []  # bare hosts: the first start has TLS already
    assert zk_tls.quorum_tls_phases({"kafka1": None}, on) == []
    assert zk_tls.quorum_tls_phases(deployed(False, secure=False), off) == []
    assert zk_tls.quorum_tls_phases(deployed(True), on) == []
    # Plaintext ensemble -> TLS: roll with unification keeping plaintext, then switch.
    assert zk_tls.quorum_tls_phases(deployed(False, secure=False), on) == [{"ssl_quorum": False}, {"ssl_quorum": True}]
    # Halted after the first roll: only the second is left.
    assert zk_tls.quorum_tls_phases(deployed(False, True), on) == [{"ssl_quorum": True}]
    # After the second roll only the final (ordinary) roll is left.
    assert zk_tls.quorum_tls_phases(deployed(True, True), on) == []
    mixed = deployed(False, True)
    mixed["kafka2"]["port_unification"] = False
    assert zk_tls.quorum_tls_phases(mixed, on) == [{"ssl_quorum": False}, {"ssl_quorum": True}]


def test_switching_tls_off_or_closing_plaintext_at_once_is_refused():
    off = zk_model.EnsembleModel.from_pillar(base_pillar(3), heap_mb_default=512)
    with pytest.raises(PillarError) as info:
        zk_tls.quorum_tls_phases(deployed(True), off)
    assert info.value.key == "zookeeper:tls:enabled"
    with pytest.raises(PillarError) as info:
        zk_tls.quorum_tls_phases(deployed(False, secure=False), tls_model(plaintext_clients=False))
    assert info.value.key == "zookeeper:tls:plaintext_clients"
    assert "kafka.deploy" in info.value.message


def test_brokers_reach_a_tls_ensemble_on_its_tls_port_with_their_keystore():
    zookeeper = copy.deepcopy(ZOOKEEPER)
    zookeeper["tls"] = {"enabled": True}
    model = kafka_model.ClusterModel.from_pillar(copy.deepcopy(LAB), zookeeper)
    props = kafka_render.broker_effective_config(model, "kafka1")
    assert props["zookeeper.connect"].startswith("127.0.0.11:2182,127.0.0.12:2182,127.0.0.13:2182/")
    assert props["zookeeper.ssl.client.enable"] == "true"
    assert props["zookeeper.clientCnxnSocket"] == "org.apache.zookeeper.ClientCnxnSocketNetty"
    assert props["zookeeper.ssl.keystore.location"] == kafka_model.KEYSTORE_PATH
    assert props["zookeeper.ssl.truststore.location"] == kafka_model.TRUSTSTORE_PATH
    assert props["zookeeper.ssl.keystore.type"] == props["zookeeper.ssl.truststore.type"] == "PEM"


def test_brokers_from_the_ensemble_model_object_follow_its_tls_setting():
    on = tls_model()
    link = kafka_model.ZookeeperLink.coerce(on)
    assert link.tls and [port for _, port in link.servers] == [2182, 2182, 2182]
    off = kafka_model.ZookeeperLink.coerce(zk_model.EnsembleModel.from_pillar(base_pillar(3), heap_mb_default=512))
    assert not off.tls and [port for _, port in off.servers] == [2181, 2181, 2181]


def test_a_tls_ensemble_needs_a_tls_listener_on_the_brokers():
    zookeeper = copy.deepcopy(ZOOKEEPER)
    zookeeper["tls"] = {"enabled": True}
    pillar = copy.deepcopy(LAB)
    pillar["listeners"] = {"BROKER": {"port": 9094, "protocol": "SASL_PLAINTEXT"}}
    pillar["allow_insecure_listeners"] = True
    with pytest.raises(PillarErrors) as info:
        kafka_model.ClusterModel.from_pillar(pillar, zookeeper)
    assert "zookeeper:tls:enabled" in [e.key for e in info.value.errors]


def test_zookeeper_ssl_keys_are_owned_by_the_formula_in_broker_config():
    zookeeper = copy.deepcopy(ZOOKEEPER)
    pillar = copy.deepcopy(LAB)
    pillar["config"] = {"zookeeper.ssl.client.enable": True}
    with pytest.raises(PillarErrors) as info:
        kafka_model.ClusterModel.from_pillar(pillar, zookeeper)
    assert [e.key for e in info.value.errors] == ["kafka:config:zookeeper.ssl.client.enable"]


def load_ext_pillar(tmp_path):
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(__file__), "..", "..", "_pillar", "kafka_pki.py")
    spec = importlib.util.spec_from_file_location("kafka_pki_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.__opts__ = {"pki_dir": str(tmp_path)}
    return module


def test_ext_pillar_issues_member_and_client_certificates_from_the_cluster_ca(tmp_path):
    from cryptography import x509

    from kafkasalt.security import pki

    module = load_ext_pillar(tmp_path)
    pillar = {"zookeeper": {"members": {"kafka1": {"myid": 1, "address": "127.0.0.11"}}, "tls": {"enabled": True}},
              "kafka": {"cluster_name": "lab", "brokers": {}}}
    member = module.ext_pillar("kafka1", pillar)
    tls = member["zookeeper_tls"]
    assert set(tls) == {"ca_cert", "member", "client"}
    # One CA for ZooKeeper and Kafka: brokers trust the members' certificates.
    assert tls["ca_cert"] == member["kafka_tls"]["ca_cert"]
    cert = x509.load_pem_x509_certificate(tls["member"]["cert"].encode())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.11"]
    assert "kafka1" in sans.get_values_for_type(x509.DNSName)
    assert pki.key_matches_cert(tls["member"]["key"], tls["member"]["cert"])
    # A broker-only minion gets the client certificate, not a member one.
    broker_only = module.ext_pillar("kafka9", pillar)["zookeeper_tls"]
    assert set(broker_only) == {"ca_cert", "client"}
    # TLS off: no ZooKeeper material at all.
    pillar["zookeeper"]["tls"]["enabled"] = False
    assert "zookeeper_tls" not in module.ext_pillar("kafka1", pillar)

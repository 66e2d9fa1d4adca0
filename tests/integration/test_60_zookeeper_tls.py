"""ZooKeeper TLS on the lab: switched on for the running ensemble and cluster, without downtime.

The ensemble runs plaintext SASL from the earlier modules. Turning ``zookeeper:tls:enabled`` on
rolls the members twice through port unification and once more to the final config, while a
kazoo writer keeps writing; then ``kafka.deploy`` moves the brokers to the TLS client port with
a gated rolling restart. The TLS port refuses plaintext and certificate-less clients.

The lab turns ``hostname_verification`` off for the quorum: every loopback connection leaves
from 127.0.0.1 whatever member address it targets, so a member's certificate (SAN: its own
address) cannot match the peer address the accepting member sees. On real hosts connections
leave from the member's own address and verification stays on (the default).
"""

import ssl

import pytest

from kafkasalt.zookeeper import client as zkclient
from tests.conftest import bench
from tests.integration.conftest import ZK_CONNECT, ZkWriter, leaked_secrets

pytestmark = pytest.mark.lab

MEMBERS = ("kafka1", "kafka2", "kafka3")
TLS_ON = {"zookeeper": {"tls": {"enabled": True, "hostname_verification": False}}}
TLS_CONNECT = ZK_CONNECT.replace(":2181", ":2182")


def _zoo_cfg(lab, host):
    with open(lab.host_path(host, "/etc/zookeeper/zoo.cfg")) as fh:
        return dict(line.strip().split("=", 1) for line in fh if "=" in line and not line.startswith("#"))


def _client_tls(lab):
    return zkclient.TlsFiles(ca=lab.host_path("kafka1", "/etc/zookeeper/tls/ca.pem"),
                             keystore=lab.host_path("kafka1", "/etc/zookeeper/tls/client.pem"))


@pytest.fixture(scope="module")
def tls_lab(lab, ensure_deployed):
    ensure_deployed()
    lab.set_override({})
    return lab


def test_switch_plan_under_test_mode_lists_the_phases_and_touches_nothing(tls_lab, orchestrate):
    lab = tls_lab
    lab.set_override(TLS_ON)
    run = orchestrate("zookeeper.deploy", "test=True")
    phases = run.steps["zookeeper-quorum-tls"]["changes"]["phases"]
    assert phases == ["roll with portUnification=true and sslQuorum=false",
                      "roll with portUnification=true and sslQuorum=true",
                      "final roll without portUnification (zookeeper-members, zookeeper-roll)"]
    assert all("sslQuorum" not in _zoo_cfg(lab, h) for h in MEMBERS)


def test_switching_tls_on_rolls_through_port_unification_without_losing_a_write(tls_lab, orchestrate, lab_secrets):
    lab = tls_lab
    lab.set_override(TLS_ON)
    with ZkWriter(lab_secrets["zk_super"], "/tls-switch-test") as writer:
        run = orchestrate("zookeeper.deploy")
    assert run.succeeded, run.text()[-4000:]
    phases = run.steps["zookeeper-quorum-tls"]["changes"]["phases"]
    assert [(p["ssl_quorum"], sorted(p["restarted"])) for p in phases] == [(False, list(MEMBERS)), (True, list(MEMBERS))]
    final = run.steps["zookeeper-roll"]["changes"]
    assert sorted(final["restarted"]) == list(MEMBERS)
    for host in MEMBERS:
        cfg = _zoo_cfg(lab, host)
        assert cfg["sslQuorum"] == "true" and "portUnification" not in cfg, cfg
        assert cfg["secureClientPort"] == "2182" and cfg["clientPort"] == "2181"
    health = lab.salt_json("kafka1", "zookeeper_ensemble.health")["kafka1"]
    assert health["verdict"] == "healthy", health
    per_roll = [p["seconds"] for p in phases] + [final["seconds"]]
    bench(f"zookeeper TLS switch on a running ensemble: {run.seconds:.1f}s for 3 rolls, per member {per_roll}; "
          f"{writer.summary()}")
    writer.assert_clean()


def test_tls_port_needs_tls_and_a_certificate_of_the_cluster_ca(tls_lab, lab_secrets):
    lab = tls_lab
    tls = _client_tls(lab)
    with zkclient.session(TLS_CONNECT, "super", lab_secrets["zk_super"], tls=tls) as client:
        assert client.exists("/") is not None
    assert "Mode:" in zkclient.four_letter_word("127.0.0.11", 2182, "srvr", tls=tls)
    # Plaintext on the TLS port: nothing comes back.
    with pytest.raises(zkclient.ZkUnavailable):
        text = zkclient.four_letter_word("127.0.0.11", 2182, "srvr", timeout=3)
        if "Mode:" not in text:
            raise zkclient.ZkUnavailable("no srvr reply over plaintext")
    # TLS without a client certificate: the member refuses the handshake (ssl.clientAuth=need).
    context = ssl.create_default_context(cafile=tls.ca)
    import socket

    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        with socket.create_connection(("127.0.0.11", 2182), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.11") as sock:
                sock.sendall(b"srvr")
                if b"Mode:" not in sock.recv(4096):
                    raise ConnectionError("no reply without a client certificate")


def test_brokers_move_to_the_tls_port(tls_lab, orchestrate):
    lab = tls_lab
    lab.set_override(TLS_ON)
    run = orchestrate("kafka.deploy")
    assert run.succeeded, run.text()[-4000:]
    assert "zookeeper-quorum-tls" not in run.steps
    rolled = run.steps["kafka-rolling-restart"]["changes"].get("restarted", [])
    assert sorted(rolled) == list(MEMBERS), run.steps["kafka-rolling-restart"]
    for host in MEMBERS:
        with open(lab.host_path(host, "/etc/kafka/server.properties")) as fh:
            props = dict(line.strip().split("=", 1) for line in fh if "=" in line and not line.startswith("#"))
        assert props["zookeeper.ssl.client.enable"] == "true"
        assert props["zookeeper.connect"].startswith(TLS_CONNECT + "/")
    assert lab.salt_json("kafka1", "kafka.health")["kafka1"]["verdict"] == "healthy"
    bench(f"kafka.deploy moving 3 brokers to ZooKeeper TLS: {run.seconds:.1f}s")
    # Settled: the brokers' states (ZooKeeper TLS files included) would change nothing.
    again = lab.salt_json("kafka*", "state.apply", "kafka", "test=True")
    would = {host: [v["__id__"] for v in states.values() if v["result"] is not True]
             for host, states in again.items()}
    assert would == {host: [] for host in MEMBERS}, would


def test_switching_tls_off_again_is_refused_and_changes_nothing(tls_lab, orchestrate):
    lab = tls_lab
    lab.set_override({})
    run = orchestrate("zookeeper.deploy")
    assert not run.succeeded
    assert "zookeeper:tls:enabled" in run.text(), run.text()[-2000:]
    # Through the whole-cluster orchestration too: the ZooKeeper plan's reason reaches the
    # operator (it used to be masked by "Referenced state does not exist for requisite").
    run = orchestrate("kafka.deploy")
    assert not run.succeeded
    assert "zookeeper:tls:enabled" in run.text(), run.text()[-2000:]
    assert "Referenced state does not exist" not in run.text()
    assert "kafka-bootstrap" not in {k for k, v in run.steps.items() if v.get("result") is True}
    assert all(_zoo_cfg(lab, h)["sslQuorum"] == "true" for h in MEMBERS)
    lab.set_override(TLS_ON)


def test_no_tls_key_in_job_cache_logs_or_output(tls_lab):
    assert leaked_secrets(tls_lab, list(tls_lab.lab_secrets().values())) == []

"""Certificates and the cluster CA replaced on the running lab, without a broker restart.

Runs after the ZooKeeper TLS module: brokers serve SASL_SSL and talk to the ensemble over its
TLS port, members speak TLS in the quorum, so the rotation covers every kind of TLS file the
formula writes. An acks=all producer and an auditing consumer run through the rotation; the
rotation's runner is killed once mid-way and run again.
"""

import hashlib
import json
import os
import socket
import ssl
import subprocess
import time

import pytest

from kafkasalt.security import pki
from lab.saltlab import VENV_BIN
from tests.conftest import bench
from tests.integration.conftest import KafkaAudit, leaked_secrets
from tests.integration.test_20_kafka_deploy import ca_file, client_config
from tests.integration.test_60_zookeeper_tls import TLS_ON

pytestmark = pytest.mark.lab

HOSTS = {"kafka1": "127.0.0.11", "kafka2": "127.0.0.12", "kafka3": "127.0.0.13"}
KAFKA_TLS_PORT = 9093
ZK_TLS_PORT = 2182


@pytest.fixture(scope="module")
def rotation_lab(lab, ensure_deployed, orchestrate):
    lab.set_override(TLS_ON)
    with open(lab.host_path("kafka1", "/etc/zookeeper/zoo.cfg")) as fh:
        zk_tls = "secureClientPort=2182" in fh.read()
    if not zk_tls:  # this module alone on a fresh lab: switch ZooKeeper TLS on first
        assert orchestrate("zookeeper.deploy").succeeded
        assert orchestrate("kafka.deploy").succeeded
    ensure_deployed()
    return lab


def _pids(lab, program):
    return {h: lab.nsenter(h, ["supervisorctl", "pid", program], check=False).stdout.strip() for h in HOSTS}


def _presented(address, port, cert_file=None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    if cert_file:
        context.load_cert_chain(cert_file)
    with socket.create_connection((address, port), timeout=5) as raw, context.wrap_socket(raw) as tls:
        return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def _verifies(address, port, cafile, cert_file=None):
    """Whether a client trusting only ``cafile`` completes a verified handshake."""
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = False
    if cert_file:
        context.load_cert_chain(cert_file)
    try:
        with socket.create_connection((address, port), timeout=5) as raw, context.wrap_socket(raw):
            return True
    except ssl.SSLCertVerificationError:
        return False


def _store_dir(lab):
    return os.path.dirname(ca_file(lab))


def test_a_renewed_broker_certificate_is_served_without_a_restart(rotation_lab, orchestrate):
    lab = rotation_lab
    before_pids = _pids(lab, "kafka")
    before = _presented(HOSTS["kafka2"], KAFKA_TLS_PORT)
    for suffix in ("crt", "key"):  # as if it were inside its renewal window: the ext_pillar issues a new one
        os.remove(os.path.join(_store_dir(lab), "issued", f"broker-kafka2.{suffix}"))
    run = orchestrate("kafka.deploy")
    assert run.succeeded, run.text()[-4000:]
    after = _presented(HOSTS["kafka2"], KAFKA_TLS_PORT)
    with open(os.path.join(_store_dir(lab), "issued", "broker-kafka2.crt")) as fh:
        issued = pki.fingerprint(fh.read())
    assert after != before and after == issued
    assert _pids(lab, "kafka") == before_pids  # no broker restarted
    assert run.steps["kafka-rolling-restart"]["changes"] == {}
    assert _verifies(HOSTS["kafka2"], KAFKA_TLS_PORT, ca_file(lab))
    bench(f"leaf renewal of kafka2 through kafka.deploy: {run.seconds:.1f}s, 0 broker restarts, "
          f"kafka2 serves the new certificate")


def test_ca_rotation_killed_midway_resumes_and_loses_nothing(rotation_lab, tmp_path):
    lab = rotation_lab
    old_ca = tmp_path / "old-ca.pem"
    old_ca.write_text(open(ca_file(lab)).read())
    kafka_pids = _pids(lab, "kafka")
    lab.salt_json("kafka1", "kafka.create_topic", "ca-rotation", "3", "3", '{"min.insync.replicas": "2"}')
    # A well-behaved client reads the CA file it was given on every new connection; the hosts'
    # trust store is that file here (old CA, then both, then the new one).
    config = client_config(lab, ssl_cafile=lab.host_path("kafka1", "/etc/kafka/tls/truststore.pem"))
    started = time.monotonic()
    with KafkaAudit(lab, "ca-rotation", config) as audit:
        runner = subprocess.Popen([os.path.join(VENV_BIN, "salt-run"), "-c", lab.master_conf_dir,
                                   "kafka.rotate_ca", "--out=json"], env=lab.env(),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Kill the runner once the second phase has begun on the first host.
        next_ca_path = os.path.join(_store_dir(lab), "next", "ca.crt")
        keystore = lab.host_path("kafka1", "/etc/kafka/tls/keystore.pem")
        deadline = time.monotonic() + 240
        killed_in = None
        while time.monotonic() < deadline and runner.poll() is None:
            if os.path.exists(next_ca_path):
                new_ca = open(next_ca_path).read()
                leaf = pki.keystore_leaf(open(keystore).read(), (new_ca,))
                if leaf and leaf["issued_by"]:
                    runner.kill()
                    killed_in = "reissue"
                    break
            time.sleep(0.2)
        runner.wait(30)
        assert killed_in, "the rotation ended before it could be killed in its second phase"
        killed_at = round(time.monotonic() - started, 1)
        proc = lab.salt_run("kafka.rotate_ca", "--out=json", check=False, timeout=900)
    out = json.loads(proc.stdout)
    assert out.get("result") is True, proc.stdout[-4000:]
    changes = out["changes"]
    assert changes["ca_created"] is False and changes["resumed_from"] in ("reissue", "drop"), changes
    audit.assert_clean()
    # Every broker and member presents a certificate of the new CA; a client holding only the
    # old CA is refused by all of them.
    new_ca = ca_file(lab)  # promoted: the store's CA is the new one
    assert pki.fingerprint(open(new_ca).read()) == changes["new_ca_fingerprint"]
    for host, address in HOSTS.items():
        client_cert = lab.host_path(host, "/etc/zookeeper/tls/client.pem")
        assert _verifies(address, KAFKA_TLS_PORT, new_ca), host
        assert not _verifies(address, KAFKA_TLS_PORT, str(old_ca)), host
        assert _verifies(address, ZK_TLS_PORT, new_ca, client_cert), host
        assert not _verifies(address, ZK_TLS_PORT, str(old_ca), client_cert), host
        with open(lab.host_path(host, "/etc/kafka/tls/truststore.pem")) as fh:
            assert pki.bundle_fingerprints(fh.read()) == [changes["new_ca_fingerprint"]]
    assert _pids(lab, "kafka") == kafka_pids  # brokers reloaded live: none restarted
    assert not os.path.exists(os.path.join(_store_dir(lab), "next"))
    assert lab.salt_json("kafka1", "kafka.health")["kafka1"]["verdict"] == "healthy"
    assert lab.salt_json("kafka1", "zookeeper_ensemble.health")["kafka1"]["verdict"] == "healthy"
    bench(f"CA rotation with the runner killed at {killed_at}s (in {killed_in}), re-run "
          f"{changes['seconds_per_phase']} s per phase, resumed from {changes['resumed_from']}, "
          f"skipped {len(changes['skipped'])} steps, members restarted {changes['members_restarted']}, "
          f"0 broker restarts; {audit.summary()}")
    # Settled: a normal state run changes no TLS file and another rotation run has nothing to do
    # but start over (it is not run here).
    again = lab.salt_json("kafka*", "state.apply", "kafka", "test=True")
    would = {host: [v["__id__"] for v in states.values() if v["result"] is not True] for host, states in again.items()}
    assert would == {host: [] for host in HOSTS}, would
    assert leaked_secrets(lab, []) == []  # no private key in the job cache, logs or proc files

"""Real brokers take a new CA and new certificates without a restart (no Salt involved).

Two SASL_SSL brokers replicate a min.insync.replicas=2 topic while their trust stores go to
old+new CA, their key stores to certificates of the new CA and their trust stores to the new
CA only, each change loaded by :mod:`kafkasalt.kafka.tls_reload`'s alternating-path alter and
checked by the certificate each listener presents. Broker 2 is then killed and started again:
broker 1 must fetch from it over a new inter-broker connection under the new CA only.

What this does not tell apart: the same test passes with a same-path alter too (measured), as
the fetcher for a new leader is created afresh and reads the files then. The alternating path
is for the channels that live on (a fetcher that reconnects to the same leader), which Kafka
reconfigures only on a real value change (``reloadUpdatedFilesWithoutConfigChange`` reloads
``ListenerReconfigurable`` server sides only).
"""

import socket
import ssl
import time

import pytest

from kafkasalt.kafka import tls_reload
from kafkasalt.kafka.admin import KafkaAdmin
from kafkasalt.kafka.model import Listener
from kafkasalt.security import pki
from tests.conftest import bench
from tests.functional.secure_cluster import CHROOT, LOOPBACK, SecureCluster, _write_private

LISTENERS = (Listener("CLIENT", 0, "SASL_SSL"), Listener("BROKER", 0, "SASL_SSL"))


@pytest.fixture(scope="module")
def cluster(artifact_manifest, tmp_path_factory):
    secure = SecureCluster(tmp_path_factory.mktemp("tls-reload"), artifact_manifest, broker_count=2)
    try:
        secure.start()
        yield secure
    finally:
        secure.stop()


def _reload_all(cluster):
    with KafkaAdmin(cluster.settings()) as admin:
        for broker_id in sorted(cluster.brokers):
            current = admin.broker_configs(broker_id)
            operations = tls_reload.reload_operations(LISTENERS, str(cluster._keystores[broker_id]),
                                                      str(cluster.ca_file), current)
            admin.incremental_alter_configs("BROKER", str(broker_id), operations)


def _verifies(port, cafile):
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = False
    try:
        with socket.create_connection((LOOPBACK, port), timeout=5) as raw, context.wrap_socket(raw):
            return True
    except ssl.SSLCertVerificationError:
        return False


def _produce(cluster, topic, count):
    from kafka import KafkaProducer

    producer = KafkaProducer(acks="all", **cluster.client_kwargs("admin", cluster.admin_password))
    try:
        for n in range(count):
            producer.send(topic, str(n).encode()).get(timeout=30)
    finally:
        producer.close()


def _wait_unregistered(cluster, broker_id, timeout=60):
    """Until the killed broker's ZooKeeper session expired and its registration went."""
    from kafkasalt.zookeeper import client as zkclient

    deadline = time.monotonic() + timeout
    with zkclient.session(f"{LOOPBACK}:{cluster.zookeeper_port}") as zk:
        while time.monotonic() < deadline:
            if zk.exists(f"{CHROOT}/brokers/ids/{broker_id}") is None:
                return
            time.sleep(0.5)
    raise AssertionError(f"broker {broker_id} still registered {timeout}s after it was killed")


def _wait_in_sync(cluster, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with KafkaAdmin(cluster.settings()) as admin:
            health = admin.health(expected_brokers=sorted(cluster.brokers))
        if health["verdict"] == "healthy":
            return health
        time.sleep(1)
    raise AssertionError(f"not healthy after {timeout}s: {health}")


def test_new_ca_and_certificates_are_loaded_live_including_the_replica_fetchers(cluster, tmp_path):
    old_ca = open(cluster.ca_file).read()
    (tmp_path / "old.pem").write_text(old_ca)
    with KafkaAdmin(cluster.settings()) as admin:
        admin.create_topic("reload", 2, 2, {"min.insync.replicas": "2"})
    _produce(cluster, "reload", 20)
    new_key, new_ca = pki.create_ca("kafkasalt test CA 2")
    started = time.monotonic()

    cluster.ca_file.write_text(old_ca + new_ca)  # trust: both
    _reload_all(cluster)
    trusted = time.monotonic()
    leaves = {}
    for broker_id, path in cluster._keystores.items():  # reissue: same names, the new CA
        key, cert = pki.issue_cert(new_key, new_ca, f"broker-{broker_id}", ip_addresses=[LOOPBACK])
        _write_private(path, pki.pem_keystore(key, cert, new_ca))
        leaves[broker_id] = pki.fingerprint(cert)
    _reload_all(cluster)
    reissued = time.monotonic()
    for broker_id, port in cluster.client_ports.items():
        assert tls_reload.presented_fingerprint(LOOPBACK, port) == leaves[broker_id]
        assert tls_reload.presented_fingerprint(LOOPBACK, cluster.broker_ports[broker_id]) == leaves[broker_id]
    cluster.ca_file.write_text(new_ca)  # drop the old CA
    _reload_all(cluster)
    dropped = time.monotonic()
    _produce(cluster, "reload", 20)

    # A new inter-broker connection after the drop: broker 1 fetches from a restarted broker 2.
    cluster.kill_broker(2)
    _wait_unregistered(cluster, 2)  # a new process cannot register while the killed one's session lives
    cluster.start_broker(2)
    health = _wait_in_sync(cluster)
    _produce(cluster, "reload", 20)
    for port in cluster.client_ports.values():
        assert _verifies(port, str(cluster.ca_file))
        assert not _verifies(port, str(tmp_path / "old.pem"))
    assert health["verdict"] == "healthy"
    bench(f"live TLS reload on 2 brokers: trust {trusted - started:.2f}s, reissue {reissued - trusted:.2f}s, "
          f"drop {dropped - reissued:.2f}s; a restarted broker is fetched from under the new CA only")

"""External pillar: each Kafka host's TLS key and certificate from the cluster CA on the master.

Enable on the master::

    ext_pillar:
      - kafka_pki: {}

A broker minion receives ``kafka_tls:broker`` (key + certificate with SANs for its address and
minion id); every minion with a ``kafka`` pillar receives ``kafka_tls:client`` (for mTLS admin
tools) and ``kafka_tls:ca_cert``. Pillar travels encrypted to that minion only, so the private
keys never appear in SLS, state output or job returns. The CA key never leaves the master.

With ``zookeeper:tls:enabled`` a minion also receives ``zookeeper_tls`` from the same CA: the
CA, a client certificate, and on ensemble members a member certificate for the quorum and the
TLS client port.
"""

import ipaddress
import logging
import os

try:
    from kafkasalt.common.errors import PillarError
    from kafkasalt.kafka.model import DEFAULTS as KAFKA_DEFAULTS
    from kafkasalt.kafka.model import cluster_name_problem, dns_names_problems
    from kafkasalt.security.pki_store import PkiStore

    HAS_CORE = True
except ImportError:
    HAS_CORE = False

log = logging.getLogger(__name__)

__virtualname__ = "kafka_pki"


def __virtual__():
    if not HAS_CORE:
        return (False, "kafka_pki ext_pillar: the kafkasalt core package (and cryptography) cannot be imported")
    return __virtualname__


def store_for(opts, cluster_name):
    """The cluster's PKI store under the master's pki_dir; the name is checked before it becomes
    a path (PillarError naming kafka:cluster_name)."""
    problem = cluster_name_problem(cluster_name)
    if problem:
        raise PillarError("kafka:cluster_name", problem)
    return PkiStore(os.path.join(opts["pki_dir"], "kafka", cluster_name), cluster_name)


def _is_ip(value):
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _store(pillar):
    # One CA for the whole cluster: brokers must trust the ZooKeeper members' certificates.
    kafka = pillar.get("kafka") if isinstance(pillar.get("kafka"), dict) else {}
    name = kafka.get("cluster_name")
    return store_for(__opts__, KAFKA_DEFAULTS["cluster_name"] if name is None else name)


def _dns_names(minion_id, broker):
    """The broker's extra certificate names, checked by the same rule as the pillar validator."""
    value = broker.get("dns_names")
    key = f"kafka:brokers:{minion_id}:dns_names"
    for index, message in dns_names_problems(value):
        raise PillarError(key if index is None else f"{key}:{index}", message)
    return list(value or ())


def _server_certificate(store, name, minion_id, address, dns_names=()):
    """Key and certificate for a server at ``address``: SANs its minion id, extra DNS names and
    the address (as an IP SAN when it is one)."""
    address = str(address)
    names = [minion_id, *dns_names] + ([] if _is_ip(address) else [address])
    ips = [address] if _is_ip(address) else []
    key, cert, reason = store.certificate(name, names, ips, server=True, client=True)
    if reason:
        log.info("kafka_pki: issued %s certificate (%s)", name, reason)
    return {"key": key, "cert": cert}


def _zookeeper_tls(minion_id, pillar):
    """``zookeeper_tls`` for a minion whose zookeeper pillar enables TLS: the CA, a client
    certificate (the formula's probes and kazoo sessions) and, on members, the member
    certificate (SANs: its address and minion id) for the quorum and the TLS client port."""
    zookeeper = pillar.get("zookeeper")
    tls_settings = zookeeper.get("tls") if isinstance(zookeeper, dict) else None
    if not (isinstance(tls_settings, dict) and tls_settings.get("enabled") is True):
        return {}
    try:
        store = _store(pillar)
        tls = {"ca_cert": store.ca_cert()}
        member = (zookeeper.get("members") or {}).get(minion_id)
        if isinstance(member, dict) and member.get("address"):
            tls["member"] = _server_certificate(store, f"zookeeper-{minion_id}", minion_id, member["address"])
        key, cert, _ = store.certificate(f"zkclient-{minion_id}", (), (), server=False, client=True)
        tls["client"] = {"key": key, "cert": cert}
    except PillarError as exc:  # refused before anything is created on the master
        log.warning("kafka_pki: no ZooKeeper TLS material for %s: %s", minion_id, exc)
        return {"zookeeper_tls": {"error": f"kafka_pki ext_pillar: {exc}"}}
    except Exception as exc:  # a broken PKI must not break the minion's whole pillar
        log.error("kafka_pki: cannot provide ZooKeeper TLS material for %s: %s", minion_id, exc)
        return {"zookeeper_tls": {"error": f"kafka_pki ext_pillar failed: {exc}"}}
    return {"zookeeper_tls": tls}


def ext_pillar(minion_id, pillar, *args, **kwargs):  # pylint: disable=unused-argument
    result = _zookeeper_tls(minion_id, pillar)
    kafka = pillar.get("kafka")
    if not isinstance(kafka, dict):
        return result
    try:
        store = _store(pillar)
        tls = {"ca_cert": store.ca_cert()}
        broker = (kafka.get("brokers") or {}).get(minion_id)
        if isinstance(broker, dict) and broker.get("address"):
            tls["broker"] = _server_certificate(store, f"broker-{minion_id}", minion_id, broker["address"],
                                                _dns_names(minion_id, broker))
        # Client certificates identify by subject (CN = minion id); they need no SAN.
        key, cert, reason = store.certificate(f"client-{minion_id}", (), (), server=False, client=True)
        tls["client"] = {"key": key, "cert": cert}
    except PillarError as exc:  # refused before anything is created on the master
        log.warning("kafka_pki: no TLS material for %s: %s", minion_id, exc)
        return dict(result, kafka_tls={"error": f"kafka_pki ext_pillar: {exc}"})
    except Exception as exc:  # a broken PKI must not break the minion's whole pillar
        log.error("kafka_pki: cannot provide TLS material for %s: %s", minion_id, exc)
        return dict(result, kafka_tls={"error": f"kafka_pki ext_pillar failed: {exc}"})
    return dict(result, kafka_tls=tls)

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

While a CA rotation is pending (``salt-run kafka.rotate_ca``) each section also carries
``next``: the new CA and the same certificates issued from it. Which of the two a host writes
is decided on the host, from the phase its files hold (:mod:`kafkasalt.security.rotation`).
"""

import ipaddress
import logging

try:
    from kafkasalt.common.errors import PillarError
    from kafkasalt.kafka.model import DEFAULTS as KAFKA_DEFAULTS
    from kafkasalt.kafka.model import dns_names_problems
    from kafkasalt.security import pki_store

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
    """The cluster's PKI store under the master's pki_dir (see :func:`pki_store.store_for`)."""
    return pki_store.store_for(opts["pki_dir"], cluster_name)


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


def _server_certificate(store, name, minion_id, address, dns_names=(), which="current"):
    """Key and certificate for a server at ``address``: SANs its minion id, extra DNS names and
    the address (as an IP SAN when it is one)."""
    address = str(address)
    names = [minion_id, *dns_names] + ([] if _is_ip(address) else [address])
    ips = [address] if _is_ip(address) else []
    key, cert, reason = store.certificate(name, names, ips, server=True, client=True, which=which)
    if reason:
        log.info("kafka_pki: issued %s certificate (%s, %s CA)", name, reason, which)
    return {"key": key, "cert": cert}


def _client_certificate(store, name, which):
    # Client certificates identify by subject (CN = minion id); they need no SAN.
    key, cert, reason = store.certificate(name, (), (), server=False, client=True, which=which)
    if reason:
        log.info("kafka_pki: issued %s certificate (%s, %s CA)", name, reason, which)
    return {"key": key, "cert": cert}


def _with_rotation(store, build):
    """``build(which, ca_cert)`` for the current CA, plus ``next`` from a pending rotation's CA."""
    tls = build("current", store.ca_cert())
    upcoming = store.next_ca_cert()
    if upcoming:
        tls["next"] = build("next", upcoming)
    return tls


def _zookeeper_tls(minion_id, pillar):
    """``zookeeper_tls`` for a minion whose zookeeper pillar enables TLS: the CA, a client
    certificate (the formula's probes and kazoo sessions) and, on members, the member
    certificate (SANs: its address and minion id) for the quorum and the TLS client port."""
    zookeeper = pillar.get("zookeeper")
    tls_settings = zookeeper.get("tls") if isinstance(zookeeper, dict) else None
    if not (isinstance(tls_settings, dict) and tls_settings.get("enabled") is True):
        return {}
    member = (zookeeper.get("members") or {}).get(minion_id)

    def build(which, ca_cert):
        tls = {"ca_cert": ca_cert}
        if isinstance(member, dict) and member.get("address"):
            tls["member"] = _server_certificate(store, f"zookeeper-{minion_id}", minion_id, member["address"],
                                                which=which)
        tls["client"] = _client_certificate(store, f"zkclient-{minion_id}", which)
        return tls

    try:
        store = _store(pillar)
        tls = _with_rotation(store, build)
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
    broker = (kafka.get("brokers") or {}).get(minion_id)

    def build(which, ca_cert):
        tls = {"ca_cert": ca_cert}
        if isinstance(broker, dict) and broker.get("address"):
            tls["broker"] = _server_certificate(store, f"broker-{minion_id}", minion_id, broker["address"],
                                                _dns_names(minion_id, broker), which=which)
        tls["client"] = _client_certificate(store, f"client-{minion_id}", which)
        return tls

    try:
        store = _store(pillar)
        tls = _with_rotation(store, build)
    except PillarError as exc:  # refused before anything is created on the master
        log.warning("kafka_pki: no TLS material for %s: %s", minion_id, exc)
        return dict(result, kafka_tls={"error": f"kafka_pki ext_pillar: {exc}"})
    except Exception as exc:  # a broken PKI must not break the minion's whole pillar
        log.error("kafka_pki: cannot provide TLS material for %s: %s", minion_id, exc)
        return dict(result, kafka_tls={"error": f"kafka_pki ext_pillar failed: {exc}"})
    return dict(result, kafka_tls=tls)

"""Kafka 3.9 (ZooKeeper mode) cluster and broker model: pillar validation and rendered files.

Pure Python, no Salt, no network. :meth:`ClusterModel.from_pillar` validates the ``kafka:``
pillar (see :data:`DEFAULTS`, the single source of truth for its keys and defaults) and reports
*every* problem at once as :class:`kafkasalt.common.errors.PillarErrors`, each naming the full pillar
key. The render functions turn a valid model into the files a broker host needs:

* ``/etc/kafka/server.properties``  :func:`render_server_properties` (no secrets, 0644)
* ``/etc/kafka/kafka_server_jaas.conf`` :func:`render_jaas` (secrets, 0600)
* ``/etc/kafka/admin-client.properties`` :func:`render_client_properties` (secrets, 0600)
* ``/etc/kafka/jmx_exporter.yml``   :func:`render_jmx_exporter_config`
* ``/etc/kafka/log4j.properties``   :func:`render_log4j_properties`
* the service: :func:`jvm_env`, :func:`command`, :func:`render_systemd_unit`,
  :func:`render_supervisord_program` (both run the same command line).

Design decisions worth knowing:

* Brokers authenticate to each other with SCRAM over the inter-broker listener (which must be
  SASL_SSL, or SASL_PLAINTEXT when insecure listeners are explicitly allowed); ``super.users`` is
  the admin user plus the inter-broker user; the ACL authorizer denies what no ACL allows.
* TLS uses PEM files: ``/etc/kafka/tls/keystore.pem`` (unencrypted PKCS#8 key + certificate
  chain, mode 0600; Kafka 3.9 loads it without any ``ssl.*password``; the key must be PKCS#8
  "BEGIN PRIVATE KEY" - a PKCS#1 "BEGIN RSA PRIVATE KEY" fails to load) and
  ``/etc/kafka/tls/truststore.pem`` (CA certificates). Hostname verification stays on
  (``ssl.endpoint.identification.algorithm=https``): broker certificates carry the broker address
  as SAN. ``tls.client_auth`` is also set per SASL_SSL listener
  (``listener.name.<l>.ssl.client.auth``) because Kafka ignores the broker-wide key on SASL_SSL
  listeners (KIP-684).
* ZooKeeper chroot: ``zookeeper.connect`` ends with ``/kafka/<cluster_name>`` unless
  ``kafka:zookeeper_chroot`` says otherwise (``"/"`` = no chroot). Several clusters can share one
  ensemble, and Kafka's znodes stay out of the ensemble's root. Kafka creates the chroot path at
  first start; tools that write znodes directly (SCRAM bootstrap) must use
  :meth:`ClusterModel.zookeeper_connect` / :attr:`ClusterModel.zookeeper_chroot`.
* Passwords are :class:`Secret` objects: their repr/str never shows the value, and no error
  message here contains one.
"""

import copy
import difflib
import ipaddress
import posixpath
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from kafkasalt import dynamic_config
from kafkasalt.common.errors import PillarError, PillarErrors
from kafkasalt.common.secret import Secret

# --- install layout -----------------------------------------------------------------------------

SCALA_VERSION = "2.13"
INSTALL_ROOT = "/opt/kafka"
CONFIG_DIR = "/etc/kafka"
TLS_DIR = "/etc/kafka/tls"
KEYSTORE_PATH = "/etc/kafka/tls/keystore.pem"
TRUSTSTORE_PATH = "/etc/kafka/tls/truststore.pem"
JAAS_PATH = "/etc/kafka/kafka_server_jaas.conf"
SERVER_PROPERTIES_PATH = "/etc/kafka/server.properties"
CLIENT_PROPERTIES_PATH = "/etc/kafka/admin-client.properties"
JMX_EXPORTER_CONFIG_PATH = "/etc/kafka/jmx_exporter.yml"
LOG4J_PATH = "/etc/kafka/log4j.properties"
DEFAULT_DATA_DIR = "/var/lib/kafka/data"
STATE_DIR = "/var/lib/kafka"
LOG_DIR = "/var/log/kafka"
SERVICE_NAME = "kafka"
RUN_USER = "kafka"
JAVA_BIN = "/usr/bin/java"
PRLIMIT_BIN = "/usr/bin/prlimit"
DEFAULT_NOFILE = 128000  # Kafka keeps every segment file open; see kafkasalt.sizing for the rule
STOP_TIMEOUT_SECONDS = 300  # controlled shutdown moves leadership away first; give it time

MANAGED_HEADER = "Managed by Salt (kafkasalt) - local edits are overwritten."

# --- the kafka: pillar --------------------------------------------------------------------------

#: Every ``kafka:`` pillar key with its default. Pillar values replace these, except the
#: settings sections in ``_MERGED_SECTIONS`` whose keys are merged one by one.
DEFAULTS = {
    "cluster_name": "kafka",
    "version": "3.9.1",
    "source": None,
    "source_hash": None,
    "brokers": {},
    "listeners": {
        "CLIENT": {"port": 9093, "protocol": "SASL_SSL"},
        "BROKER": {"port": 9094, "protocol": "SASL_SSL"},
    },
    "inter_broker_listener": "BROKER",
    "allow_insecure_listeners": False,
    "sasl_mechanism": "SCRAM-SHA-512",
    "tls": {"client_auth": "none"},
    "super_user": {"name": "admin", "password": None},
    "inter_broker_user": {"name": "broker", "password": None},
    "zookeeper_user": "kafka",
    "zookeeper_chroot": None,  # None -> /kafka/<cluster_name>; "/" -> no chroot
    "log_dirs": None,  # None -> per host from kafkasalt.sizing, else DEFAULT_DATA_DIR
    "heap_mb": None,  # None -> per host from kafkasalt.sizing
    "expected_partitions": 1000,
    "jmx_exporter": {"enabled": True, "port": 9101, "source": None, "source_hash": None},
    "config": {},
    "default_replication_factor": 3,
    "min_insync_replicas": 2,
    "allow_min_isr_equal_rf": False,
    "users": {},
    "topics": {},
    "acls": [],
}
_MERGED_SECTIONS = ("tls", "super_user", "inter_broker_user", "jmx_exporter")

BROKER_KEYS = ("broker_id", "address", "rack", "config")
LISTENER_KEYS = ("port", "protocol")
TOPIC_KEYS = ("partitions", "replication_factor", "config")

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
INSECURE_PROTOCOLS = ("PLAINTEXT", "SASL_PLAINTEXT")
TLS_PROTOCOLS = ("SSL", "SASL_SSL")
SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
CLIENT_AUTH_VALUES = ("none", "requested", "required")
HASH_ALGORITHMS = {"sha256": 64, "sha384": 96, "sha512": 128}
MIN_HEAP_MB = 256
MIN_PORT = 1024  # the broker runs as an unprivileged user
DEFAULT_RESERVED_BROKER_MAX_ID = 1000  # Kafka's reserved.broker.max.id default
SUPPORTED_MAJOR = 3  # 3.0-3.9 run with ZooKeeper; Kafka 4 removed it
MAX_SUPPORTED_MINOR = 9

AUTHORIZER_CLASS = "kafka.security.authorizer.AclAuthorizer"
SCRAM_LOGIN_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
ZOOKEEPER_DIGEST_LOGIN_MODULE = "org.apache.zookeeper.server.auth.DigestLoginModule"

_LISTENER_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CHROOT = re.compile(r"^(/[A-Za-z0-9._-]+)+$")
_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_DNS_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_DNS_LABEL}(\.{_DNS_LABEL})*$")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")

#: ``server.properties`` keys the formula computes; ``config`` may not set them. The value says
#: which pillar key to use instead.
OWNED_KEYS = {
    "broker.id": "kafka:brokers:<minion>:broker_id",
    "broker.rack": "kafka:brokers:<minion>:rack",
    "broker.id.generation.enable": "broker ids are pinned in kafka:brokers",
    "listeners": "kafka:listeners and kafka:brokers:<minion>:address",
    "advertised.listeners": "kafka:listeners and kafka:brokers:<minion>:address",
    "listener.security.protocol.map": "kafka:listeners:<name>:protocol",
    "inter.broker.listener.name": "kafka:inter_broker_listener",
    "security.inter.broker.protocol": "kafka:inter_broker_listener",
    "log.dirs": "kafka:log_dirs",
    "log.dir": "kafka:log_dirs",
    "zookeeper.connect": "zookeeper:members and kafka:zookeeper_chroot",
    "zookeeper.set.acl": "always true: brokers protect their znodes",
    "super.users": "kafka:super_user and kafka:inter_broker_user",
    "authorizer.class.name": "always the ACL authorizer",
    "allow.everyone.if.no.acl.found": "always false: no ACL means deny",
    "ssl.client.auth": "kafka:tls:client_auth",
    "ssl.endpoint.identification.algorithm": "always https: certificates carry the broker address",
    "default.replication.factor": "kafka:default_replication_factor",
    "min.insync.replicas": "kafka:min_insync_replicas",
    "process.roles": "ZooKeeper mode only (KRaft is not managed here)",
    "node.id": "ZooKeeper mode only (KRaft is not managed here)",
    "controller.quorum.voters": "ZooKeeper mode only (KRaft is not managed here)",
    "controller.listener.names": "ZooKeeper mode only (KRaft is not managed here)",
    "zookeeper.metadata.migration.enable": "ZooKeeper mode only (KRaft migration is not managed here)",
    "zookeeper.clientcnxnsocket": "zookeeper:tls:enabled (Netty for TLS)",
}
#: Prefixes the formula owns (TLS stores, SASL, password encoding).
OWNED_PREFIXES = {
    "ssl.keystore.": "the formula's PEM keystore",
    "ssl.truststore.": "the formula's PEM truststore",
    "ssl.key.": "the formula's PEM keystore",
    "zookeeper.ssl.": "zookeeper:tls (the broker's PEM keystore and the cluster CA)",
    "sasl.": "kafka:sasl_mechanism (SASL secrets live in the JAAS file)",
    "password.encoder.": "secrets do not go into server.properties",
}
#: Replication settings ``config`` may override, checked against the broker count.
REPLICATION_OVERRIDE_KEYS = ("offsets.topic.replication.factor", "transaction.state.log.replication.factor")


# --- values -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Listener:
    """One Kafka listener; every broker binds it on its own address."""

    name: str
    port: int
    protocol: str

    @property
    def uses_tls(self):
        return self.protocol in TLS_PROTOCOLS

    @property
    def uses_sasl(self):
        return self.protocol in SASL_PROTOCOLS

    @property
    def config_prefix(self):
        """Kafka's per-listener config prefix, e.g. ``listener.name.client.``."""
        return f"listener.name.{self.name.lower()}."


@dataclass(frozen=True)
class Broker:
    """One broker: the minion that runs it, its stable id, address, rack and config overrides."""

    minion_id: str
    broker_id: int
    address: str
    rack: str = None
    config: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ScramUser:
    """A SCRAM user (name + :class:`Secret` password)."""

    name: str
    password: Secret


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    replication_factor: int
    config: dict = field(default_factory=dict)


@dataclass(frozen=True)
class JmxExporter:
    enabled: bool
    port: int
    source: str = None
    source_hash: str = None


@dataclass(frozen=True)
class ZookeeperLink:
    """What the broker side needs from the ZooKeeper ensemble.

    ``servers``: ``((address, client_port), ...)`` in myid order; ``users``: DIGEST-MD5 client
    user name -> :class:`Secret`; ``reserved_ports``: address -> ports ZooKeeper binds there
    (client, quorum, election, admin), to catch port clashes on shared hosts.
    """

    servers: tuple
    users: dict = field(default_factory=dict, repr=False)
    reserved_ports: dict = field(default_factory=dict)
    tls: bool = False  # zookeeper:tls:enabled: ``servers`` are the TLS client ports

    def connect_string(self, chroot=""):
        """``host:port,host:port[/chroot]`` as Kafka's ``zookeeper.connect`` expects."""
        hosts = ",".join(_host_port(address, port) for address, port in self.servers)
        return hosts + (chroot or "")

    @classmethod
    def from_pillar(cls, zookeeper_pillar):
        """Build from the ``zookeeper:`` pillar dict (members, ports, sasl.users)."""
        members = zookeeper_pillar.get("members") or {}
        sasl = zookeeper_pillar.get("sasl") or {}
        tls = zookeeper_pillar.get("tls") or {}
        return cls._build(members, zookeeper_pillar.get("ports"), sasl.get("users") or {},
                          tls=isinstance(tls, Mapping) and tls.get("enabled") is True)

    @classmethod
    def coerce(cls, zookeeper_model):
        """Accept a ZookeeperLink, the ``zookeeper:`` pillar mapping, or a ZooKeeper model object.

        A model object (such as :class:`kafkasalt.zookeeper.model.EnsembleModel`) needs ``members``
        (each with ``address``, optionally ``myid`` and ``ports``/``client_port``), the users as
        ``user_passwords`` (``((name, secret), ...)``), ``users`` or ``sasl_users`` (name ->
        password, secret, or something with ``password``), and optionally ensemble ``ports``.
        """
        if zookeeper_model is None or isinstance(zookeeper_model, ZookeeperLink):
            return zookeeper_model
        if isinstance(zookeeper_model, Mapping):
            return cls.from_pillar(zookeeper_model)
        members = _field(zookeeper_model, "members")
        users = None
        for name in ("user_passwords", "users", "sasl_users"):
            users = _field(zookeeper_model, name)
            if users is not None:
                break
        if members is None or users is None:
            raise TypeError(
                "zookeeper_model: expected a ZookeeperLink, the zookeeper: pillar mapping, or an object "
                "with 'members' and 'user_passwords'/'users'/'sasl_users'"
            )
        tls = _field(zookeeper_model, "tls")
        return cls._build(members, _field(zookeeper_model, "ports"), users,
                          tls=bool(_field(tls, "enabled")) if tls is not None else False)

    @classmethod
    def _build(cls, members, ensemble_ports, users, tls=False):
        default_ports = dict(ZOOKEEPER_DEFAULT_PORTS)
        default_ports.update(_int_ports(ensemble_ports))
        member_list = list(members.values()) if isinstance(members, Mapping) else list(members)
        member_list.sort(key=lambda member: _sort_number(_field(member, "myid")))
        servers, reserved = [], {}
        for member in member_list:
            ports = dict(default_ports)
            ports.update(_int_ports(_field(member, "ports")))
            for name in ("client", "secure_client"):
                if _is_int(_field(member, f"{name}_port")):
                    ports[name] = _field(member, f"{name}_port")
            address = _field(member, "address")
            servers.append((address, ports["secure_client"] if tls else ports["client"]))
            bound = {name: port for name, port in ports.items() if tls or name != "secure_client"}
            reserved[address] = reserved.get(address, frozenset()) | frozenset(bound.values())
        if isinstance(users, Mapping):
            user_items = users.items()
        else:
            user_items = [(u[0], u[1]) if isinstance(u, (tuple, list)) else (_field(u, "name"), u) for u in users]
        return cls(servers=tuple(servers), users={name: _secret_of(spec) for name, spec in user_items},
                   reserved_ports=reserved, tls=tls)


ZOOKEEPER_DEFAULT_PORTS = {"client": 2181, "secure_client": 2182, "quorum": 2888, "election": 3888, "admin": 8080}


def _int_ports(ports):
    """The integer entries of a ports mapping/object (client, quorum, election, admin)."""
    if ports is None:
        return {}
    found = {}
    for name in ZOOKEEPER_DEFAULT_PORTS:
        value = _field(ports, name)
        if _is_int(value):
            found[name] = value
    return found


def _field(obj, name):
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _sort_number(value):
    return value if _is_int(value) else 0


def _secret_of(spec):
    """A password given as str, Secret, ``{"password": ...}`` or an object with ``.password``."""
    if spec is None:
        return None
    if isinstance(spec, (str, Secret)):
        return Secret(spec)
    for reveal in ("reveal", "get_secret_value"):
        if callable(getattr(spec, reveal, None)):
            return Secret(getattr(spec, reveal)())
    password = _field(spec, "password")
    return _secret_of(password) if password is not None else None


def _host_port(address, port):
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def parse_version(version):
    """``"3.9.1"`` -> ``(3, 9, 1)``; raises ValueError for anything else."""
    match = _VERSION.match(version) if isinstance(version, str) else None
    if not match:
        raise ValueError(f"version: expected 'MAJOR.MINOR.PATCH' as a quoted string, got {version!r}")
    return tuple(int(part) for part in match.groups())


def install_dir(version):
    """Release directory of a Kafka version, as unpacked from ``kafka_2.13-<version>.tgz``."""
    return f"{INSTALL_ROOT}/kafka_{SCALA_VERSION}-{version}"


def defaults():
    """A deep copy of :data:`DEFAULTS` (safe to modify)."""
    return copy.deepcopy(DEFAULTS)


def merge_with_defaults(kafka_pillar):
    """The pillar layered on :data:`DEFAULTS`; ``None`` values keep the default."""
    merged = defaults()
    for key, value in (kafka_pillar or {}).items():
        if value is None:
            continue
        if key in _MERGED_SECTIONS and isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key].update({k: v for k, v in value.items()})
        else:
            merged[key] = value
    return merged


# --- the model ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClusterModel:
    """A validated Kafka cluster. Build it with :meth:`from_pillar`."""

    cluster_name: str
    version: str
    source: str
    source_hash: str
    brokers: tuple  # of Broker, ordered by broker_id
    listeners: tuple  # of Listener, ordered by name
    inter_broker_listener: str
    sasl_mechanism: str
    tls_client_auth: str
    super_user: ScramUser
    inter_broker_user: ScramUser
    zookeeper_user: str
    zookeeper_chroot: str  # "" when Kafka uses the ensemble root
    zookeeper: ZookeeperLink
    log_dirs: tuple  # None -> sized per host
    heap_mb: int  # None -> sized per host
    expected_partitions: int
    jmx_exporter: JmxExporter
    config: dict
    default_replication_factor: int
    min_insync_replicas: int
    users: tuple  # of ScramUser, ordered by name
    topics: tuple  # of Topic, ordered by name
    acls: list
    allow_insecure_listeners: bool = False
    allow_min_isr_equal_rf: bool = False

    @classmethod
    def from_pillar(cls, kafka_pillar, zookeeper_model=None, sizing_by_minion=None):
        """Validate the ``kafka:`` pillar and build the model.

        ``zookeeper_model``: the ensemble (see :meth:`ZookeeperLink.coerce`); without it the
        ZooKeeper checks are skipped and the files that need ZooKeeper cannot be rendered.
        ``sizing_by_minion``: ``{minion_id: {"mem_total_bytes": int, ...}}`` (hardware facts) to
        check ``heap_mb`` against each broker's RAM. Raises :class:`PillarErrors` listing every
        problem, each with its full pillar key; passwords never appear in messages.
        """
        return _Validator(kafka_pillar, ZookeeperLink.coerce(zookeeper_model), sizing_by_minion).build()

    # Lookups ----------------------------------------------------------------------------------

    def broker(self, minion_id):
        """The broker run by ``minion_id``; KeyError naming the pillar key if there is none."""
        for broker in self.brokers:
            if broker.minion_id == minion_id:
                return broker
        raise KeyError(f"minion '{minion_id}' is not a broker of cluster '{self.cluster_name}' "
                       f"(no kafka:brokers:{minion_id})")

    def broker_by_id(self, broker_id):
        for broker in self.brokers:
            if broker.broker_id == broker_id:
                return broker
        raise KeyError(f"no broker with broker_id {broker_id} in cluster '{self.cluster_name}'")

    def listener(self, name):
        for listener in self.listeners:
            if listener.name == name:
                return listener
        raise KeyError(f"no listener '{name}' in kafka:listeners")

    @property
    def inter_broker(self):
        """The inter-broker :class:`Listener`."""
        return self.listener(self.inter_broker_listener)

    @property
    def admin_listener(self):
        """Listener admin tools use: the first non-inter-broker listener by name, else inter-broker."""
        others = [listener for listener in self.listeners if listener.name != self.inter_broker_listener]
        return others[0] if others else self.inter_broker

    @property
    def install_dir(self):
        return install_dir(self.version)

    @property
    def super_users(self):
        """Principals in ``super.users``: the admin and the inter-broker user."""
        return [f"User:{self.super_user.name}", f"User:{self.inter_broker_user.name}"]

    @property
    def uses_tls(self):
        return any(listener.uses_tls for listener in self.listeners)

    @property
    def uses_sasl(self):
        return any(listener.uses_sasl for listener in self.listeners)

    def bootstrap_servers(self, listener_name=None):
        """``address:port,...`` of every broker on a listener (default :attr:`admin_listener`)."""
        listener = self.listener(listener_name) if listener_name else self.admin_listener
        return ",".join(_host_port(broker.address, listener.port) for broker in self.brokers)

    def zookeeper_connect(self, chroot=True):
        """ZooKeeper connect string; with the cluster's chroot unless ``chroot=False``."""
        return self._require_zookeeper().connect_string(self.zookeeper_chroot if chroot else "")

    def zookeeper_password(self):
        """The :class:`Secret` of the brokers' ZooKeeper user."""
        secret = self._require_zookeeper().users.get(self.zookeeper_user)
        if secret is None:
            raise ValueError(f"kafka:zookeeper_user '{self.zookeeper_user}' has no password in zookeeper:sasl:users")
        return secret

    def _require_zookeeper(self):
        if self.zookeeper is None:
            raise ValueError("this model has no ZooKeeper ensemble: pass zookeeper_model to ClusterModel.from_pillar")
        return self.zookeeper


# --- validation ---------------------------------------------------------------------------------

def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_scalar(value):
    return isinstance(value, (str, int, float, bool))


def _valid_address(address):
    try:
        ipaddress.ip_address(address)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(address))


def _is_wildcard(address):
    try:
        return ipaddress.ip_address(address).is_unspecified
    except ValueError:
        return False


def owned_key_reason(key):
    """Why ``config`` may not set ``key`` (the formula owns it), or None if it may."""
    if key in OWNED_KEYS:
        return OWNED_KEYS[key]
    listener, base = dynamic_config.split_listener_prefix(key)
    if listener is not None and (owned_key_reason(base) or base in dynamic_config.PASSWORD_KEYS):
        return "listener-prefixed variant of a formula-owned or secret key"
    for prefix, reason in OWNED_PREFIXES.items():
        if key.startswith(prefix):
            return reason
    if key in dynamic_config.PASSWORD_KEYS or "password" in key:
        return "secrets do not go into server.properties"
    return None


class _Validator:
    """Collects every pillar error, then builds the model only if there were none."""

    def __init__(self, kafka_pillar, zookeeper, sizing_by_minion):
        self.errors = []
        self.raw = kafka_pillar
        self.zookeeper = zookeeper
        self.sizing = sizing_by_minion or {}

    def error(self, key, message):
        self.errors.append(PillarError(key, message))

    def build(self):
        if self.raw is None:
            self.raw = {}
        if not isinstance(self.raw, Mapping):
            raise PillarErrors([PillarError("kafka", f"expected a mapping, got {type(self.raw).__name__}")])
        for key in self.raw:
            if key not in DEFAULTS:
                close = difflib.get_close_matches(str(key), DEFAULTS, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(sorted(DEFAULTS))}"
                self.error(f"kafka:{key}", f"unknown key ({hint})")
        pillar = merge_with_defaults({k: v for k, v in self.raw.items() if k in DEFAULTS})
        for section in _MERGED_SECTIONS:
            if not isinstance(pillar[section], Mapping):
                self.error(f"kafka:{section}", f"expected a mapping, got {type(pillar[section]).__name__}")
                pillar[section] = defaults()[section]

        allow_insecure = self.flag(pillar, "allow_insecure_listeners")
        allow_equal = self.flag(pillar, "allow_min_isr_equal_rf")
        cluster_name = self.cluster_name(pillar["cluster_name"])
        version = self.version(pillar["version"])
        source, source_hash = self.source(pillar["source"], pillar["source_hash"], "kafka")
        config = self.config(pillar["config"], "kafka:config")
        listeners = self.listeners(pillar["listeners"], allow_insecure)
        inter_broker = self.inter_broker_listener(pillar["inter_broker_listener"], listeners)
        jmx = self.jmx_exporter(pillar["jmx_exporter"], listeners)
        brokers = self.brokers(pillar["brokers"], listeners, jmx, config)
        sasl_mechanism = self.choice(pillar["sasl_mechanism"], SASL_MECHANISMS, "kafka:sasl_mechanism")
        client_auth = self.tls(pillar["tls"])
        super_user = self.scram_user(pillar["super_user"], "kafka:super_user")
        inter_broker_user = self.scram_user(pillar["inter_broker_user"], "kafka:inter_broker_user")
        if super_user and inter_broker_user and super_user.name == inter_broker_user.name:
            self.error("kafka:inter_broker_user:name",
                       f"must differ from kafka:super_user:name ('{super_user.name}') so each can be rotated alone")
        if self.zookeeper is not None and (not self.zookeeper.servers or
                                           not all(isinstance(a, str) and a for a, _ in self.zookeeper.servers)):
            self.error("zookeeper:members", "the ZooKeeper ensemble has no members with an address; "
                                            "brokers need it for zookeeper.connect")
        listener_objects = listeners.values() if isinstance(listeners, Mapping) else (listeners or ())
        if self.zookeeper is not None and self.zookeeper.tls and not any(l.uses_tls for l in listener_objects):
            self.error("zookeeper:tls:enabled", "brokers reach a TLS ensemble with their own TLS keystore, "
                                                "so at least one kafka:listeners entry must use SSL or SASL_SSL")
        zookeeper_user = self.zookeeper_user(pillar["zookeeper_user"])
        chroot = self.chroot(pillar["zookeeper_chroot"], cluster_name)
        log_dirs = self.log_dirs(pillar["log_dirs"])
        heap_mb = self.heap(pillar["heap_mb"], brokers)
        expected_partitions = self.positive_int(pillar["expected_partitions"], "kafka:expected_partitions")
        broker_count = len(brokers)
        replication_factor, min_isr = self.replication(
            pillar["default_replication_factor"], pillar["min_insync_replicas"], broker_count, allow_equal)
        self.replication_overrides(config, "kafka:config", broker_count, min_isr)
        for broker in brokers:
            self.replication_overrides(broker.config, f"kafka:brokers:{broker.minion_id}:config", broker_count, min_isr)
        reserved = {name for name in (super_user.name if super_user else None,
                                      inter_broker_user.name if inter_broker_user else None) if name}
        users = self.users(pillar["users"], reserved)
        topics = self.topics(pillar["topics"], broker_count, replication_factor)
        acls = pillar["acls"]
        if not isinstance(acls, list):
            self.error("kafka:acls", f"expected a list of ACL bindings, got {type(acls).__name__}")

        if self.errors:
            raise PillarErrors(self.errors)
        return ClusterModel(
            cluster_name=cluster_name,
            version=version,
            source=source,
            source_hash=source_hash,
            brokers=tuple(sorted(brokers, key=lambda b: b.broker_id)),
            listeners=tuple(sorted(listeners.values(), key=lambda listener: listener.name)),
            inter_broker_listener=inter_broker,
            sasl_mechanism=sasl_mechanism,
            tls_client_auth=client_auth,
            super_user=super_user,
            inter_broker_user=inter_broker_user,
            zookeeper_user=zookeeper_user,
            zookeeper_chroot=chroot,
            zookeeper=self.zookeeper,
            log_dirs=log_dirs,
            heap_mb=heap_mb,
            expected_partitions=expected_partitions,
            jmx_exporter=jmx,
            config=config,
            default_replication_factor=replication_factor,
            min_insync_replicas=min_isr,
            users=tuple(sorted(users, key=lambda user: user.name)),
            topics=tuple(sorted(topics, key=lambda topic: topic.name)),
            acls=list(acls),
            allow_insecure_listeners=allow_insecure,
            allow_min_isr_equal_rf=allow_equal,
        )

    # scalar checks ---------------------------------------------------------------------------

    def flag(self, pillar, name):
        value = pillar[name]
        if not isinstance(value, bool):
            self.error(f"kafka:{name}", f"expected true or false, got {value!r}")
            return False
        return value

    def choice(self, value, allowed, key):
        if value not in allowed:
            self.error(key, f"expected one of {', '.join(allowed)}, got {value!r}")
            return None
        return value

    def positive_int(self, value, key, minimum=1):
        if not _is_int(value) or value < minimum:
            self.error(key, f"expected an integer >= {minimum}, got {value!r}")
            return None
        return value

    def unknown_keys(self, mapping, allowed, key):
        for name in mapping:
            if name not in allowed:
                self.error(f"{key}:{name}", f"unknown key (known keys: {', '.join(allowed)})")

    def mapping(self, value, key, what="a mapping"):
        if not isinstance(value, Mapping):
            self.error(key, f"expected {what}, got {type(value).__name__}")
            return None
        return value

    def cluster_name(self, value):
        if not isinstance(value, str) or not _CLUSTER_NAME.match(value):
            self.error("kafka:cluster_name",
                       f"expected 1-64 letters, digits, '.', '_' or '-' starting with a letter or digit, got {value!r}")
            return None
        return value

    def version(self, value):
        key = "kafka:version"
        if not isinstance(value, str):
            self.error(key, f"expected a quoted string like '3.9.1' (YAML reads 3.9 as a number), got {value!r}")
            return None
        try:
            major, minor, _patch = parse_version(value)
        except ValueError:
            self.error(key, f"expected MAJOR.MINOR.PATCH like '3.9.1', got {value!r}")
            return None
        if major >= 4:
            self.error(key, f"{value}: Kafka 4 is KRaft-only; this formula runs Kafka 3.x with ZooKeeper")
        elif major != SUPPORTED_MAJOR or minor > MAX_SUPPORTED_MINOR:
            self.error(key, f"{value}: supported versions are 3.0.x to 3.9.x (Kafka with ZooKeeper)")
        return value

    def source(self, source, source_hash, prefix):
        if source is not None and (not isinstance(source, str) or "://" not in source):
            self.error(f"{prefix}:source", f"expected a URL such as file:///... or https://..., got {source!r}")
            source = None
        if source_hash is not None:
            if not isinstance(source_hash, str) or "=" not in source_hash:
                self.error(f"{prefix}:source_hash", "expected '<algorithm>=<hex digest>', e.g. 'sha512=...'")
                source_hash = None
            else:
                algorithm, digest = source_hash.split("=", 1)
                length = HASH_ALGORITHMS.get(algorithm.lower())
                if length is None or len(digest) != length or not re.fullmatch(r"[0-9a-fA-F]+", digest):
                    self.error(f"{prefix}:source_hash",
                               f"expected sha256/sha384/sha512=<hex digest of the right length>, got {source_hash!r}")
                    source_hash = None
        elif source is not None:
            self.error(f"{prefix}:source_hash", "required with a source: downloads are always verified")
        return source, source_hash

    def config(self, value, key):
        config = self.mapping(value, key, "a mapping of server.properties key -> value")
        if config is None:
            return {}
        valid = {}
        for name, item in config.items():
            item_key = f"{key}:{name}"
            if not isinstance(name, str) or not name or _CONTROL_CHARS.search(name) or " " in name:
                self.error(item_key, "config keys are non-empty strings without spaces")
                continue
            reason = owned_key_reason(name)
            if reason:
                self.error(item_key, f"owned by the formula ({reason}); remove it from the config overrides")
                continue
            if name in dynamic_config.DYNAMIC_ONLY_PER_BROKER_KEYS:
                self.error(item_key, "a dynamic-only broker config (set through the AdminClient), "
                                     "not a server.properties key")
                continue
            if not _is_scalar(item) or (isinstance(item, str) and _CONTROL_CHARS.search(item)):
                self.error(item_key, f"expected a single-line string, number or boolean, got {type(item).__name__}")
                continue
            valid[name] = item
        return valid

    # listeners and brokers -------------------------------------------------------------------

    def listeners(self, value, allow_insecure):
        specs = self.mapping(value, "kafka:listeners", "a mapping of listener name -> {port, protocol}")
        if specs is None:
            return {}
        if not specs:
            self.error("kafka:listeners", "at least one listener is needed")
        listeners, port_owner = {}, {}
        for name in sorted(specs, key=str):
            spec, key = specs[name], f"kafka:listeners:{name}"
            if not isinstance(name, str) or not _LISTENER_NAME.match(name):
                self.error(key, "listener names must match [A-Z_][A-Z0-9_]* (upper case), e.g. CLIENT")
                continue
            if self.mapping(spec, key, "a mapping with port and protocol") is None:
                continue
            self.unknown_keys(spec, LISTENER_KEYS, key)
            port, protocol = spec.get("port"), spec.get("protocol")
            if not _is_int(port) or not MIN_PORT <= port <= 65535:
                self.error(f"{key}:port",
                           f"expected a port number {MIN_PORT}-65535 (the broker is not root), got {port!r}")
                port = None
            elif port in port_owner:
                self.error(f"{key}:port", f"port {port} is already used by listener {port_owner[port]}")
            else:
                port_owner[port] = name
            if protocol not in SECURITY_PROTOCOLS:
                self.error(f"{key}:protocol", f"expected one of {', '.join(SECURITY_PROTOCOLS)}, got {protocol!r}")
                protocol = None
            elif protocol in INSECURE_PROTOCOLS and not allow_insecure:
                self.error(f"{key}:protocol",
                           f"{protocol} sends data unencrypted; use SASL_SSL/SSL or set "
                           "kafka:allow_insecure_listeners: true")
            if port is not None and protocol is not None:
                listeners[name] = Listener(name=name, port=port, protocol=protocol)
        return listeners

    def inter_broker_listener(self, name, listeners):
        key = "kafka:inter_broker_listener"
        if name not in listeners:
            self.error(key, f"{name!r} is not one of the listeners ({', '.join(sorted(listeners)) or 'none'})")
            return None
        if not listeners[name].uses_sasl:
            self.error(key, f"listener {name} uses {listeners[name].protocol}; the inter-broker listener must use "
                            "SASL (SASL_SSL) so brokers authenticate as kafka:inter_broker_user")
        return name

    def jmx_exporter(self, value, listeners):
        key = "kafka:jmx_exporter"
        self.unknown_keys(value, tuple(DEFAULTS["jmx_exporter"]), key)
        enabled = value.get("enabled")
        if not isinstance(enabled, bool):
            self.error(f"{key}:enabled", f"expected true or false, got {enabled!r}")
            enabled = False
        port = value.get("port")
        if not _is_int(port) or not MIN_PORT <= port <= 65535:
            self.error(f"{key}:port", f"expected a port number {MIN_PORT}-65535, got {port!r}")
            port = None
        elif enabled:
            for listener in listeners.values():
                if listener.port == port:
                    self.error(f"{key}:port", f"port {port} is already used by listener {listener.name}")
        source, source_hash = self.source(value.get("source"), value.get("source_hash"), key)
        return JmxExporter(enabled=enabled, port=port, source=source, source_hash=source_hash)

    def brokers(self, value, listeners, jmx, cluster_config):
        specs = self.mapping(value, "kafka:brokers", "a mapping of minion id -> broker")
        if specs is None:
            return []
        if not specs:
            self.error("kafka:brokers", "at least one broker is needed")
        max_id_value = cluster_config.get("reserved.broker.max.id", DEFAULT_RESERVED_BROKER_MAX_ID)
        max_id = int(max_id_value) if str(max_id_value).isdigit() else DEFAULT_RESERVED_BROKER_MAX_ID
        brokers, id_owner, address_owner = [], {}, {}
        for minion_id in sorted(specs, key=str):
            spec, key = specs[minion_id], f"kafka:brokers:{minion_id}"
            if not isinstance(minion_id, str) or not minion_id:
                self.error(key, "minion ids are non-empty strings")
                continue
            if self.mapping(spec, key, "a mapping with broker_id and address") is None:
                continue
            self.unknown_keys(spec, BROKER_KEYS, key)
            broker_id = spec.get("broker_id")
            if not _is_int(broker_id) or broker_id < 0:
                self.error(f"{key}:broker_id", f"expected an integer >= 0, got {broker_id!r}")
                broker_id = None
            elif broker_id > max_id:
                self.error(f"{key}:broker_id", f"{broker_id} is above reserved.broker.max.id ({max_id}); "
                                               "Kafka refuses it")
            elif broker_id in id_owner:
                self.error(f"{key}:broker_id", f"broker_id {broker_id} is already used by {id_owner[broker_id]}; "
                                               "ids are unique and never reassigned")
            else:
                id_owner[broker_id] = minion_id
            address = spec.get("address")
            if address is None or address == "":
                self.error(f"{key}:address", "missing: the IP address or host name the broker binds and advertises")
                address = None
            elif not isinstance(address, str) or not _valid_address(address):
                self.error(f"{key}:address", f"expected an IP address or host name, got {address!r}")
                address = None
            elif _is_wildcard(address):
                self.error(f"{key}:address",
                           f"{address} is a wildcard; clients cannot connect to it (use the host's address)")
                address = None
            elif address in address_owner:
                ports = ", ".join(str(listener.port) for listener in listeners.values())
                self.error(f"{key}:address", f"{address} is already used by {address_owner[address]}; "
                                             f"both would bind the same listener ports ({ports})")
            else:
                address_owner[address] = minion_id
            if address is not None:
                self.zookeeper_port_clash(key, address, listeners, jmx)
            rack = spec.get("rack")
            if rack is not None and (not isinstance(rack, str) or not rack.strip() or _CONTROL_CHARS.search(rack)):
                self.error(f"{key}:rack", f"expected a non-empty string (quote numbers in YAML), got {rack!r}")
                rack = None
            config = self.config(spec.get("config") or {}, f"{key}:config")
            if broker_id is not None and address is not None:
                brokers.append(Broker(minion_id=minion_id, broker_id=broker_id, address=address, rack=rack,
                                      config=config))
        return brokers

    def zookeeper_port_clash(self, key, address, listeners, jmx):
        if self.zookeeper is None:
            return
        taken = self.zookeeper.reserved_ports.get(address, frozenset())
        for listener in listeners.values():
            if listener.port in taken:
                self.error(f"kafka:listeners:{listener.name}:port",
                           f"port {listener.port} is used by ZooKeeper on {address} ({key})")
        if jmx.enabled and jmx.port in taken:
            self.error("kafka:jmx_exporter:port", f"port {jmx.port} is used by ZooKeeper on {address} ({key})")

    # security --------------------------------------------------------------------------------

    def tls(self, value):
        self.unknown_keys(value, tuple(DEFAULTS["tls"]), "kafka:tls")
        return self.choice(value.get("client_auth"), CLIENT_AUTH_VALUES, "kafka:tls:client_auth")

    def password(self, value, key):
        """A Secret, or an error that never repeats the value."""
        if isinstance(value, Secret):
            value = value.reveal()
        if value is None or value == "":
            self.error(key, "missing: set a password (the gpg renderer keeps it encrypted in the pillar)")
            return None
        if not isinstance(value, str):
            self.error(key, f"expected a string, got {type(value).__name__} (quote it in YAML)")
            return None
        if _CONTROL_CHARS.search(value):
            self.error(key, "must not contain control characters such as newlines")
            return None
        return Secret(value)

    def user_name(self, value, key):
        if not isinstance(value, str) or not _USER_NAME.match(value):
            self.error(key, "expected a user name of letters, digits, '.', '_', '@' or '-' "
                            f"(it goes into super.users and JAAS files), got {value!r}")
            return None
        return value

    def scram_user(self, value, key):
        self.unknown_keys(value, ("name", "password"), key)
        name = self.user_name(value.get("name"), f"{key}:name")
        password = self.password(value.get("password"), f"{key}:password")
        if name is None or password is None:
            return None
        return ScramUser(name=name, password=password)

    def zookeeper_user(self, value):
        key = "kafka:zookeeper_user"
        if not isinstance(value, str) or not value:
            self.error(key, f"expected the name of a user in zookeeper:sasl:users, got {value!r}")
            return None
        if self.zookeeper is not None:
            if value not in self.zookeeper.users:
                known = ", ".join(sorted(self.zookeeper.users)) or "none"
                self.error(key, f"'{value}' is not in zookeeper:sasl:users (known: {known})")
            elif self.zookeeper.users[value] is None:
                self.error(key, f"zookeeper:sasl:users:{value} has no password")
        return value

    def chroot(self, value, cluster_name):
        key = "kafka:zookeeper_chroot"
        if value is None:
            return f"/kafka/{cluster_name}" if cluster_name else None
        if value == "/":
            return ""
        if not isinstance(value, str) or not _CHROOT.match(value):
            self.error(key, f"expected an absolute znode path like /kafka/lab (no trailing '/'), or '/', got {value!r}")
            return None
        return value

    # storage, memory, replication ------------------------------------------------------------

    def log_dirs(self, value):
        key = "kafka:log_dirs"
        if value is None:
            return None
        if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
            self.error(key, "expected a non-empty list of absolute directories (or null to size per host)")
            return None
        seen, valid = set(), []
        for index, path in enumerate(value):
            item_key = f"{key}:{index}"
            if not isinstance(path, str) or not path.startswith("/"):
                self.error(item_key, f"expected an absolute path, got {path!r}")
            elif "," in path or _CONTROL_CHARS.search(path) or " " in path:
                self.error(item_key, "log.dirs is comma separated; a path must not contain ',', spaces or "
                                     f"control characters: {path!r}")
            elif posixpath.normpath(path) == "/":
                self.error(item_key, "the file system root is not a log directory")
            elif posixpath.normpath(path) in seen:
                self.error(item_key, f"{path} is listed twice")
            else:
                seen.add(posixpath.normpath(path))
                valid.append(posixpath.normpath(path))
        return tuple(valid)

    def heap(self, value, brokers):
        key = "kafka:heap_mb"
        if value is None:
            return None
        if not _is_int(value) or value < MIN_HEAP_MB:
            self.error(key, f"expected an integer >= {MIN_HEAP_MB} (MiB), got {value!r}")
            return None
        for broker in brokers:
            facts = self.sizing.get(broker.minion_id) or {}
            mem_total = facts.get("mem_total_bytes") if isinstance(facts, Mapping) else None
            if _is_int(mem_total) and mem_total > 0 and value * 1024 * 1024 > mem_total:
                self.error(key, f"{value} MiB is more than the RAM of {broker.minion_id} "
                                f"({mem_total // (1024 * 1024)} MiB)")
        return value

    def replication(self, replication_factor, min_isr, broker_count, allow_equal):
        rf_key, isr_key = "kafka:default_replication_factor", "kafka:min_insync_replicas"
        if not _is_int(replication_factor) or replication_factor < 1:
            self.error(rf_key, f"expected an integer >= 1, got {replication_factor!r}")
            replication_factor = None
        elif broker_count and replication_factor > broker_count:
            self.error(rf_key, f"{replication_factor} is more than the {broker_count} broker(s) in kafka:brokers")
        if not _is_int(min_isr) or min_isr < 1:
            self.error(isr_key, f"expected an integer >= 1, got {min_isr!r}")
            return replication_factor, None
        if replication_factor is not None:
            if min_isr > replication_factor:
                self.error(isr_key, f"{min_isr} is more than the replication factor ({replication_factor}): "
                                    "no write with acks=all could ever succeed")
            elif min_isr == replication_factor and not allow_equal:
                self.error(isr_key, f"equals the replication factor ({replication_factor}): one broker down "
                                    "(even a rolling restart) blocks acks=all writes; lower it or set "
                                    "kafka:allow_min_isr_equal_rf: true")
        return replication_factor, min_isr

    def replication_overrides(self, config, key, broker_count, min_isr):
        for name in REPLICATION_OVERRIDE_KEYS:
            if name in config:
                value = config[name]
                if not _is_int(value) or value < 1:
                    self.error(f"{key}:{name}", f"expected an integer >= 1, got {value!r}")
                elif broker_count and value > broker_count:
                    self.error(f"{key}:{name}", f"{value} is more than the {broker_count} broker(s)")
        name = "transaction.state.log.min.isr"
        if name in config:
            value = config[name]
            rf = config.get("transaction.state.log.replication.factor")
            if not _is_int(value) or value < 1:
                self.error(f"{key}:{name}", f"expected an integer >= 1, got {value!r}")
            elif _is_int(rf) and value > rf:
                self.error(f"{key}:{name}", f"{value} is more than transaction.state.log.replication.factor ({rf})")

    # users and topics ------------------------------------------------------------------------

    def users(self, value, reserved_names):
        specs = self.mapping(value, "kafka:users", "a mapping of user name -> {password}")
        if specs is None:
            return []
        users = []
        for name in sorted(specs, key=str):
            key = f"kafka:users:{name}"
            if self.user_name(name, key) is None:
                continue
            if name in reserved_names:
                self.error(key, "is the super user or the inter-broker user, which the formula manages itself")
                continue
            spec = specs[name]
            if self.mapping(spec, key, "a mapping with password") is None:
                continue
            self.unknown_keys(spec, ("password",), key)
            password = self.password(spec.get("password"), f"{key}:password")
            if password is not None:
                users.append(ScramUser(name=name, password=password))
        return users

    def topics(self, value, broker_count, default_rf):
        specs = self.mapping(value, "kafka:topics",
                             "a mapping of topic name -> {partitions, replication_factor, config}")
        if specs is None:
            return []
        topics, collisions = [], {}
        for name in sorted(specs, key=str):
            key = f"kafka:topics:{name}"
            if not isinstance(name, str) or not _TOPIC_NAME.match(name) or name in (".", ".."):
                self.error(key, "topic names are 1-249 letters, digits, '.', '_' or '-' (not '.' or '..')")
                continue
            if name.startswith("__"):
                self.error(key, "names starting with '__' are Kafka's internal topics")
                continue
            # Kafka refuses topics whose names differ only by '.' vs '_' (metric names collide).
            collision_key = name.replace(".", "_")
            if collision_key in collisions:
                self.error(key, f"collides with topic {collisions[collision_key]} "
                                "('.' and '_' map to the same metric name)")
                continue
            collisions[collision_key] = name
            spec = specs[name] if specs[name] is not None else {}
            if self.mapping(spec, key) is None:
                continue
            self.unknown_keys(spec, TOPIC_KEYS, key)
            partitions = self.positive_int(spec.get("partitions", 1), f"{key}:partitions")
            replication_factor = spec.get("replication_factor", default_rf)
            if not _is_int(replication_factor) or replication_factor < 1:
                self.error(f"{key}:replication_factor", f"expected an integer >= 1, got {replication_factor!r}")
                replication_factor = None
            elif broker_count and replication_factor > broker_count:
                self.error(f"{key}:replication_factor",
                           f"{replication_factor} is more than the {broker_count} broker(s) in kafka:brokers")
            config = self.topic_config(spec.get("config") or {}, f"{key}:config", replication_factor)
            if partitions is not None and replication_factor is not None:
                topics.append(Topic(name=name, partitions=partitions, replication_factor=replication_factor,
                                    config=config))
        return topics

    def topic_config(self, value, key, replication_factor):
        config = self.mapping(value, key, "a mapping of topic config key -> value")
        if config is None:
            return {}
        valid = {}
        for name, item in config.items():
            if not isinstance(name, str) or not name or " " in name:
                self.error(f"{key}:{name}", "config keys are non-empty strings without spaces")
            elif not _is_scalar(item):
                self.error(f"{key}:{name}", f"expected a string, number or boolean, got {type(item).__name__}")
            elif name == "min.insync.replicas" and replication_factor and _is_int(item) and item > replication_factor:
                self.error(f"{key}:{name}",
                           f"{item} is more than the topic's replication factor ({replication_factor})")
            else:
                valid[name] = item
        return valid


# --- server.properties --------------------------------------------------------------------------

def _format_value(value):
    return dynamic_config.normalize_value(value)


def _check_log_dirs_argument(log_dirs):
    if isinstance(log_dirs, str) or not log_dirs or not all(isinstance(p, str) and p.startswith("/") for p in log_dirs):
        raise ValueError(f"log_dirs: expected a non-empty list of absolute paths, got {log_dirs!r}")
    if any("," in path for path in log_dirs):
        raise ValueError("log_dirs: paths must not contain ','")
    return [posixpath.normpath(path) for path in log_dirs]


def _check_thread_count(name, value):
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
    return value


def broker_effective_config(model, minion_id, log_dirs=None, num_network_threads=3, num_io_threads=8,
                            num_recovery_threads_per_data_dir=1, num_replica_fetchers=None):
    """The ``key -> value`` (strings) that :func:`render_server_properties` writes for one broker.

    ``log_dirs`` wins over ``kafka:log_dirs``; with neither, :data:`DEFAULT_DATA_DIR`. Thread
    counts come from :mod:`kafkasalt.sizing` (the defaults are Kafka's). Precedence: computed
    values < ``kafka:config`` < ``kafka:brokers:<minion>:config``. Sorted by key.
    """
    broker = model.broker(minion_id)
    directories = _check_log_dirs_argument(log_dirs or model.log_dirs or [DEFAULT_DATA_DIR])
    listeners = model.listeners
    inter_broker = model.inter_broker

    config = {
        "broker.id": broker.broker_id,
        "listeners": ",".join(f"{l.name}://{_host_port(broker.address, l.port)}" for l in listeners),
        "advertised.listeners": ",".join(f"{l.name}://{_host_port(broker.address, l.port)}" for l in listeners),
        "listener.security.protocol.map": ",".join(f"{l.name}:{l.protocol}" for l in listeners),
        "inter.broker.listener.name": inter_broker.name,
        "authorizer.class.name": AUTHORIZER_CLASS,
        "super.users": ";".join(model.super_users),
        "allow.everyone.if.no.acl.found": False,
        "zookeeper.connect": model.zookeeper_connect(),
        "zookeeper.set.acl": True,
        "log.dirs": ",".join(directories),
        "default.replication.factor": model.default_replication_factor,
        "min.insync.replicas": model.min_insync_replicas,
        "offsets.topic.replication.factor": model.default_replication_factor,
        "transaction.state.log.replication.factor": model.default_replication_factor,
        "transaction.state.log.min.isr": model.min_insync_replicas,
        "auto.create.topics.enable": False,
        "unclean.leader.election.enable": False,
        "num.network.threads": _check_thread_count("num_network_threads", num_network_threads),
        "num.io.threads": _check_thread_count("num_io_threads", num_io_threads),
        "num.recovery.threads.per.data.dir": _check_thread_count("num_recovery_threads_per_data_dir",
                                                                 num_recovery_threads_per_data_dir),
    }
    if num_replica_fetchers is not None:
        config["num.replica.fetchers"] = _check_thread_count("num_replica_fetchers", num_replica_fetchers)
    if broker.rack:
        config["broker.rack"] = broker.rack
    if model.uses_sasl:
        config["sasl.enabled.mechanisms"] = model.sasl_mechanism
        config["sasl.mechanism.inter.broker.protocol"] = model.sasl_mechanism
    if model.uses_tls:
        config.update({
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": KEYSTORE_PATH,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": TRUSTSTORE_PATH,
            "ssl.client.auth": model.tls_client_auth,
            "ssl.endpoint.identification.algorithm": "https",
        })
        if model.zookeeper is not None and model.zookeeper.tls:
            # The ensemble's TLS client port, with the broker's own certificate (mTLS) and SASL.
            config.update({
                "zookeeper.ssl.client.enable": True,
                "zookeeper.clientCnxnSocket": "org.apache.zookeeper.ClientCnxnSocketNetty",
                "zookeeper.ssl.keystore.type": "PEM",
                "zookeeper.ssl.keystore.location": KEYSTORE_PATH,
                "zookeeper.ssl.truststore.type": "PEM",
                "zookeeper.ssl.truststore.location": TRUSTSTORE_PATH,
            })
        # KIP-684: SASL_SSL listeners only honour the listener-prefixed ssl.client.auth.
        for listener in listeners:
            if listener.protocol == "SASL_SSL":
                config[f"{listener.config_prefix}ssl.client.auth"] = model.tls_client_auth
    config.update(model.config)
    config.update(broker.config)
    return {key: _format_value(config[key]) for key in sorted(config)}


def _escape_properties(text, is_key):
    """Escape for java.util.Properties (ISO-8859-1 file): backslashes, line breaks, non-ASCII."""
    out = []
    for index, char in enumerate(text):
        code = ord(char)
        if char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif char == "\f":
            out.append("\\f")
        elif char in "=: " and is_key:
            out.append("\\" + char)
        elif char == " " and index == 0:
            out.append("\\ ")
        elif char in "#!" and index == 0 and is_key:
            out.append("\\" + char)
        elif code < 0x20 or code > 0x7E:
            units = char.encode("utf-16-be")
            out.extend(f"\\u{units[i]:02X}{units[i + 1]:02X}" for i in range(0, len(units), 2))
        else:
            out.append(char)
    return "".join(out)


def render_properties(entries, header_lines):
    """``key=value`` lines (escaped, in the given order) under ``#`` header lines."""
    lines = [f"# {line}" if line else "#" for line in header_lines]
    lines.extend(f"{_escape_properties(key, True)}={_escape_properties(value, False)}"
                 for key, value in entries.items())
    return "\n".join(lines) + "\n"


def render_server_properties(model, minion_id, log_dirs=None, num_network_threads=3, num_io_threads=8,
                             num_recovery_threads_per_data_dir=1, num_replica_fetchers=None):
    """Content of ``/etc/kafka/server.properties`` for one broker: deterministic, sorted, no secrets."""
    config = broker_effective_config(model, minion_id, log_dirs=log_dirs, num_network_threads=num_network_threads,
                                     num_io_threads=num_io_threads,
                                     num_recovery_threads_per_data_dir=num_recovery_threads_per_data_dir,
                                     num_replica_fetchers=num_replica_fetchers)
    broker = model.broker(minion_id)
    header = [
        MANAGED_HEADER,
        f"Kafka {model.version} broker {broker.broker_id} ({minion_id}) of cluster '{model.cluster_name}', "
        "ZooKeeper mode.",
        f"No secrets here: SASL passwords are in {JAAS_PATH}, the TLS key in {KEYSTORE_PATH}.",
    ]
    return render_properties(config, header)


# --- secret files -------------------------------------------------------------------------------

def _jaas_quote(value):
    """A JAAS option value in double quotes (the JAAS parser honours backslash escapes)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_secret_argument(value, name):
    if isinstance(value, Secret):
        value = value.reveal()
    if not isinstance(value, str) or not value or _CONTROL_CHARS.search(value):
        raise ValueError(f"{name}: expected a non-empty single-line string")
    return value


def _check_user_argument(value, name):
    if not isinstance(value, str) or not _USER_NAME.match(value):
        raise ValueError(f"{name}: expected a user name of letters, digits, '.', '_', '@' or '-', got {value!r}")
    return value


def jaas_login(login_module, username, password):
    """One JAAS login module entry (``... required username="..." password="...";``)."""
    return (f"{login_module} required username={_jaas_quote(username)} "
            f"password={_jaas_quote(_check_secret_argument(password, 'password'))};")


def render_jaas(model):
    """Content of ``/etc/kafka/kafka_server_jaas.conf`` (SECRET: mode 0600, owner kafka).

    ``KafkaServer``: the SCRAM login the broker uses on the inter-broker listener.
    ``Client``: the DIGEST-MD5 login of the brokers' ZooKeeper user.
    """
    inter_broker = model.inter_broker_user
    zookeeper_password = model.zookeeper_password()
    return "\n".join([
        f"/* {MANAGED_HEADER} Contains secrets: keep mode 0600, owner {RUN_USER}. */",
        "KafkaServer {",
        f"    {SCRAM_LOGIN_MODULE} required",
        f"    username={_jaas_quote(inter_broker.name)}",
        f"    password={_jaas_quote(inter_broker.password.reveal())};",
        "};",
        "",
        "Client {",
        f"    {ZOOKEEPER_DIGEST_LOGIN_MODULE} required",
        f"    username={_jaas_quote(model.zookeeper_user)}",
        f"    password={_jaas_quote(zookeeper_password.reveal())};",
        "};",
        "",
    ])


def client_config(model, username=None, password=None, truststore_path=TRUSTSTORE_PATH, keystore_path=None,
                  listener_name=None):
    """Client ``key -> value`` for a Kafka CLI tool or AdminClient (SECRET when SASL is used).

    The security settings follow the listener (default :attr:`ClusterModel.admin_listener`):
    SASL listeners need ``username``/``password`` (SCRAM), TLS listeners the truststore, and a
    ``keystore_path`` (PEM key + chain) is added for mTLS.
    """
    listener = model.listener(listener_name) if listener_name else model.admin_listener
    config = {
        "bootstrap.servers": model.bootstrap_servers(listener.name),
        "security.protocol": listener.protocol,
    }
    if listener.uses_sasl:
        user = _check_user_argument(username, "username")
        config["sasl.mechanism"] = model.sasl_mechanism
        config["sasl.jaas.config"] = jaas_login(SCRAM_LOGIN_MODULE, user, password)
    if listener.uses_tls:
        if not isinstance(truststore_path, str) or not truststore_path.startswith("/"):
            raise ValueError(f"truststore_path: expected an absolute path, got {truststore_path!r}")
        config.update({
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": truststore_path,
            "ssl.endpoint.identification.algorithm": "https",
        })
        if keystore_path is not None:
            if not isinstance(keystore_path, str) or not keystore_path.startswith("/"):
                raise ValueError(f"keystore_path: expected an absolute path, got {keystore_path!r}")
            config["ssl.keystore.type"] = "PEM"
            config["ssl.keystore.location"] = keystore_path
    return config


def render_client_properties(model, username, password, truststore_path=TRUSTSTORE_PATH, keystore_path=None,
                             listener_name=None):
    """Content of a client properties file for the Kafka CLI tools (``--command-config``).

    SECRET (the SCRAM password is inside ``sasl.jaas.config``): write it with mode 0600.
    """
    config = client_config(model, username, password, truststore_path, keystore_path, listener_name)
    header = [MANAGED_HEADER, "Contains a password: keep mode 0600."]
    return render_properties(config, header)


# --- the service --------------------------------------------------------------------------------

#: Kafka's own G1 settings from kafka-run-class.sh, plus exiting on OOM so the supervisor restarts
#: a broker that would otherwise limp on.
JVM_PERFORMANCE_OPTS = (
    "-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 "
    "-XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true"
)
GC_LOG_OPTS = f"-Xlog:gc*:file={LOG_DIR}/kafkaServer-gc.log:time,tags:filecount=10,filesize=100M"


def _check_heap(heap_mb):
    if not _is_int(heap_mb) or heap_mb < MIN_HEAP_MB:
        raise ValueError(f"heap_mb: expected an integer >= {MIN_HEAP_MB} (MiB), got {heap_mb!r}")
    return heap_mb


def _resolve_heap(model, heap_mb):
    if heap_mb is None:
        heap_mb = model.heap_mb
    if heap_mb is None:
        raise ValueError("heap_mb: kafka:heap_mb is null, pass the value sized for this host (kafkasalt.sizing)")
    return _check_heap(heap_mb)


def jvm_env(model, minion_id, heap_mb=None, jmx_agent_path=None, jmx_port=None):
    """Environment of the broker JVM, in kafka-run-class.sh's variable names.

    ``heap_mb`` defaults to ``kafka:heap_mb``. With ``jmx_agent_path`` (the Prometheus JMX
    exporter jar) the agent serves metrics on ``<broker address>:<jmx_port>`` (default
    ``kafka:jmx_exporter:port``) with :data:`JMX_EXPORTER_CONFIG_PATH`.
    """
    broker = model.broker(minion_id)
    heap_mb = _resolve_heap(model, heap_mb)
    kafka_opts = [f"-Djava.security.auth.login.config={JAAS_PATH}"]
    if jmx_agent_path is not None:
        if not model.jmx_exporter.enabled:
            raise ValueError("jmx_agent_path: the JMX exporter is disabled (kafka:jmx_exporter:enabled)")
        if not isinstance(jmx_agent_path, str) or not jmx_agent_path.startswith("/") or " " in jmx_agent_path:
            raise ValueError(f"jmx_agent_path: expected an absolute path without spaces, got {jmx_agent_path!r}")
        port = model.jmx_exporter.port if jmx_port is None else jmx_port
        if not _is_int(port) or not MIN_PORT <= port <= 65535:
            raise ValueError(f"jmx_port: expected a port number {MIN_PORT}-65535, got {port!r}")
        kafka_opts.append(f"-javaagent:{jmx_agent_path}={_host_port(broker.address, port)}:{JMX_EXPORTER_CONFIG_PATH}")
    return {
        "KAFKA_HEAP_OPTS": f"-Xms{heap_mb}m -Xmx{heap_mb}m",
        "KAFKA_JVM_PERFORMANCE_OPTS": JVM_PERFORMANCE_OPTS,
        "KAFKA_GC_LOG_OPTS": GC_LOG_OPTS,
        "KAFKA_LOG4J_OPTS": f"-Dlog4j.configuration=file:{LOG4J_PATH}",
        "KAFKA_OPTS": " ".join(kafka_opts),
        "LOG_DIR": LOG_DIR,
    }


def command(model, minion_id, install_dir=None, heap_mb=None, jmx_agent_path=None, jmx_port=None, java_bin=JAVA_BIN):
    """The broker's command line: ``java <jvm_env options> -cp <install_dir>/libs/* kafka.Kafka server.properties``.

    The JVM options are the values of :func:`jvm_env`, expanded in the same order
    kafka-run-class.sh uses, so the command needs no shell and no ``bin/`` scripts (the test bed's
    Maven-built release has only ``libs/``). Java expands the ``libs/*`` class path itself.
    """
    install_dir = install_dir or model.install_dir
    if not isinstance(install_dir, str) or not install_dir.startswith("/"):
        raise ValueError(f"install_dir: expected an absolute path, got {install_dir!r}")
    env = jvm_env(model, minion_id, heap_mb, jmx_agent_path, jmx_port)
    argv = [java_bin]
    for name in ("KAFKA_HEAP_OPTS", "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_GC_LOG_OPTS", "KAFKA_LOG4J_OPTS"):
        argv.extend(shlex.split(env[name]))
    argv.append(f"-Dkafka.logs.dir={LOG_DIR}")
    argv.extend(shlex.split(env["KAFKA_OPTS"]))
    argv.extend(["-cp", f"{install_dir.rstrip('/')}/libs/*", "kafka.Kafka", SERVER_PROPERTIES_PATH])
    return argv


_SYSTEMD_SAFE = re.compile(r"^[A-Za-z0-9_@+=:,./*-]+$")


def _systemd_quote(arg):
    """One ExecStart word: specifiers (%) and variables ($) escaped, quoted when needed."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if _SYSTEMD_SAFE.match(arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _systemd_env_quote(name, value):
    """One ``Environment=`` assignment: only specifiers (%) are expanded there, not ``$``."""
    assignment = f"{name}={value}".replace("%", "%%")
    return '"' + assignment.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_nofile(nofile):
    if not _is_int(nofile) or nofile < 1024:
        raise ValueError(f"nofile: expected an integer >= 1024, got {nofile!r}")
    return nofile


def render_systemd_unit(model, minion_id, install_dir=None, heap_mb=None, nofile=DEFAULT_NOFILE,
                        jmx_agent_path=None, jmx_port=None, java_bin=JAVA_BIN):
    """Content of ``/etc/systemd/system/kafka.service`` running :func:`command`."""
    broker = model.broker(minion_id)
    argv = command(model, minion_id, install_dir, heap_mb, jmx_agent_path, jmx_port, java_bin)
    env = jvm_env(model, minion_id, heap_mb, jmx_agent_path, jmx_port)
    environment = [f"Environment={_systemd_env_quote(key, env[key])}" for key in sorted(env)]
    lines = [
        f"# {MANAGED_HEADER}",
        "[Unit]",
        f"Description=Apache Kafka {model.version} broker {broker.broker_id} (cluster {model.cluster_name})",
        "Documentation=https://kafka.apache.org/39/documentation.html",
        "Wants=network-online.target",
        "After=network-online.target zookeeper.service",
        "",
        "[Service]",
        "Type=simple",
        f"User={RUN_USER}",
        f"Group={RUN_USER}",
        f"WorkingDirectory={STATE_DIR}",
        *environment,
        "ExecStart=" + " ".join(_systemd_quote(arg) for arg in argv),
        # The JVM exits with 143 on SIGTERM after a clean controlled shutdown.
        "SuccessExitStatus=143",
        "KillSignal=SIGTERM",
        f"TimeoutStopSec={STOP_TIMEOUT_SECONDS}",
        "Restart=on-failure",
        "RestartSec=10",
        f"LimitNOFILE={_check_nofile(nofile)}",
        "UMask=0027",
        "NoNewPrivileges=true",
        "PrivateTmp=true",
        "ProtectHome=true",
        "ProtectSystem=full",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)


def _supervisor_value(text):
    """supervisord reads its config with %-interpolation: double every %."""
    return text.replace("%", "%%")


def render_supervisord_program(model, minion_id, install_dir=None, heap_mb=None, nofile=DEFAULT_NOFILE,
                               jmx_agent_path=None, jmx_port=None, java_bin=JAVA_BIN, program_name=SERVICE_NAME,
                               user=RUN_USER):
    """A supervisord ``[program:kafka]`` section running the same :func:`command`.

    supervisord has no per-program file limit, so the command is wrapped in
    ``prlimit --nofile=N:N --`` (works while supervisord's own hard limit is >= N; raise
    ``minfds`` in ``[supervisord]``). The JVM environment is passed explicitly.
    """
    argv = command(model, minion_id, install_dir, heap_mb, jmx_agent_path, jmx_port, java_bin)
    nofile = _check_nofile(nofile)
    full = [PRLIMIT_BIN, f"--nofile={nofile}:{nofile}", "--", *argv]
    env = jvm_env(model, minion_id, heap_mb, jmx_agent_path, jmx_port)
    environment = ",".join(f'{key}="{env[key]}"' for key in sorted(env))
    if not re.fullmatch(r"[A-Za-z0-9_-]+", program_name):
        raise ValueError(f"program_name: expected letters, digits, '_' or '-', got {program_name!r}")
    lines = [
        f"; {MANAGED_HEADER}",
        f"[program:{program_name}]",
        "command=" + _supervisor_value(" ".join(shlex.quote(arg) for arg in full)),
        "environment=" + _supervisor_value(environment),
        f"user={user}",
        f"directory={STATE_DIR}",
        "autostart=true",
        "autorestart=unexpected",
        "exitcodes=0,143",
        "startsecs=10",
        "startretries=3",
        "stopsignal=TERM",
        f"stopwaitsecs={STOP_TIMEOUT_SECONDS}",
        "stopasgroup=true",
        "killasgroup=true",
        f"stdout_logfile={LOG_DIR}/{program_name}.out",
        "stdout_logfile_maxbytes=50MB",
        "stdout_logfile_backups=5",
        "redirect_stderr=true",
        "",
    ]
    return "\n".join(lines)


def render_log4j_properties():
    """``/etc/kafka/log4j.properties`` (reload4j): size-capped files under ``${kafka.logs.dir}``."""
    appenders = {
        "kafkaAppender": "server.log",
        "stateChangeAppender": "state-change.log",
        "controllerAppender": "controller.log",
        "cleanerAppender": "log-cleaner.log",
        "authorizerAppender": "kafka-authorizer.log",
    }
    loggers = {
        "log4j.logger.kafka": "INFO",
        "log4j.logger.org.apache.kafka": "INFO",
        "log4j.logger.org.apache.zookeeper": "INFO",
        "log4j.logger.kafka.request.logger": "WARN, kafkaAppender",
        "log4j.logger.kafka.controller": "INFO, controllerAppender",
        "log4j.logger.state.change.logger": "INFO, stateChangeAppender",
        "log4j.logger.kafka.log.LogCleaner": "INFO, cleanerAppender",
        # INFO logs every denied request; that is the audit trail operators want.
        "log4j.logger.kafka.authorizer.logger": "INFO, authorizerAppender",
    }
    additivity = ("kafka.request.logger", "kafka.controller", "state.change.logger", "kafka.log.LogCleaner",
                  "kafka.authorizer.logger")
    lines = [f"# {MANAGED_HEADER}", "log4j.rootLogger=INFO, kafkaAppender", ""]
    for name, filename in appenders.items():
        prefix = f"log4j.appender.{name}"
        lines += [
            f"{prefix}=org.apache.log4j.RollingFileAppender",
            f"{prefix}.File=${{kafka.logs.dir}}/{filename}",
            f"{prefix}.MaxFileSize=100MB",
            f"{prefix}.MaxBackupIndex=10",
            f"{prefix}.layout=org.apache.log4j.PatternLayout",
            f"{prefix}.layout.ConversionPattern=[%d] %p %m (%c)%n",
            "",
        ]
    lines += [f"{name}={value}" for name, value in loggers.items()]
    lines += [f"log4j.additivity.{name}=false" for name in additivity]
    return "\n".join(lines) + "\n"


# --- metrics ------------------------------------------------------------------------------------

def _jmx_rule(pattern, name, metric_type, labels=None, value_factor=None):
    lines = [f"  - pattern: '{pattern}'", f"    name: {name}", f"    type: {metric_type}"]
    if labels:
        lines.append("    labels:")
        lines.extend(f'      {label}: "{value}"' for label, value in labels.items())
    if value_factor is not None:
        lines.append(f"    valueFactor: {value_factor}")
    return lines


def render_jmx_exporter_config():
    """``/etc/kafka/jmx_exporter.yml`` for the Prometheus JMX exporter (1.x) java agent.

    Exports the kafka.server/controller/network/log/cluster/coordinator MBeans Kafka operators
    alert on (under-replicated / offline / under-min-ISR partitions, active controller count,
    request rates and latencies, idle ratios, log sizes) with topic/partition/request labels.
    JVM metrics come from the agent's built-in collectors.
    """
    domains = ("server", "controller", "network", "log", "cluster", "coordinator.group", "coordinator.transaction")
    # Label captures follow the domain/type/name groups ($1..$3); values stop at the next comma.
    label_patterns = {2: r", (\w+)=([^,]+), (\w+)=([^,]+)", 1: r", (\w+)=([^,]+)", 0: ""}
    label_maps = {2: {"$4": "$5", "$6": "$7"}, 1: {"$4": "$5"}, 0: None}
    lines = [
        f"# {MANAGED_HEADER}",
        "lowercaseOutputName: true",
        "lowercaseOutputLabelNames: true",
        "includeObjectNames:",
        *[f'  - "kafka.{domain}:*"' for domain in domains],
        "rules:",
    ]
    # Request latency/size histograms: one gauge per percentile, labelled by request type.
    lines += _jmx_rule(r"kafka.network<type=RequestMetrics, name=(\w+), request=(\w+)><>(\d+)thPercentile",
                       "kafka_network_requestmetrics_$1", "GAUGE", {"request": "$2", "quantile": "0.$3"})
    lines += _jmx_rule(r"kafka.network<type=RequestMetrics, name=(\w+(?:Ms|Bytes)), request=(\w+)><>Count",
                       "kafka_network_requestmetrics_$1_count", "UNTYPED", {"request": "$2"})
    # The request handler idle ratio is a meter whose useful value is its rate (a fraction 0..1).
    lines += _jmx_rule(r"kafka.server<type=KafkaRequestHandlerPool, name=RequestHandlerAvgIdlePercent><>OneMinuteRate",
                       "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent", "GAUGE")
    # Rates (Yammer meters named ...PerSec): cumulative counters, Prometheus derives the rate.
    for count in (2, 1, 0):
        lines += _jmx_rule(rf"kafka.([\w.]+)<type=(\w+), name=(\w+)PerSec\w*{label_patterns[count]}><>Count",
                           "kafka_$1_$2_$3_total", "COUNTER", label_maps[count])
    # Gauges (Value attribute) with up to two labels (topic/partition, listener/networkProcessor...).
    for count in (2, 1, 0):
        lines += _jmx_rule(rf"kafka.([\w.]+)<type=(\w+), name=(\w+){label_patterns[count]}><>Value",
                           "kafka_$1_$2_$3", "GAUGE", label_maps[count])
    # Other timers (e.g. the controller's LeaderElectionRateAndTimeMs): event count and p99. The
    # count is UNTYPED, as a summary's _count is: a COUNTER would be exported as ..._count_total.
    lines += _jmx_rule(r"kafka.([\w.]+)<type=(\w+), name=(\w+)><>Count", "kafka_$1_$2_$3_count", "UNTYPED")
    lines += _jmx_rule(r"kafka.([\w.]+)<type=(\w+), name=(\w+)><>99thPercentile", "kafka_$1_$2_$3", "GAUGE",
                       {"quantile": "0.99"})
    return "\n".join(lines) + "\n"

"""The Kafka cluster and broker model: install layout, the ``kafka:`` pillar's :data:`DEFAULTS`
and :class:`ClusterModel`.

:meth:`ClusterModel.from_pillar` validates the ``kafka:`` pillar (see :data:`DEFAULTS`, the
single source of truth for its keys and defaults) and reports *every* problem at once as
:class:`kafkasalt.common.errors.PillarErrors`, each naming the full pillar key
(:mod:`kafkasalt.kafka.validate`). :mod:`kafkasalt.kafka.render` turns a valid model into files.
"""

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from kafkasalt.common.secret import Secret
from kafkasalt.common.validation import dns_name_problem, is_int

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
DEFAULT_NOFILE = 128000  # Kafka keeps every segment file open; see kafkasalt.ops.sizing for the rule
STOP_TIMEOUT_SECONDS = 300  # controlled shutdown moves leadership away first; give it time

MANAGED_HEADER = "Managed by Salt (kafkasalt) - local edits are overwritten."

# --- the kafka: pillar --------------------------------------------------------------------------

#: Every ``kafka:`` pillar key with its default. Pillar values replace these, except the
#: settings sections in ``_MERGED_SECTIONS`` whose keys are merged one by one.
DEFAULTS = {
    "cluster_name": "kafka",
    "version": "3.9.2",  # the release the lab and the artifacts test
    "mode": None,  # None -> zookeeper for 3.x; 4.x must say kraft (kafkasalt.kafka.kraft.mode_problem)
    "controllers": {},  # KRaft voters: minion id -> {node_id, address, port}; see kafkasalt.kafka.kraft
    "controller_port": 9095,  # the CONTROLLER listener port of a controller that does not set one
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
    "log_dirs": None,  # None -> per host from kafkasalt.ops.sizing, else DEFAULT_DATA_DIR
    "heap_mb": None,  # None -> per host from kafkasalt.ops.sizing
    "expected_partitions": 1000,
    "jmx_exporter": {"enabled": True, "port": 9101, "source": None, "source_hash": None},
    "config": {},
    "default_replication_factor": 3,
    "min_insync_replicas": 2,
    "allow_min_isr_equal_rf": False,
    "users": {},
    "topics": {},
    "acls": [],
    # Scaling: a broker added to kafka:brokers gets its share of partitions after the deploy
    # (on_scale); moves run in batches of max_moves_per_broker per broker, throttled at
    # throttle_bytes B/s (None: sized from the slowest NIC, see kafkasalt.ops.sizing).
    "rebalance": {"on_scale": True, "max_moves_per_broker": 5, "throttle_bytes": None},
}
_MERGED_SECTIONS = ("tls", "super_user", "inter_broker_user", "jmx_exporter", "rebalance")

BROKER_KEYS = ("broker_id", "address", "rack", "dns_names", "config", "drain", "log_dirs")
MAX_MOVES_PER_BROKER = 100
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
KRAFT_MAJOR = 4  # 4.x runs in KRaft mode only
MAX_SUPPORTED_MINOR = 9

AUTHORIZER_CLASS = "kafka.security.authorizer.AclAuthorizer"
KRAFT_AUTHORIZER_CLASS = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
LOG4J2_PATH = "/etc/kafka/log4j2.yaml"
SCRAM_LOGIN_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
ZOOKEEPER_DIGEST_LOGIN_MODULE = "org.apache.zookeeper.server.auth.DigestLoginModule"

_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
# kafka:cluster_name names the PKI store directory on the master and the default chroot.
_CLUSTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


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
    dns_names: tuple = ()  # extra DNS names in its certificate (the kafka_pki ext_pillar)
    drain: bool = False  # kafka:brokers:<minion>:drain: move its replicas off, then retire it
    log_dirs: tuple = None  # kafka:brokers:<minion>:log_dirs: this broker's disks (wins over kafka:log_dirs)


@dataclass(frozen=True)
class RebalanceSettings:
    """``kafka:rebalance``: whether a scale-out rebalances, batch size, throttle."""

    on_scale: bool = True
    max_moves_per_broker: int = 5
    throttle_bytes: int = None


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
                if is_int(_field(member, f"{name}_port")):
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
        if is_int(value):
            found[name] = value
    return found


def _field(obj, name):
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _sort_number(value):
    return value if is_int(value) else 0


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


def cluster_name_problem(value):
    """Why ``value`` cannot be ``kafka:cluster_name`` (``None`` when it can). It becomes a
    directory on the master (the PKI store), so this is checked before any path is built."""
    if not isinstance(value, str) or not _CLUSTER_NAME.fullmatch(value):
        return f"expected 1-64 letters, digits, '.', '_' or '-' starting with a letter or digit, got {value!r}"
    return None


def dns_names_problems(value):
    """``[(index or None, message)]``: what is wrong with ``kafka:brokers:<minion>:dns_names``
    (extra DNS names of the broker's certificate); empty when nothing is. ``None`` is no names."""
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        return [(None, f"expected a list of DNS names, got {type(value).__name__}")]
    problems, seen = [], set()
    for index, name in enumerate(value):
        problem = dns_name_problem(name)
        if problem is None and name.strip().lower().rstrip(".") in seen:
            problem = f"{name} is listed twice"
        if problem:
            problems.append((index, problem))
        else:
            seen.add(name.strip().lower().rstrip("."))
    return problems


def parse_version(version):
    """``"3.9.1"`` -> ``(3, 9, 1)``; raises ValueError for anything else."""
    match = _VERSION.fullmatch(version) if isinstance(version, str) else None
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
    rebalance: RebalanceSettings = RebalanceSettings()
    mode: str = "zookeeper"  # or "kraft"
    controllers: tuple = ()  # of kafkasalt.kafka.kraft.Controller, ordered by node_id (KRaft mode)

    @property
    def kraft(self):
        """True for a KRaft-mode cluster."""
        return self.mode == "kraft"

    def controller(self, minion_id):
        """The controller run by ``minion_id``; KeyError naming the pillar key if there is none."""
        for controller in self.controllers:
            if controller.minion_id == minion_id:
                return controller
        raise KeyError(f"minion '{minion_id}' is not a controller of cluster '{self.cluster_name}' "
                       f"(no kafka:controllers:{minion_id})")

    def roles(self, minion_id):
        """``process.roles`` of a minion: ``("broker",)``, ``("controller",)`` or both (a
        combined node); ``()`` when it runs neither. ZooKeeper mode: brokers only."""
        roles = []
        if any(b.minion_id == minion_id for b in self.brokers):
            roles.append("broker")
        if any(c.minion_id == minion_id for c in self.controllers):
            roles.append("controller")
        return tuple(roles)

    def quorum_bootstrap_servers(self):
        """``controller.quorum.bootstrap.servers``: every voter's CONTROLLER endpoint (KIP-853)."""
        return ",".join(controller.endpoint for controller in self.controllers)

    @staticmethod
    def certificate_name(minion_id, roles):
        """The PKI store name of a node's certificate: ``broker-<minion>`` for a broker (a
        combined node too: one process, one keystore), ``controller-<minion>`` for a dedicated
        controller. Its subject is ``CN=<name>``."""
        return f"broker-{minion_id}" if "broker" in roles else f"controller-{minion_id}"

    @property
    def node_principals(self):
        """The TLS principals (``User:CN=<certificate name>``) of every KRaft node: on the
        CONTROLLER listener brokers and controllers authenticate with their certificates."""
        minions = sorted({b.minion_id for b in self.brokers} | {c.minion_id for c in self.controllers})
        return [f"User:CN={self.certificate_name(m, self.roles(m))}" for m in minions]

    @property
    def serving_brokers(self):
        """The brokers that stay: every broker not marked ``drain`` (a draining one is emptied,
        then retired, and no longer expected to run)."""
        return tuple(broker for broker in self.brokers if not broker.drain)

    @property
    def draining_brokers(self):
        return tuple(broker for broker in self.brokers if broker.drain)

    @classmethod
    def from_pillar(cls, kafka_pillar, zookeeper_model=None, sizing_by_minion=None):
        """Validate the ``kafka:`` pillar and build the model.

        ``zookeeper_model``: the ensemble (see :meth:`ZookeeperLink.coerce`); without it the
        ZooKeeper checks are skipped and the files that need ZooKeeper cannot be rendered.
        ``sizing_by_minion``: ``{minion_id: {"mem_total_bytes": int, ...}}`` (hardware facts) to
        check ``heap_mb`` against each broker's RAM. Raises :class:`PillarErrors` listing every
        problem, each with its full pillar key; passwords never appear in messages.
        """
        from kafkasalt.kafka.validate import _Validator  # validation builds this class

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
        """Principals in ``super.users``: the admin and the inter-broker user; in KRaft mode also
        every node's TLS principal (controllers and brokers talk on the CONTROLLER listener)."""
        users = [f"User:{self.super_user.name}", f"User:{self.inter_broker_user.name}"]
        return users + self.node_principals if self.kraft else users

    @property
    def uses_tls(self):
        return any(listener.uses_tls for listener in self.listeners)

    @property
    def uses_sasl(self):
        return any(listener.uses_sasl for listener in self.listeners)

    def bootstrap_servers(self, listener_name=None):
        """``address:port,...`` of every broker on a listener (default :attr:`admin_listener`)."""
        listener = self.listener(listener_name) if listener_name else self.admin_listener
        return ",".join(_host_port(broker.address, listener.port) for broker in self.serving_brokers)

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

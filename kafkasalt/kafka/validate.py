"""Validation of the ``kafka:`` pillar: every problem is collected with its full pillar key in one
:class:`~kafkasalt.common.validation.Collector`, and :class:`~kafkasalt.kafka.model.ClusterModel`
is built only when there is none. Passwords never appear in a message."""

import dataclasses
import difflib
import ipaddress
import posixpath
import re
from collections.abc import Mapping

from kafkasalt.common.errors import PillarErrors
from kafkasalt.common.secret import Secret
from kafkasalt.common.validation import Collector, is_int, type_name
from kafkasalt.kafka import dynamic_config, kraft, kraft_validate, storage, topic_configs
from kafkasalt.kafka.model import (_CLUSTER_NAME, _CONTROL_CHARS, _MERGED_SECTIONS, _USER_NAME,  # noqa: F401
                                   BROKER_KEYS, CLIENT_AUTH_VALUES, DEFAULT_RESERVED_BROKER_MAX_ID, DEFAULTS,
                                   HASH_ALGORITHMS, INSECURE_PROTOCOLS, LISTENER_KEYS, MAX_SUPPORTED_MINOR,
                                   MAX_MOVES_PER_BROKER, MIN_HEAP_MB, MIN_PORT, SASL_MECHANISMS, SECURITY_PROTOCOLS,
                                   SUPPORTED_MAJOR, KRAFT_MAJOR, RebalanceSettings,
                                   TOPIC_KEYS, Broker, ClusterModel, JmxExporter, Listener, ScramUser, Topic,
                                   cluster_name_problem, defaults, dns_names_problems, merge_with_defaults,
                                   parse_version)
from kafkasalt.ops.sizing import expected_partitions_problem
from kafkasalt.security import acl

_LISTENER_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_CHROOT = re.compile(r"^(/[A-Za-z0-9._-]+)+$")
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
_DNS_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_DNS_LABEL}(\.{_DNS_LABEL})*$")

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
    "process.roles": "kafka:mode, kafka:brokers and kafka:controllers",
    "node.id": "kafka:mode, kafka:brokers and kafka:controllers",
    "controller.quorum.voters": "kafka:mode, kafka:brokers and kafka:controllers",
    "controller.listener.names": "kafka:mode, kafka:brokers and kafka:controllers",
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
#: Topic configs the formula sets itself (``kafka:topics:<name>:config`` may not).
OWNED_TOPIC_CONFIGS = {
    "leader.replication.throttled.replicas": "the reassignment throttle (kafka.reassign sets and clears it)",
    "follower.replication.throttled.replicas": "the reassignment throttle (kafka.reassign sets and clears it)",
}
#: Replication settings ``config`` may override, checked against the broker count.
REPLICATION_OVERRIDE_KEYS = ("offsets.topic.replication.factor", "transaction.state.log.replication.factor")


def _is_scalar(value):
    return isinstance(value, (str, int, float, bool))


def _valid_address(address):
    try:
        ipaddress.ip_address(address)
        return True
    except ValueError:
        # An all-numeric last label was meant as an IPv4 address (10.0.0.256, 10.0.1), not a name.
        return bool(_HOSTNAME.fullmatch(address)) and not address.rstrip(".").rsplit(".", 1)[-1].isdigit()


def _address_problem(address):
    """Why ``address`` cannot be bound and advertised (the broker rule), or None."""
    if not isinstance(address, str) or not _valid_address(address):
        return f"expected an IP address or host name, got {address!r}"
    if _is_wildcard(address):
        return f"{address} is a wildcard; clients cannot connect to it (use the host's address)"
    return None


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


class _Validator(Collector):
    """The ``kafka:`` pillar checks: each records its problems (full keys) in this collector,
    and :meth:`build` makes the model only if there were none."""

    def __init__(self, kafka_pillar, zookeeper, sizing_by_minion):
        super().__init__("kafka")
        self.raw = kafka_pillar
        self.zookeeper = zookeeper
        self.sizing = sizing_by_minion or {}

    def build(self):
        if self.raw is None:
            self.raw = {}
        if not isinstance(self.raw, Mapping):
            self.fail(f"expected a mapping, got {type(self.raw).__name__}")
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
        try:
            version_tuple = parse_version(version) if version else None
        except ValueError:
            version_tuple = None
        mode = kraft_validate.check_mode(self, self.raw, version_tuple)
        kraft_validate.check_zookeeper_keys(self, self.raw, mode)
        if mode == kraft.KRAFT:
            self.zookeeper = None  # a KRaft cluster has no ensemble; its checks do not apply
        source, source_hash = self.source(pillar["source"], pillar["source_hash"], "kafka", required=True)
        config = self.config(pillar["config"], "kafka:config")
        if mode == kraft.KRAFT:
            config = kraft_validate.check_config_keys(self, config, "kafka:config", version_tuple)
        listeners = self.listeners(pillar["listeners"], allow_insecure)
        inter_broker = self.inter_broker_listener(pillar["inter_broker_listener"], listeners)
        jmx = self.jmx_exporter(pillar["jmx_exporter"], listeners)
        brokers = self.brokers(pillar["brokers"], listeners, jmx, config)
        controllers = ()
        if mode == kraft.KRAFT:
            brokers = [dataclasses.replace(b, config=kraft_validate.check_config_keys(
                self, b.config, f"kafka:brokers:{b.minion_id}:config", version_tuple)) for b in brokers]
            kraft_validate.check_controller_tls(self, listeners)
            controller_port = kraft_validate.check_controller_port(self, pillar["controller_port"])
            controllers = kraft_validate.check_controllers(self, pillar["controllers"], brokers, listeners, jmx,
                                                           controller_port, _address_problem)
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
        if mode == kraft.KRAFT:
            zookeeper_user, chroot = None, ""
            for user, key in ((super_user, "kafka:super_user"), (inter_broker_user, "kafka:inter_broker_user")):
                problem = storage.scram_password_problem(user.password) if user is not None else None
                if problem:
                    # The first controller writes these users into the metadata log from
                    # kafka-storage.sh format --add-scram, whose parser has no escapes.
                    self.error(f"{key}:password", f"{problem} (KRaft mode)")
        else:
            zookeeper_user = self.zookeeper_user(pillar["zookeeper_user"])
            chroot = self.chroot(pillar["zookeeper_chroot"], cluster_name)
        log_dirs = self.log_dirs(pillar["log_dirs"])
        heap_mb = self.heap(pillar["heap_mb"], brokers)
        expected_partitions = self.expected_partitions(pillar["expected_partitions"])
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
        self.drains(brokers, replication_factor, topics)
        rebalance = self.rebalance(pillar["rebalance"])
        acls = self.acls(pillar["acls"])

        self.raise_errors()
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
            acls=acls,
            allow_insecure_listeners=allow_insecure,
            allow_min_isr_equal_rf=allow_equal,
            rebalance=rebalance,
            mode=mode or kraft.ZOOKEEPER,
            controllers=controllers,
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
        if not is_int(value) or value < minimum:
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
        problem = cluster_name_problem(value)
        if problem:
            self.error("kafka:cluster_name", problem)
            return None
        return value

    def expected_partitions(self, value):
        problem = expected_partitions_problem(value)
        if problem:
            self.error("kafka:expected_partitions", problem)
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
        if major == KRAFT_MAJOR:
            return value  # KRaft only: kraft_validate.check_mode says what the pillar must state
        if major != SUPPORTED_MAJOR or minor > MAX_SUPPORTED_MINOR:
            self.error(key, f"{value}: supported versions are 3.0.x to 3.9.x (ZooKeeper mode; KRaft from 3.9) "
                            "and 4.x (KRaft)")
            return None
        return value

    def source(self, source, source_hash, prefix, required=False):
        if source is None and required:
            self.error(f"{prefix}:source", "missing: the URL of the release to install, such as file:///... or "
                                           "https://... (with its source_hash)")
            if source_hash is None:
                self.error(f"{prefix}:source_hash", "required with a source: downloads are always verified")
        if source is not None and (not isinstance(source, str) or "://" not in source
                                   or _CONTROL_CHARS.search(source)):
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
            if not isinstance(name, str) or not _LISTENER_NAME.fullmatch(name):
                self.error(key, "listener names must match [A-Z_][A-Z0-9_]* (upper case), e.g. CLIENT")
                continue
            if self.mapping(spec, key, "a mapping with port and protocol") is None:
                continue
            self.unknown_keys(spec, LISTENER_KEYS, key)
            port, protocol = spec.get("port"), spec.get("protocol")
            if not is_int(port) or not MIN_PORT <= port <= 65535:
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
        if not isinstance(name, str):
            self.error(key, f"expected the name of one of the listeners ({', '.join(sorted(listeners)) or 'none'}), "
                            f"got {type_name(name)}")
            return None
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
        if not is_int(port) or not MIN_PORT <= port <= 65535:
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
        max_id = topic_configs.as_int(max_id_value)
        max_id = DEFAULT_RESERVED_BROKER_MAX_ID if max_id is None or max_id < 0 else max_id
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
            if not is_int(broker_id) or broker_id < 0:
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
            config = self.config({} if spec.get("config") is None else spec["config"], f"{key}:config")
            dns_names = self.dns_names(spec.get("dns_names"), f"{key}:dns_names")
            drain = spec.get("drain", False)
            if not isinstance(drain, bool):
                self.error(f"{key}:drain", f"expected true or false (unquoted), got {drain!r}")
                drain = False
            log_dirs = self.log_dirs(spec.get("log_dirs"), f"{key}:log_dirs")
            if broker_id is not None and address is not None:
                brokers.append(Broker(minion_id=minion_id, broker_id=broker_id, address=address, rack=rack,
                                      config=config, dns_names=dns_names, drain=drain, log_dirs=log_dirs))
        draining = [b.minion_id for b in brokers if b.drain]
        if brokers and len(draining) == len(brokers):
            self.error(f"kafka:brokers:{draining[0]}:drain", "every broker is marked drain: at least one must stay")
        return brokers

    def drains(self, brokers, replication_factor, topics):
        """Draining must leave enough brokers for every replication factor the pillar asks for."""
        draining = [b.minion_id for b in brokers if b.drain]
        staying = len(brokers) - len(draining)
        if not draining or staying == 0:
            return
        needed = max([replication_factor or 0] + [t.replication_factor or 0 for t in topics])
        if staying < needed:
            self.error(f"kafka:brokers:{draining[0]}:drain",
                       f"draining {', '.join(draining)} leaves {staying} broker(s), fewer than the replication "
                       f"factor {needed} that kafka:default_replication_factor or kafka:topics asks for")

    def rebalance(self, value):
        key = "kafka:rebalance"
        self.unknown_keys(value, tuple(DEFAULTS["rebalance"]), key)
        on_scale = value.get("on_scale")
        if not isinstance(on_scale, bool):
            self.error(f"{key}:on_scale", f"expected true or false (unquoted), got {on_scale!r}")
            on_scale = True
        cap = value.get("max_moves_per_broker")
        if not is_int(cap) or not 1 <= cap <= MAX_MOVES_PER_BROKER:
            self.error(f"{key}:max_moves_per_broker", f"expected an integer 1-{MAX_MOVES_PER_BROKER}, got {cap!r}")
            cap = 5
        throttle = value.get("throttle_bytes")
        if throttle is not None and (not is_int(throttle) or throttle < 1024):
            self.error(f"{key}:throttle_bytes", f"expected bytes per second >= 1024 or null (sized from the NIC), "
                                                f"got {throttle!r}")
            throttle = None
        return RebalanceSettings(on_scale=on_scale, max_moves_per_broker=cap, throttle_bytes=throttle)

    def dns_names(self, value, key):
        problems = dns_names_problems(value)
        for index, message in problems:
            self.error(key if index is None else f"{key}:{index}", message)
        if problems or value is None:
            return ()
        return tuple(name.strip().lower().rstrip(".") for name in value)

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
        if not isinstance(value, str) or not _USER_NAME.fullmatch(value):
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
        if not isinstance(value, str) or not _CHROOT.fullmatch(value):
            self.error(key, f"expected an absolute znode path like /kafka/lab (no trailing '/'), or '/', got {value!r}")
            return None
        return value

    # storage, memory, replication ------------------------------------------------------------

    def log_dirs(self, value, key="kafka:log_dirs"):
        """``kafka:log_dirs`` or one broker's ``kafka:brokers:<minion>:log_dirs``."""
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
        if not is_int(value) or value < MIN_HEAP_MB:
            self.error(key, f"expected an integer >= {MIN_HEAP_MB} (MiB), got {value!r}")
            return None
        for broker in brokers:
            facts = self.sizing.get(broker.minion_id) or {}
            mem_total = facts.get("mem_total_bytes") if isinstance(facts, Mapping) else None
            if is_int(mem_total) and mem_total > 0 and value * 1024 * 1024 > mem_total:
                self.error(key, f"{value} MiB is more than the RAM of {broker.minion_id} "
                                f"({mem_total // (1024 * 1024)} MiB)")
        return value

    def replication(self, replication_factor, min_isr, broker_count, allow_equal):
        rf_key, isr_key = "kafka:default_replication_factor", "kafka:min_insync_replicas"
        if not is_int(replication_factor) or replication_factor < 1:
            self.error(rf_key, f"expected an integer >= 1, got {replication_factor!r}")
            replication_factor = None
        elif broker_count and replication_factor > broker_count:
            self.error(rf_key, f"{replication_factor} is more than the {broker_count} broker(s) in kafka:brokers")
        if not is_int(min_isr) or min_isr < 1:
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
                if not is_int(value) or value < 1:
                    self.error(f"{key}:{name}", f"expected an integer >= 1, got {value!r}")
                elif broker_count and value > broker_count:
                    self.error(f"{key}:{name}", f"{value} is more than the {broker_count} broker(s)")
        name = "transaction.state.log.min.isr"
        if name in config:
            value = config[name]
            rf = config.get("transaction.state.log.replication.factor")
            if not is_int(value) or value < 1:
                self.error(f"{key}:{name}", f"expected an integer >= 1, got {value!r}")
            elif is_int(rf) and value > rf:
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
            if not isinstance(name, str) or not _TOPIC_NAME.fullmatch(name) or name in (".", ".."):
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
            if not is_int(replication_factor) or replication_factor < 1:
                self.error(f"{key}:replication_factor", f"expected an integer >= 1, got {replication_factor!r}")
                replication_factor = None
            elif broker_count and replication_factor > broker_count:
                self.error(f"{key}:replication_factor",
                           f"{replication_factor} is more than the {broker_count} broker(s) in kafka:brokers")
            config = self.topic_config({} if spec.get("config") is None else spec["config"], f"{key}:config",
                                       replication_factor)
            if partitions is not None and replication_factor is not None:
                topics.append(Topic(name=name, partitions=partitions, replication_factor=replication_factor,
                                    config=config))
        return topics

    def topic_config(self, value, key, replication_factor):
        config = self.mapping(value, key, "a mapping of topic config key -> value")
        if config is None:
            return {}
        table = topic_configs.table()
        valid, parsed = {}, {}
        for name, item in config.items():
            item_key = f"{key}:{name}"
            if not isinstance(name, str) or not name or " " in name:
                self.error(item_key, "config keys are non-empty strings without spaces")
                continue
            if not _is_scalar(item):
                self.error(item_key, f"expected a string, number or boolean, got {type(item).__name__}")
                continue
            if name in OWNED_TOPIC_CONFIGS:
                self.error(item_key, f"owned by the formula ({OWNED_TOPIC_CONFIGS[name]}); remove it")
                continue
            number = topic_configs.as_int(item)
            if table is not None:
                number, problem = topic_configs.check(name, item, table)
                if problem:
                    self.error(item_key, problem)
                    continue
            if name == "min.insync.replicas" and replication_factor and is_int(number) and number > replication_factor:
                self.error(item_key, f"{item} is more than the topic's replication factor ({replication_factor})")
                continue
            valid[name], parsed[name] = item, number
        low, high = parsed.get("min.compaction.lag.ms"), parsed.get("max.compaction.lag.ms")
        if is_int(low) and is_int(high) and low > high:
            self.error(f"{key}:min.compaction.lag.ms", f"{low} is more than max.compaction.lag.ms ({high}); "
                                                      "Kafka refuses the topic config")
        return valid

    def acls(self, value):
        """Every ``kafka:acls`` entry parsed and expanded (roles too) as the brokers will, so a bad
        binding is refused here and not at the deploy's last step. The raw list is kept."""
        if not isinstance(value, list):
            self.error("kafka:acls", f"expected a list of ACL bindings, got {type(value).__name__}")
            return []
        try:
            acl.parse_bindings(value, key="kafka:acls")
        except PillarErrors as exc:
            self.errors.extend(exc.errors)
        return list(value)

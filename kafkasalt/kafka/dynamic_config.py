"""Kafka 3.9 dynamic broker configuration rules: which keys can change without a restart.

Kafka documents an "Update Mode" for every broker config ("Updating Broker Configs",
section 3.1.1 of the documentation):

* ``read-only``    - needs a broker restart;
* ``per-broker``   - may be altered dynamically for one broker (AdminClient resource = broker id);
* ``cluster-wide`` - may be altered dynamically as the cluster-wide default (empty resource
  name), and also per broker.

The tables below are data, not code: they list the keys that the generated "Broker Configs"
table of **Kafka 3.9** (``kafka_2.13-3.9.x``, printed by ``kafka.server.KafkaConfig``'s doc
generator) marks ``per-broker`` or ``cluster-wide``; every other key is read-only. Any key we do
not know (typo, plugin key, newer Kafka) is treated as read-only: a restart is the safe choice.

Extra rules from the same Kafka version, applied by :func:`plan_changes`:

* thread pools (``num.network.threads``, ``num.io.threads``, ``num.replica.fetchers``,
  ``num.recovery.threads.per.data.dir``, ``background.threads``, ``log.cleaner.threads``) may only
  be resized dynamically within ``[current // 2, current * 2]``;
* dynamically updated password configs are encrypted with ``password.encoder.secret`` in
  ZooKeeper mode, so without that key they need a restart;
* SSL key/trust store configs (:data:`LISTENER_PREFIX_REQUIRED`) are per-broker dynamic only
  with a ``listener.name.<listener>.`` prefix (see :func:`dynamic_update_keys`).

Nothing here talks to Kafka; the callers apply the plan with the AdminClient
(IncrementalAlterConfigs) or a rolling restart. Keep in mind that a dynamic update is stored in
ZooKeeper (``/configs/brokers/<id>`` or ``<default>``) and keeps overriding ``server.properties``
until it is deleted again; re-sending ``listener.name.<l>.ssl.keystore.location`` with the same
path makes the broker reload a renewed keystore file.

The rules above were checked against a running 3.9.2 broker with ``kafka-configs``: cluster default
``log.cleaner.threads`` accepted; ``ssl.client.auth`` at cluster level refused ("broker id must be
specified"); unprefixed ``ssl.keystore.location`` refused ("only per-listener"); ``num.io.threads``
8 -> 17 refused, 8 -> 16 accepted; ``log.retention.hours`` refused ("Cannot update these configs
dynamically"); ``leader.replication.throttled.rate`` accepted per broker.
"""

import re

KAFKA_VERSION = "3.9"

PER_BROKER = "per-broker"
CLUSTER_WIDE = "cluster-wide"
READ_ONLY = "read-only"

#: Keys whose "Update Mode" is per-broker in Kafka 3.9 (37 keys).
PER_BROKER_KEYS = frozenset(
    {
        "advertised.listeners",
        "listener.security.protocol.map",
        "listeners",
        "principal.builder.class",
        "sasl.enabled.mechanisms",
        "sasl.jaas.config",
        "sasl.kerberos.kinit.cmd",
        "sasl.kerberos.min.time.before.relogin",
        "sasl.kerberos.principal.to.local.rules",
        "sasl.kerberos.service.name",
        "sasl.kerberos.ticket.renew.jitter",
        "sasl.kerberos.ticket.renew.window.factor",
        "sasl.login.refresh.buffer.seconds",
        "sasl.login.refresh.min.period.seconds",
        "sasl.login.refresh.window.factor",
        "sasl.login.refresh.window.jitter",
        "sasl.mechanism.inter.broker.protocol",
        "ssl.cipher.suites",
        "ssl.client.auth",
        "ssl.enabled.protocols",
        "ssl.endpoint.identification.algorithm",
        "ssl.engine.factory.class",
        "ssl.key.password",
        "ssl.keymanager.algorithm",
        "ssl.keystore.certificate.chain",
        "ssl.keystore.key",
        "ssl.keystore.location",
        "ssl.keystore.password",
        "ssl.keystore.type",
        "ssl.protocol",
        "ssl.provider",
        "ssl.secure.random.implementation",
        "ssl.trustmanager.algorithm",
        "ssl.truststore.certificates",
        "ssl.truststore.location",
        "ssl.truststore.password",
        "ssl.truststore.type",
    }
)

#: Keys whose "Update Mode" is cluster-wide in Kafka 3.9 (52 keys). Note that only the
#: millisecond spelling of the log time settings is dynamic: ``log.retention.hours``,
#: ``log.retention.minutes``, ``log.roll.hours`` and ``log.roll.jitter.hours`` are read-only.
CLUSTER_WIDE_KEYS = frozenset(
    {
        "background.threads",
        "compression.gzip.level",
        "compression.lz4.level",
        "compression.type",
        "compression.zstd.level",
        "log.cleaner.backoff.ms",
        "log.cleaner.dedupe.buffer.size",
        "log.cleaner.delete.retention.ms",
        "log.cleaner.io.buffer.load.factor",
        "log.cleaner.io.buffer.size",
        "log.cleaner.io.max.bytes.per.second",
        "log.cleaner.max.compaction.lag.ms",
        "log.cleaner.min.cleanable.ratio",
        "log.cleaner.min.compaction.lag.ms",
        "log.cleaner.threads",
        "log.cleanup.policy",
        "log.flush.interval.messages",
        "log.flush.interval.ms",
        "log.index.interval.bytes",
        "log.index.size.max.bytes",
        "log.local.retention.bytes",
        "log.local.retention.ms",
        "log.message.downconversion.enable",
        "log.message.timestamp.after.max.ms",
        "log.message.timestamp.before.max.ms",
        "log.message.timestamp.difference.max.ms",
        "log.message.timestamp.type",
        "log.preallocate",
        "log.retention.bytes",
        "log.retention.ms",
        "log.roll.jitter.ms",
        "log.roll.ms",
        "log.segment.bytes",
        "log.segment.delete.delay.ms",
        "max.connection.creation.rate",
        "max.connections",
        "max.connections.per.ip",
        "max.connections.per.ip.overrides",
        "message.max.bytes",
        "metric.reporters",
        "min.insync.replicas",
        "num.io.threads",
        "num.network.threads",
        "num.recovery.threads.per.data.dir",
        "num.replica.fetchers",
        "producer.id.expiration.ms",
        "remote.fetch.max.wait.ms",
        "remote.log.index.file.cache.total.size.bytes",
        "remote.log.manager.copy.max.bytes.per.second",
        "remote.log.manager.fetch.max.bytes.per.second",
        "transaction.partition.verification.enable",
        "unclean.leader.election.enable",
    }
)

#: Broker-level dynamic configs that are not ``server.properties`` keys at all (Kafka's
#: ``DynamicConfig.Broker``): replication throttles and the alter-log-dirs throttle. Brokers
#: read them only from their own per-broker entity.
DYNAMIC_ONLY_PER_BROKER_KEYS = frozenset(
    {
        "leader.replication.throttled.rate",
        "follower.replication.throttled.rate",
        "replica.alter.log.dirs.io.max.bytes.per.second",
    }
)

#: Listener configs that stay cluster-wide even with a ``listener.name.<l>.`` prefix.
CLUSTER_LEVEL_LISTENER_KEYS = frozenset(
    {"max.connections", "max.connection.creation.rate", "num.network.threads"}
)

#: SASL configs that are prefixed with the mechanism as well, e.g.
#: ``listener.name.client.scram-sha-512.sasl.jaas.config``.
LISTENER_MECHANISM_KEYS = frozenset(
    {
        "sasl.jaas.config",
        "sasl.login.callback.handler.class",
        "sasl.login.class",
        "sasl.server.callback.handler.class",
        "connections.max.reauth.ms",
    }
)

#: SSL store configs that Kafka accepts dynamically only with the listener prefix
#: ("These security configs can be dynamically updated only per-listener").
LISTENER_PREFIX_REQUIRED = frozenset(
    {
        "ssl.keystore.type",
        "ssl.keystore.location",
        "ssl.keystore.password",
        "ssl.key.password",
        "ssl.keystore.key",
        "ssl.keystore.certificate.chain",
        "ssl.truststore.type",
        "ssl.truststore.location",
        "ssl.truststore.password",
        "ssl.truststore.certificates",
    }
)

#: Thread pools and their Kafka 3.9 defaults (the "current" size when the key is unset).
THREAD_POOL_DEFAULTS = {
    "num.network.threads": 3,
    "num.io.threads": 8,
    "num.replica.fetchers": 1,
    "num.recovery.threads.per.data.dir": 1,
    "background.threads": 10,
    "log.cleaner.threads": 1,
}

#: Keys of Kafka type "password" in 3.9: never shown, and dynamic only with an encoder secret.
PASSWORD_KEYS = frozenset(
    {
        "delegation.token.master.key",
        "delegation.token.secret.key",
        "password.encoder.old.secret",
        "password.encoder.secret",
        "sasl.jaas.config",
        "ssl.key.password",
        "ssl.keystore.certificate.chain",
        "ssl.keystore.key",
        "ssl.keystore.password",
        "ssl.truststore.certificates",
        "ssl.truststore.password",
        "zookeeper.ssl.keystore.password",
        "zookeeper.ssl.truststore.password",
    }
)

REDACTED = "<redacted>"

_LISTENER_PREFIX = re.compile(r"^listener\.name\.([^.]+)\.(.+)$")


def split_listener_prefix(key):
    """Split ``listener.name.<listener>.<config>`` into ``(listener, base_key)``.

    The mechanism prefix of SASL mechanism configs is dropped too, so
    ``listener.name.client.scram-sha-512.sasl.jaas.config`` gives ``("client", "sasl.jaas.config")``.
    Keys without the prefix give ``(None, key)``.
    """
    match = _LISTENER_PREFIX.match(key)
    if not match:
        return None, key
    listener, rest = match.groups()
    for mechanism_key in LISTENER_MECHANISM_KEYS:
        if rest.endswith("." + mechanism_key):
            return listener, mechanism_key
    return listener, rest


# Security configs of a listener that already exists: Kafka 3.9 re-reads only the key and trust
# stores (and a listener's SASL JAAS config) live; every other ssl.* / sasl.* value of an existing
# listener is refused with "Configs cannot be updated dynamically for existing listener" (seen on
# 3.9.2 for ssl.client.auth), so the formula changes those by rolling restart.
EXISTING_LISTENER_RECONFIGURABLE = frozenset({
    "ssl.keystore.type", "ssl.keystore.location", "ssl.keystore.password", "ssl.key.password",
    "ssl.keystore.key", "ssl.keystore.certificate.chain", "ssl.truststore.type",
    "ssl.truststore.location", "ssl.truststore.password", "ssl.truststore.certificates",
    "sasl.jaas.config",
})


def static_for_existing_listeners(key):
    """True for a listener security key that an existing listener cannot take live."""
    _, base = split_listener_prefix(key)
    return base.startswith(("ssl.", "sasl.")) and base not in EXISTING_LISTENER_RECONFIGURABLE


def classify(key):
    """Return Kafka 3.9's update mode of a broker config key.

    ``"per-broker"``, ``"cluster-wide"`` or ``"read-only"``; unknown keys are ``"read-only"``
    (restart), the safe choice. Listener-prefixed keys are per-broker unless their base key is one
    of :data:`CLUSTER_LEVEL_LISTENER_KEYS`, and read-only if the base key is not dynamic at all.
    """
    if not isinstance(key, str):
        raise TypeError(f"config key must be a string, got {type(key).__name__}")
    listener, base = split_listener_prefix(key)
    if listener is not None:
        if base in CLUSTER_LEVEL_LISTENER_KEYS:
            return CLUSTER_WIDE
        if base in PER_BROKER_KEYS or base in CLUSTER_WIDE_KEYS:
            return PER_BROKER
        return READ_ONLY
    if key in PER_BROKER_KEYS or key in DYNAMIC_ONLY_PER_BROKER_KEYS:
        return PER_BROKER
    if key in CLUSTER_WIDE_KEYS:
        return CLUSTER_WIDE
    return READ_ONLY


def is_dynamic(key):
    """True when the key can change without a broker restart (per-broker or cluster-wide)."""
    return classify(key) != READ_ONLY


def requires_listener_prefix(key):
    """True for SSL store keys that Kafka updates dynamically only as ``listener.name.<l>.<key>``."""
    return key in LISTENER_PREFIX_REQUIRED


def dynamic_update_keys(key, listener_names):
    """Names to send in an IncrementalAlterConfigs request for a changed ``server.properties`` key.

    SSL store keys must be sent once per listener with the listener prefix (listener names are
    lower-cased, as Kafka does); every other key is sent as is. ``listener_names`` are the
    listeners using TLS whose stores changed.
    """
    if requires_listener_prefix(key):
        names = sorted({name.lower() for name in listener_names})
        if not names:
            raise ValueError(f"'{key}' can only be updated dynamically per listener; no listener given")
        return [f"listener.name.{name}.{key}" for name in names]
    return [key]


def normalize_value(value):
    """Render a config value the way ``server.properties`` stores it (booleans lower-case)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(normalize_value(item) for item in value)
    return str(value).strip()


def redact(config):
    """Copy of ``config`` with the values of password-type keys replaced by ``<redacted>``.

    Use it before putting a config (or a :func:`plan_changes` result) into logs or Salt
    ``changes``; passwords must never leave the process that applies them.
    """
    redacted = {}
    for key, value in config.items():
        if isinstance(value, dict) and set(value) <= {"old", "new"}:
            redacted[key] = {k: (REDACTED if v is not None and _is_password_key(key) else v) for k, v in value.items()}
        elif _is_password_key(key) and value is not None:
            redacted[key] = REDACTED
        else:
            redacted[key] = value
    return redacted


def redact_plan(plan):
    """Copy of a :func:`plan_changes` result with password values redacted (safe for ``changes``)."""
    redacted = dict(plan)
    for section in ("dynamic_per_broker", "dynamic_cluster", "static", "removed"):
        redacted[section] = redact(plan.get(section, {}))
    return redacted


def _is_password_key(key):
    _listener, base = split_listener_prefix(key)
    return base in PASSWORD_KEYS or "password" in key


def _thread_pool_resize_problem(key, old_value, new_value):
    """Why a thread pool resize needs a restart, or None when Kafka accepts it dynamically."""
    try:
        new_size = int(new_value)
        old_size = int(old_value) if old_value is not None else THREAD_POOL_DEFAULTS[key]
    except (TypeError, ValueError):
        return f"{key}: not an integer, Kafka would refuse the dynamic update"
    if new_size < 1:
        return f"{key}: must be at least 1"
    if new_size < old_size // 2:
        return f"{key}: {old_size} -> {new_size} shrinks below half the current size"
    if new_size > old_size * 2:
        return f"{key}: {old_size} -> {new_size} grows beyond double the current size"
    return None


def plan_changes(old, new, treat_as_static=()):
    """Sort the differences between two broker configs by how Kafka 3.9 can apply them.

    ``old`` and ``new`` are ``key -> value`` dicts of one broker's static configuration (for
    example two results of :func:`kafkasalt.kafka.render.broker_effective_config`). Values are compared
    as ``server.properties`` strings. Returns::

        {
          "dynamic_per_broker": {key: {"old": o, "new": n}},   # alter on this broker's entity
          "dynamic_cluster":    {key: {"old": o, "new": n}},   # alter as cluster default (or per broker)
          "static":             {key: {"old": o, "new": n}},   # needs a restart
          "removed":            {key: {"old": o, "new": None}},# needs a restart (back to the default)
          "restart_needed": bool,
          "reasons": {key: why it is static},                  # only for keys a dynamic update cannot do
        }

    ``old`` is ``None`` for added keys. A key in ``treat_as_static`` is always planned as static
    (e.g. keys the formula prefers to change by rolling restart, such as ``listeners``).
    Values are returned unredacted because the caller applies them; pass the result through
    :func:`redact` before showing it.
    """
    old_values = {key: normalize_value(value) for key, value in (old or {}).items()}
    new_values = {key: normalize_value(value) for key, value in (new or {}).items()}
    forced_static = set(treat_as_static)
    encoder_secret_set = bool(new_values.get("password.encoder.secret"))

    plan = {
        "dynamic_per_broker": {},
        "dynamic_cluster": {},
        "static": {},
        "removed": {},
        "restart_needed": False,
        "reasons": {},
    }
    for key in sorted(set(old_values) | set(new_values)):
        before, after = old_values.get(key), new_values.get(key)
        if before == after:
            continue
        if after is None:
            plan["removed"][key] = {"old": before, "new": None}
            plan["reasons"][key] = "removed keys go back to Kafka's default only after a restart"
            continue
        change = {"old": before, "new": after}
        mode = classify(key)
        reason = None
        if key in forced_static:
            reason = "planned as static by the caller"
        elif mode == READ_ONLY:
            reason = "read-only in Kafka 3.9"
        else:
            _listener, base = split_listener_prefix(key)
            if base in THREAD_POOL_DEFAULTS:
                reason = _thread_pool_resize_problem(base, before, after)
            elif base in PASSWORD_KEYS and not encoder_secret_set:
                reason = "dynamic password configs need password.encoder.secret in ZooKeeper mode"
        if reason:
            plan["static"][key] = change
            plan["reasons"][key] = reason
        elif mode == PER_BROKER:
            plan["dynamic_per_broker"][key] = change
        else:
            plan["dynamic_cluster"][key] = change
    plan["restart_needed"] = bool(plan["static"] or plan["removed"])
    return plan

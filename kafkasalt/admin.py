"""The Kafka admin layer: topics, configs, cluster health, groups, SCRAM users, ACLs, reassignments.

Pure Python on kafka-python 3.0.x's ``KafkaAdminClient``; Salt's loader modules wrap it thinly.
One :class:`KafkaAdmin` holds one client (connected lazily on first use, closed by
:meth:`KafkaAdmin.close` or on leaving a ``with`` block).

Conventions:

- Every failure raises :class:`KafkaAdminError` with a message a person can act on
  ("authentication failed for user 'admin'", "cannot reach any bootstrap server: ..."). Bad
  arguments raise :class:`KafkaInputError` (also a ``ValueError``) whose message starts with the
  argument's name. No message, log line or ``repr`` carries the password.
- Results are plain dicts/lists of JSON-friendly values (Salt serialises them), sorted so that
  two calls on an unchanged cluster compare equal.
- Mutating calls are idempotent and return what they changed (empty when nothing was to do);
  most take ``dry_run=True`` to compute that without applying it (Salt's ``test=True``).

A few requests are built from kafka-python's protocol classes and sent through the client's
connection manager (``_manager``) because its high-level helpers either hide per-resource error
codes (DescribeConfigs of a missing topic looks like a topic without overrides) or cannot address
the cluster-wide default broker resource (empty name). Those spots are marked "raw request"; they
are tied to kafka-python 3.0.x, which the requirements must pin.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections import defaultdict

from kafkasalt import acl as acl_model
from kafkasalt import scram
from kafkasalt.common.errors import PillarErrors

log = logging.getLogger(__name__)

__all__ = [
    "BROKER_THROTTLE_KEYS",
    "ConnectionSettings",
    "INTERNAL_TOPICS",
    "KafkaAdmin",
    "KafkaAdminError",
    "KafkaInputError",
    "TOPIC_THROTTLE_KEYS",
]

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN")
INTERNAL_TOPICS = ("__consumer_offsets", "__transaction_state")
CONFIG_OPERATIONS = ("SET", "DELETE", "APPEND", "SUBTRACT")

LEADER_THROTTLED_RATE = "leader.replication.throttled.rate"
FOLLOWER_THROTTLED_RATE = "follower.replication.throttled.rate"
LOG_DIR_THROTTLED_RATE = "replica.alter.log.dirs.io.max.bytes.per.second"
LEADER_THROTTLED_REPLICAS = "leader.replication.throttled.replicas"
FOLLOWER_THROTTLED_REPLICAS = "follower.replication.throttled.replicas"
#: Broker-level throttle keys that ``kafka-reassign-partitions.sh --verify`` removes when done.
BROKER_THROTTLE_KEYS = (LEADER_THROTTLED_RATE, FOLLOWER_THROTTLED_RATE, LOG_DIR_THROTTLED_RATE)
#: Topic-level throttle keys (lists of ``partition:broker``).
TOPIC_THROTTLE_KEYS = (LEADER_THROTTLED_REPLICAS, FOLLOWER_THROTTLED_REPLICAS)
MIN_INSYNC_REPLICAS = "min.insync.replicas"

# Kafka's topic name rules (org.apache.kafka.common.internals.Topic).
_TOPIC_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")
_MAX_TOPIC_NAME_LENGTH = 249
# Protocol error codes we interpret instead of raising.
_NO_ERROR = 0
_UNKNOWN_TOPIC_OR_PARTITION = 3
_TOPIC_AUTHORIZATION_FAILED = 29
_TOPIC_ALREADY_EXISTS = 36
_ELECTION_NOT_NEEDED = 84
# ConfigSource values of DescribeConfigs (KIP-226).
_SOURCE_DYNAMIC_TOPIC = 1
_SOURCE_DYNAMIC_BROKER = 2
_SOURCE_DYNAMIC_DEFAULT_BROKER = 3
# How long a call waits for every broker to apply its change (metadata, configs, ACLs).
_TOPIC_READY_TIMEOUT_MS = 30000


class KafkaAdminError(RuntimeError):
    """An admin operation failed; the message says what, and never holds a password."""


class KafkaInputError(KafkaAdminError, ValueError):
    """A bad argument; ``argument`` names it and the message starts with it."""

    def __init__(self, argument, problem):
        self.argument = argument
        self.problem = problem
        super().__init__(f"{argument}: {problem}")


class _RedactSecrets(logging.Filter):
    """Keep secrets out of kafka-python's DEBUG logs.

    kafka-python logs its whole configuration (password included) when a client starts, and
    every request, as an object and as raw bytes. Two requests carry secrets: SaslAuthenticate
    (the password itself with PLAIN) and AlterUserScramCredentials (the salted password, which is
    enough to log in with SCRAM). This filter rewrites those records; everything else passes.
    """

    SECRET_API_KEYS = (36, 51)  # SaslAuthenticate, AlterUserScramCredentials
    SECRET_REQUESTS = ("SaslAuthenticateRequest", "SaslBytesRequest", "AlterUserScramCredentialsRequest")

    def filter(self, record):
        if isinstance(record.args, dict):
            record.args = self._redact(record.args)
        elif isinstance(record.args, tuple):
            record.args = tuple(self._redact(arg) for arg in record.args)
        return True

    def _redact(self, value):
        if isinstance(value, dict) and "sasl_plain_password" in value:
            return {**value, "sasl_plain_password": "***"}
        if type(value).__name__ in self.SECRET_REQUESTS:
            return f"{type(value).__name__}(<redacted>)"
        if isinstance(value, (bytes, bytearray)) and self._frames_carry_secrets(value):
            return "<redacted request bytes>"
        return value

    def _frames_carry_secrets(self, data):
        # Framed requests: int32 size, then the header starting with the int16 api key.
        position = 0
        while position + 6 <= len(data):
            size = int.from_bytes(data[position:position + 4], "big")
            if int.from_bytes(data[position + 4:position + 6], "big") in self.SECRET_API_KEYS:
                return True
            position += 4 + size
        return False


_REDACT_FILTER = _RedactSecrets()
for _logger_name in ("kafka.admin.client", "kafka.protocol.parser", "kafka.net.connection"):
    logging.getLogger(_logger_name).addFilter(_REDACT_FILTER)


# --------------------------------------------------------------------------- argument checks
def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _require_int(argument, value, minimum=None):
    if not _is_int(value):
        raise KafkaInputError(argument, f"must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise KafkaInputError(argument, f"must be >= {minimum}, got {value}")
    return value


def _require_topic_name(name, argument="name"):
    if not isinstance(name, str) or not name:
        raise KafkaInputError(argument, f"must be a non-empty topic name, got {name!r}")
    if name in (".", "..") or len(name) > _MAX_TOPIC_NAME_LENGTH or not _TOPIC_NAME.match(name):
        raise KafkaInputError(argument, f"{name!r} is not a legal topic name (letters, digits, '.', '_', '-'; "
                                        f"at most {_MAX_TOPIC_NAME_LENGTH} characters; not '.' or '..')")
    return name


def _config_value(argument, key, value):
    """Kafka config values travel as strings; render Python values the way Kafka spells them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, (list, tuple)) and all(isinstance(item, (str, int, float)) for item in value):
        return ",".join(str(item) for item in value)
    raise KafkaInputError(f"{argument}[{key!r}]", f"must be a string, number, boolean or list, got "
                                                  f"{type(value).__name__}")


def _require_config_map(argument, configs):
    if configs is None:
        return {}
    if not isinstance(configs, dict):
        raise KafkaInputError(argument, f"must be a mapping of config key to value, got {type(configs).__name__}")
    rendered = {}
    for key, value in configs.items():
        if not isinstance(key, str) or not key.strip():
            raise KafkaInputError(argument, f"config keys must be non-empty strings, got {key!r}")
        if value is None:
            raise KafkaInputError(f"{argument}[{key!r}]", "is None; list the key in delete_keys to remove it")
        rendered[key] = _config_value(argument, key, value)
    return rendered


def _require_key_list(argument, keys):
    if keys is None:
        return []
    if isinstance(keys, str) or not isinstance(keys, (list, tuple, set, frozenset)):
        raise KafkaInputError(argument, f"must be a list of config keys, got {type(keys).__name__}")
    for key in keys:
        if not isinstance(key, str) or not key.strip():
            raise KafkaInputError(argument, f"config keys must be non-empty strings, got {key!r}")
    return sorted(set(keys))


def _broker_resource_name(broker_id, argument="broker_id"):
    """Broker config resource name: the id as text, or '' for the cluster-wide default."""
    if broker_id is None or broker_id == "":
        return ""
    if isinstance(broker_id, str) and broker_id.isdigit():
        broker_id = int(broker_id)
    _require_int(argument, broker_id, minimum=0)
    return str(broker_id)


def _normalize_partition_key(argument, key):
    if isinstance(key, (tuple, list)) and len(key) == 2:
        topic, partition = key
    elif hasattr(key, "topic") and hasattr(key, "partition"):  # kafka.TopicPartition
        topic, partition = key.topic, key.partition
    else:
        raise KafkaInputError(argument, f"partitions are (topic, partition) pairs, got {key!r}")
    _require_topic_name(topic, argument)
    _require_int(argument, partition, minimum=0)
    return topic, partition


def _normalize_plan(plan, argument="plan"):
    """{(topic, partition): [broker ids]} from that form, a list of {topic, partition, replicas}
    dicts, or the ``{"version": 1, "partitions": [...]}`` document of kafka-reassign-partitions."""
    if isinstance(plan, dict) and "partitions" in plan and isinstance(plan["partitions"], list):
        plan = plan["partitions"]
    entries = []
    if isinstance(plan, dict):
        entries = list(plan.items())
    elif isinstance(plan, list):
        for index, entry in enumerate(plan):
            if not isinstance(entry, dict) or not {"topic", "partition", "replicas"} <= set(entry):
                raise KafkaInputError(f"{argument}[{index}]", "must be a mapping with topic, partition and replicas")
            entries.append(((entry["topic"], entry["partition"]), entry["replicas"]))
    else:
        raise KafkaInputError(argument, f"must map (topic, partition) to a list of broker ids, "
                                        f"got {type(plan).__name__}")
    if not entries:
        raise KafkaInputError(argument, "is empty")
    normalized = {}
    for key, replicas in entries:
        topic_partition = _normalize_partition_key(argument, key)
        label = f"{argument}[{topic_partition[0]}-{topic_partition[1]}]"
        if topic_partition in normalized:
            raise KafkaInputError(label, "appears twice")
        if isinstance(replicas, (str, bytes)) or not isinstance(replicas, (list, tuple)) or not replicas:
            raise KafkaInputError(label, f"must be a non-empty list of broker ids, got {replicas!r}")
        for broker in replicas:
            _require_int(label, broker, minimum=0)
        if len(set(replicas)) != len(replicas):
            raise KafkaInputError(label, f"lists a broker twice: {list(replicas)}")
        normalized[topic_partition] = list(replicas)
    return normalized


def _normalize_assignment(assignment, argument="replica_assignment"):
    """{partition: [broker ids]} from a list (index = partition) or a mapping; partitions 0..n-1."""
    if isinstance(assignment, (list, tuple)):
        assignment = dict(enumerate(assignment))
    if not isinstance(assignment, dict) or not assignment:
        raise KafkaInputError(argument, "must be a non-empty list of broker lists (one per partition)")
    normalized = {}
    for partition, replicas in assignment.items():
        if isinstance(partition, str) and partition.isdigit():
            partition = int(partition)
        _require_int(argument, partition, minimum=0)
        label = f"{argument}[{partition}]"
        if isinstance(replicas, (str, bytes)) or not isinstance(replicas, (list, tuple)) or not replicas:
            raise KafkaInputError(label, f"must be a non-empty list of broker ids, got {replicas!r}")
        for broker in replicas:
            _require_int(label, broker, minimum=0)
        if len(set(replicas)) != len(replicas):
            raise KafkaInputError(label, f"lists a broker twice: {list(replicas)}")
        normalized[partition] = list(replicas)
    if sorted(normalized) != list(range(len(normalized))):
        raise KafkaInputError(argument, f"partitions must be numbered 0..{len(normalized) - 1}, "
                                        f"got {sorted(normalized)}")
    return dict(sorted(normalized.items()))


def _normalize_partition_list(argument, partitions):
    if isinstance(partitions, dict):
        partitions = list(partitions)
    if isinstance(partitions, (str, bytes)) or not isinstance(partitions, (list, tuple, set)):
        raise KafkaInputError(argument, f"must be a list of (topic, partition) pairs, got {type(partitions).__name__}")
    return sorted({_normalize_partition_key(argument, item) for item in partitions})


def _partition_label(topic, partition):
    return f"{topic}-{partition}"


def _mechanism_name(mechanism):
    """kafka-python's ScramMechanism enum -> Kafka's spelling (SCRAM-SHA-512)."""
    return mechanism.name.replace("_", "-")


# --------------------------------------------------------------------------- connection
@dataclasses.dataclass
class ConnectionSettings:
    """How to reach and authenticate to the cluster. The password never appears in ``repr``.

    ``bootstrap_servers`` is a list of ``host:port`` (a comma-separated string is accepted).
    ``cert_file``/``key_file`` (both or neither) add a client certificate for mTLS listeners.
    ``bootstrap_timeout_ms`` bounds how long connecting may take before the servers are
    declared unreachable.
    """

    bootstrap_servers: list
    security_protocol: str = "SASL_SSL"
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = dataclasses.field(default=None, repr=False)
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    client_id: str = "kafkasalt"
    request_timeout_ms: int = 30000
    bootstrap_timeout_ms: int = 15000

    def __post_init__(self):
        servers = self.bootstrap_servers
        if isinstance(servers, str):
            servers = [part.strip() for part in servers.split(",") if part.strip()]
        if not isinstance(servers, (list, tuple)) or not servers:
            raise KafkaInputError("bootstrap_servers", "must be a non-empty list of 'host:port'")
        for server in servers:
            host, sep, port = str(server).rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise KafkaInputError("bootstrap_servers", f"entries must look like 'host:port', got {server!r}")
        self.bootstrap_servers = [str(server) for server in servers]
        protocol = str(self.security_protocol).upper()
        if protocol not in SECURITY_PROTOCOLS:
            raise KafkaInputError("security_protocol", f"must be one of {', '.join(SECURITY_PROTOCOLS)}, "
                                                       f"got {self.security_protocol!r}")
        self.security_protocol = protocol
        if protocol.startswith("SASL_"):
            mechanism = str(self.sasl_mechanism).upper()
            if mechanism not in SASL_MECHANISMS:
                raise KafkaInputError("sasl_mechanism", f"must be one of {', '.join(SASL_MECHANISMS)}, "
                                                        f"got {self.sasl_mechanism!r}")
            self.sasl_mechanism = mechanism
            if not isinstance(self.username, str) or not self.username:
                raise KafkaInputError("username", f"is required with {protocol}")
            if not isinstance(self.password, str) or not self.password:
                raise KafkaInputError("password", f"is required with {protocol}")  # never echo it
        if bool(self.cert_file) != bool(self.key_file):
            raise KafkaInputError("cert_file", "cert_file and key_file must be given together (mTLS)")
        _require_int("request_timeout_ms", self.request_timeout_ms, minimum=1)
        _require_int("bootstrap_timeout_ms", self.bootstrap_timeout_ms, minimum=1)

    @property
    def uses_sasl(self):
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self):
        return self.security_protocol in ("SSL", "SASL_SSL")

    def client_config(self):
        """Keyword arguments for kafka-python clients (they hold the password: never log them)."""
        config = {
            "bootstrap_servers": list(self.bootstrap_servers),
            "security_protocol": self.security_protocol,
            "client_id": self.client_id,
            "request_timeout_ms": self.request_timeout_ms,
        }
        if self.uses_sasl:
            config.update(sasl_mechanism=self.sasl_mechanism, sasl_plain_username=self.username,
                          sasl_plain_password=self.password)
        if self.uses_tls:
            config.update(ssl_cafile=self.ca_file, ssl_check_hostname=True)
            if self.cert_file:
                config.update(ssl_certfile=self.cert_file, ssl_keyfile=self.key_file)
        return config

    def scrub(self, text):
        """``text`` with the password (if any) masked: for messages built from foreign exceptions."""
        text = str(text)
        if self.password and len(self.password) >= 3:
            text = text.replace(self.password, "***")
        return text


# --------------------------------------------------------------------------- the admin
class KafkaAdmin:
    """Admin operations on one cluster through one kafka-python ``KafkaAdminClient``.

    The connection opens on the first call (so :meth:`health` can report an unreachable cluster
    instead of raising) and closes on :meth:`close` or when a ``with`` block ends.
    """

    def __init__(self, settings):
        if not isinstance(settings, ConnectionSettings):
            raise KafkaInputError("settings", f"must be ConnectionSettings, got {type(settings).__name__}")
        self.settings = settings
        self._client = None

    def __repr__(self):
        return f"KafkaAdmin({', '.join(self.settings.bootstrap_servers)} as {self.settings.username or 'anonymous'})"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # ----------------------------------------------------------------- plumbing
    def connect(self):
        """Open the connection now (normally implicit); raises KafkaAdminError if it cannot."""
        if self._client is not None:
            return self._client
        from kafka.admin import KafkaAdminClient  # imported lazily: only hosts that administer Kafka need it
        from kafka.net.compat import KafkaNetClient

        watch = _BootstrapWatch()

        def network_client(**configs):
            client = KafkaNetClient(**configs)
            watch.install(client)
            return client

        config = self.settings.client_config()
        config.update(bootstrap_timeout_ms=self.settings.bootstrap_timeout_ms, kafka_client=network_client)
        try:
            self._client = KafkaAdminClient(**config)
        except Exception as exc:  # noqa: BLE001 - every failure becomes one clear error
            # A failed bootstrap leaves kafka-python's IO thread running: stop it.
            for client in watch.clients:
                _close_quietly(client)
            raise self._connection_error(exc, watch) from None
        finally:
            watch.active = False
        return self._client

    def close(self):
        """Close the connection (idempotent)."""
        client, self._client = self._client, None
        if client is not None:
            _close_quietly(client)

    def _connection_error(self, exc, watch):
        from kafka import errors

        servers = ", ".join(self.settings.bootstrap_servers)
        auth_error = watch.auth_error
        if isinstance(exc, errors.SaslAuthenticationFailedError):
            auth_error = exc
        if isinstance(auth_error, errors.UnsupportedSaslMechanismError):
            return KafkaAdminError(f"the brokers at {servers} do not accept SASL mechanism "
                                   f"{self.settings.sasl_mechanism}")
        if auth_error is not None:
            return KafkaAdminError(f"authentication failed for user '{self.settings.username}' "
                                   f"({self.settings.sasl_mechanism}) at {servers}: wrong password, unknown user, "
                                   f"or {self.settings.sasl_mechanism} not enabled on this listener")
        if isinstance(exc, (errors.KafkaTimeoutError, errors.KafkaConnectionError,
                            OSError)):
            detail = f"; last error: {self.settings.scrub(watch.last_error)}" if watch.last_error else ""
            return KafkaAdminError(f"cannot reach any bootstrap server ({servers}) within "
                                   f"{self.settings.bootstrap_timeout_ms} ms{detail}")
        return KafkaAdminError(f"cannot connect to {servers}: {type(exc).__name__}: {self.settings.scrub(exc)}")

    def _call(self, what, function, *args, **kwargs):
        """Run a kafka-python call; turn its exceptions into KafkaAdminError naming ``what``."""
        client = self.connect()
        try:
            return function(client, *args, **kwargs)
        except KafkaAdminError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._operation_error(what, exc) from None

    def _operation_error(self, what, exc):
        from kafka import errors

        if isinstance(exc, errors.SaslAuthenticationFailedError):
            return KafkaAdminError(f"{what}: authentication failed for user '{self.settings.username}'")
        if isinstance(exc, errors.AuthorizationError):
            return KafkaAdminError(f"{what}: user '{self.settings.username}' is not authorized "
                                   f"({type(exc).__name__})")
        if isinstance(exc, errors.SecurityDisabledError):
            return KafkaAdminError(f"{what}: the cluster has no authorizer configured")
        if isinstance(exc, (errors.KafkaTimeoutError, errors.NodeNotReadyError, errors.KafkaConnectionError)):
            return KafkaAdminError(f"{what}: broker unreachable or too slow ({type(exc).__name__}: "
                                   f"{self.settings.scrub(exc)})")
        detail = self.settings.scrub(exc)
        return KafkaAdminError(f"{what}: {type(exc).__name__}" + (f": {detail}" if detail else ""))

    def _protocol_error(self, what, error_code, message=None):
        from kafka import errors

        error = errors.for_code(error_code)
        text = f"{what}: {error.__name__}"
        if message:
            text += f": {self.settings.scrub(message)}"
        elif getattr(error, "description", None):
            text += f" ({error.description})"
        return KafkaAdminError(text)

    def _send(self, what, request, node_id=None):
        """Raw request: send a protocol request (to ``node_id`` or any broker), return the response."""
        return self._call(what, lambda client: client._manager.run(client._manager.send, request, node_id))

    def _send_to_controller(self, what, request, error_codes):
        """Raw request to the active controller; ``error_codes(response)`` lists the response's error
        codes so that a NOT_CONTROLLER answer is retried once on the new controller. The caller
        checks the codes itself."""
        from kafka import errors

        def error_types(response):
            return [errors.for_code(code) for code in error_codes(response)]

        return self._call(what, lambda client: client._manager.run(
            client._send_request_to_controller, request, error_types, False))

    # ----------------------------------------------------------------- metadata
    def _metadata(self, topics=None, node_id=None):
        """Raw request: one Metadata request without authorized-operation lookups (fast)."""
        from kafka.protocol.metadata import MetadataRequest

        request = MetadataRequest(topics=None if topics is None else [MetadataRequest.MetadataRequestTopic(name=t)
                                                                      for t in topics],
                                  allow_auto_topic_creation=False,
                                  include_cluster_authorized_operations=False,
                                  include_topic_authorized_operations=False)
        return self._send("reading cluster metadata", request, node_id)

    @staticmethod
    def _describe_partitions(topic):
        partitions = [
            {
                "partition": partition.partition_index,
                "leader": partition.leader_id,
                "replicas": list(partition.replica_nodes),
                "isr": list(partition.isr_nodes),
                "offline_replicas": list(partition.offline_replicas or []),
            }
            for partition in topic.partitions
        ]
        partitions.sort(key=lambda item: item["partition"])
        return partitions

    # ----------------------------------------------------------------- topics
    def list_topics(self, include_internal=False):
        """Sorted topic names, from a single Metadata request.

        CLI Example::

            salt kafka1 kafka.list_topics
        """
        response = self._metadata()
        return sorted(topic.name for topic in response.topics
                      if topic.error_code == _NO_ERROR and (include_internal or not topic.is_internal))

    def describe_topics(self, names=None, missing_ok=False):
        """``{name: {"internal", "partitions": [...], "replication_factor"}}``.

        ``names=None`` describes every topic. A named topic that does not exist raises, unless
        ``missing_ok`` (then it is left out).
        """
        if names is not None:
            if isinstance(names, str):
                names = [names]
            names = sorted({_require_topic_name(name, "names") for name in names})
            if not names:
                return {}
        response = self._metadata(names)
        result, missing = {}, []
        for topic in response.topics:
            if topic.error_code == _UNKNOWN_TOPIC_OR_PARTITION:
                missing.append(topic.name)
                continue
            if topic.error_code == _TOPIC_AUTHORIZATION_FAILED:
                raise KafkaAdminError(f"describing topic '{topic.name}': user '{self.settings.username}' "
                                      f"is not authorized")
            if topic.error_code != _NO_ERROR:
                raise self._protocol_error(f"describing topic '{topic.name}'", topic.error_code)
            partitions = self._describe_partitions(topic)
            result[topic.name] = {
                "internal": bool(topic.is_internal),
                "partitions": partitions,
                "replication_factor": max((len(p["replicas"]) for p in partitions), default=0),
            }
        if missing and not missing_ok:
            names = ", ".join(f"'{name}'" for name in sorted(missing))
            raise KafkaAdminError(f"topic {names} does not exist" if len(missing) == 1 else
                                  f"topics {names} do not exist")
        return dict(sorted(result.items()))

    def create_topic(self, name, partitions, replication_factor, config=None, replica_assignment=None,
                     dry_run=False):
        """Create a topic and wait until every broker knows it with a leader per partition.
        Returns its description.

        ``replica_assignment`` (optional) places the replicas explicitly: a list with one broker
        list per partition (or ``{partition: [brokers]}``); ``partitions`` and
        ``replication_factor`` must then match it (or be None).

        CLI Example::

            salt kafka1 kafka.create_topic orders partitions=6 replication_factor=3 config='{retention.ms: 86400000}'
        """
        _require_topic_name(name)
        configs = _require_config_map("config", config)
        assignments = None
        if replica_assignment is not None:
            assignments = _normalize_assignment(replica_assignment)
            sizes = {len(replicas) for replicas in assignments.values()}
            if len(sizes) != 1:
                raise KafkaInputError("replica_assignment", "every partition needs the same number of replicas")
            if partitions is None:
                partitions = len(assignments)
            if replication_factor is None:
                replication_factor = sizes.pop()
            elif replication_factor not in sizes:
                raise KafkaInputError("replication_factor", f"{replication_factor} does not match "
                                                            f"replica_assignment ({sizes.pop()} replicas each)")
            if partitions != len(assignments):
                raise KafkaInputError("partitions", f"{partitions} does not match replica_assignment "
                                                    f"({len(assignments)} partitions)")
        _require_int("partitions", partitions, minimum=1)
        _require_int("replication_factor", replication_factor, minimum=1)
        brokers = {broker["id"] for broker in self.describe_cluster()["brokers"]}
        if replication_factor > len(brokers):
            raise KafkaInputError("replication_factor", f"{replication_factor} is larger than the number of "
                                                        f"brokers ({len(brokers)})")
        if assignments:
            unknown = sorted({b for replicas in assignments.values() for b in replicas} - brokers)
            if unknown:
                raise KafkaInputError("replica_assignment", f"broker(s) {', '.join(map(str, unknown))} are not in "
                                                            f"the cluster")
        if dry_run:
            if self.describe_topics([name], missing_ok=True):
                raise KafkaAdminError(f"topic '{name}' already exists")
            return {"name": name, "partitions": partitions, "replication_factor": replication_factor,
                    "config": configs}
        spec = {"configs": configs}
        if assignments:  # Kafka wants -1/-1 with an explicit assignment
            spec["assignments"] = assignments
        else:
            spec.update(num_partitions=partitions, replication_factor=replication_factor)
        response = self._call(f"creating topic '{name}'",
                              lambda client: client.create_topics({name: spec}, raise_errors=False))
        for topic in response["topics"]:
            if topic["error_code"] == _TOPIC_ALREADY_EXISTS:
                raise KafkaAdminError(f"topic '{name}' already exists")
            if topic["error_code"] != _NO_ERROR:
                raise self._protocol_error(f"creating topic '{name}'", topic["error_code"], topic.get("error_message"))
        self._wait_for_partitions(name, partitions)
        return self.describe_topics([name])[name]

    def create_topics_batch(self, topics, timeout_ms=None):
        """Create many topics in one CreateTopics request (no waiting for leaders).

        ``topics`` maps name -> ``{"partitions", "replication_factor", "config"?}``. Returns
        ``{name: None | error text}``. Meant for bulk loads (benchmarks, migrations).
        """
        if not isinstance(topics, dict) or not topics:
            raise KafkaInputError("topics", "must be a non-empty mapping of topic name to settings")
        request = {}
        for name, spec in topics.items():
            _require_topic_name(name, "topics")
            spec = spec or {}
            if not isinstance(spec, dict):
                raise KafkaInputError(f"topics[{name!r}]", "must be a mapping (partitions, replication_factor, config)")
            request[name] = {
                "num_partitions": _require_int(f"topics[{name!r}].partitions", spec.get("partitions", 1), 1),
                "replication_factor": _require_int(f"topics[{name!r}].replication_factor",
                                                   spec.get("replication_factor", 1), 1),
                "configs": _require_config_map(f"topics[{name!r}].config", spec.get("config")),
            }
        response = self._call("creating topics", lambda client: client.create_topics(
            request, timeout_ms=timeout_ms, raise_errors=False))
        results = {}
        for topic in response["topics"]:
            error = None
            if topic["error_code"] != _NO_ERROR:
                error = str(self._protocol_error(topic["name"], topic["error_code"], topic.get("error_message")))
            results[topic["name"]] = error
        return results

    def delete_topic(self, name, allow_internal=False, dry_run=False):
        """Delete a topic. Internal topics need ``allow_internal=True``. Returns True.

        Waits until no broker lists the topic any more.

        CLI Example::

            salt kafka1 kafka.delete_topic orders
        """
        _require_topic_name(name)
        if name in INTERNAL_TOPICS and not allow_internal:
            raise KafkaInputError("name", f"'{name}' is an internal Kafka topic; pass allow_internal=True "
                                          f"if you really mean to delete it")
        self.describe_topics([name])  # raises when missing
        if dry_run:
            return True
        response = self._call(f"deleting topic '{name}'",
                              lambda client: client.delete_topics([name], raise_errors=False))
        for topic in response["topics"]:
            if topic["error_code"] != _NO_ERROR:
                raise self._protocol_error(f"deleting topic '{name}'", topic["error_code"], topic.get("error_message"))
        self._wait_on_every_broker(name, lambda topic: topic is None, "gone")
        return True

    def create_partitions(self, name, total, dry_run=False):
        """Grow ``name`` to ``total`` partitions. Returns ``{"old", "new"}``, or ``{}`` if already there.

        CLI Example::

            salt kafka1 kafka.create_partitions orders 12
        """
        _require_topic_name(name)
        _require_int("total", total, minimum=1)
        current = len(self.describe_topics([name])[name]["partitions"])
        if total < current:
            raise KafkaInputError("total", f"topic '{name}' has {current} partitions; Kafka cannot remove "
                                           f"partitions (asked for {total})")
        if total == current:
            return {}
        if not dry_run:
            response = self._call(f"adding partitions to '{name}'",
                                  lambda client: client.create_partitions({name: total}, raise_errors=False))
            for result in response.results:
                if result.error_code != _NO_ERROR:
                    raise self._protocol_error(f"adding partitions to '{name}'", result.error_code,
                                               result.error_message)
            self._wait_for_partitions(name, total)
        return {"old": current, "new": total}

    def _wait_for_partitions(self, name, total):
        """Wait until every broker's metadata shows ``total`` partitions of ``name``, each led."""
        def ready(topic):
            return (topic is not None and topic.error_code == _NO_ERROR and len(topic.partitions) >= total
                    and all(p.leader_id >= 0 for p in topic.partitions))

        self._wait_on_every_broker(name, ready, f"visible with {total} partition(s) and their leaders")

    def _wait_on_every_broker(self, name, condition, wanted, timeout_ms=_TOPIC_READY_TIMEOUT_MS):
        """Each broker learns about topic changes on its own schedule (the controller pushes
        metadata): poll every broker until ``condition(topic metadata or None)`` holds, so that the
        next call reads what this one wrote whichever broker answers it."""
        deadline = time.monotonic() + timeout_ms / 1000
        pending = {broker["id"] for broker in self.describe_cluster()["brokers"]}
        while True:
            for broker_id in sorted(pending):
                try:
                    response = self._metadata([name], node_id=broker_id)
                except KafkaAdminError:
                    continue  # that broker is not reachable right now; keep asking until the deadline
                topic = next((t for t in response.topics if t.name == name and
                              t.error_code != _UNKNOWN_TOPIC_OR_PARTITION), None)
                if condition(topic):
                    pending.discard(broker_id)
            if not pending:
                return
            if time.monotonic() > deadline:
                raise KafkaAdminError(f"topic '{name}' was not {wanted} on broker(s) "
                                      f"{', '.join(map(str, sorted(pending)))} within {timeout_ms} ms")
            time.sleep(0.1)

    # ----------------------------------------------------------------- configs
    def _describe_configs(self, what, resource_type, name, keys=None, node_id=None, missing=None):
        """Raw request: DescribeConfigs of one resource -> ``{key: {"value", "source", ...}}``.

        Unlike kafka-python's describe_configs it raises on the resource's error code (a missing
        topic would otherwise look like a topic without overrides).
        """
        from kafka.admin import ConfigResource

        client = self.connect()
        request = client._describe_configs_request([ConfigResource(resource_type, name, keys)])
        response = self._send(what, request, node_id)
        configs = {}
        for result in response.results:
            if result.error_code == _UNKNOWN_TOPIC_OR_PARTITION and missing:
                raise KafkaAdminError(missing)
            if result.error_code != _NO_ERROR:
                raise self._protocol_error(what, result.error_code, result.error_message)
            for entry in result.configs:
                configs[entry.name] = {"value": entry.value, "source": entry.config_source,
                                       "read_only": entry.read_only, "sensitive": entry.is_sensitive}
        return configs

    def _describe_many_configs(self, what, resource_type, names, keys):
        """Raw request: the same keys of many resources (one request) -> ``{name: {key: value}}``."""
        from kafka.admin import ConfigResource

        if not names:
            return {}
        client = self.connect()
        request = client._describe_configs_request([ConfigResource(resource_type, name, list(keys))
                                                    for name in names])
        response = self._send(what, request)
        values = {}
        for result in response.results:
            if result.error_code != _NO_ERROR:
                continue  # e.g. deleted meanwhile; callers fall back to defaults
            values[result.resource_name] = {entry.name: entry.value for entry in result.configs}
        return values

    def _alter_configs(self, what, resource_type, name, operations, node_id=None):
        """Raw request: IncrementalAlterConfigs ``{key: (op, value)}`` on one resource.

        Topic configs are read from ZooKeeper, so they are visible at once. Broker configs are
        applied by each broker when ZooKeeper notifies it; this waits until the broker(s)
        concerned report the new values, so that the next read sees this write.
        """
        from kafka.admin import ConfigResource

        client = self.connect()
        request = client._alter_configs_request([ConfigResource(resource_type, name, dict(operations))],
                                                validate_only=False, incremental=True)
        response = self._send(what, request, node_id)
        for result in response.responses:
            if result.error_code != _NO_ERROR:
                raise self._protocol_error(what, result.error_code, result.error_message)
        if resource_type == "BROKER":
            self._wait_for_broker_configs(what, name, operations)

    def _wait_for_broker_configs(self, what, resource, operations, timeout_ms=_TOPIC_READY_TIMEOUT_MS):
        source = _SOURCE_DYNAMIC_DEFAULT_BROKER if resource == "" else _SOURCE_DYNAMIC_BROKER
        brokers = [int(resource)] if resource else [b["id"] for b in self.describe_cluster()["brokers"]]
        deadline = time.monotonic() + timeout_ms / 1000
        pending = set(brokers)
        while True:
            for broker_id in sorted(pending):
                configs = self._describe_configs(what, "BROKER", resource, list(operations), node_id=broker_id)
                current = {key: entry["value"] for key, entry in configs.items() if entry["source"] == source}
                if all(_config_applied(current, key, operation, value)
                       for key, (operation, value) in operations.items()):
                    pending.discard(broker_id)
            if not pending:
                return
            if time.monotonic() > deadline:
                raise KafkaAdminError(f"{what}: accepted, but broker(s) {', '.join(map(str, sorted(pending)))} "
                                      f"did not apply it within {timeout_ms} ms")
            time.sleep(0.1)

    def topic_configs(self, name):
        """The topic's overrides (configs whose source is the topic itself): ``{key: value}``.

        CLI Example::

            salt kafka1 kafka.topic_configs orders
        """
        _require_topic_name(name)
        configs = self._describe_configs(f"reading configs of topic '{name}'", "TOPIC", name,
                                         missing=f"topic '{name}' does not exist")
        return {key: entry["value"] for key, entry in sorted(configs.items())
                if entry["source"] == _SOURCE_DYNAMIC_TOPIC}

    def broker_configs(self, broker_id):
        """Dynamic configs of one broker, or (``broker_id`` None/"") the cluster-wide defaults.

        Sensitive values (passwords) come back as None, as Kafka never returns them.

        CLI Example::

            salt kafka1 kafka.broker_configs 1
        """
        resource = _broker_resource_name(broker_id)
        source = _SOURCE_DYNAMIC_DEFAULT_BROKER if resource == "" else _SOURCE_DYNAMIC_BROKER
        what = "reading cluster-wide broker configs" if resource == "" else f"reading configs of broker {resource}"
        configs = self._describe_configs(what, "BROKER", resource, node_id=int(resource) if resource else None)
        return {key: entry["value"] for key, entry in sorted(configs.items()) if entry["source"] == source}

    def incremental_alter_configs(self, resource_type, resource_name, operations):
        """Low-level IncrementalAlterConfigs: ``operations`` maps key -> ``(op, value)`` with op one of
        SET, DELETE, APPEND, SUBTRACT (value ignored for DELETE). ``resource_type`` is TOPIC or
        BROKER (name '' = cluster-wide default). Applies as given; returns None."""
        kind = str(resource_type).upper()
        if kind not in ("TOPIC", "BROKER"):
            raise KafkaInputError("resource_type", f"must be TOPIC or BROKER, got {resource_type!r}")
        if kind == "TOPIC":
            _require_topic_name(resource_name, "resource_name")
            node_id = None
        else:
            resource_name = _broker_resource_name(resource_name, "resource_name")
            node_id = int(resource_name) if resource_name else None
        if not isinstance(operations, dict) or not operations:
            raise KafkaInputError("operations", "must be a non-empty mapping of key -> (operation, value)")
        checked = {}
        for key, entry in operations.items():
            if not isinstance(key, str) or not key:
                raise KafkaInputError("operations", f"config keys must be non-empty strings, got {key!r}")
            if not isinstance(entry, (tuple, list)) or len(entry) != 2:
                raise KafkaInputError(f"operations[{key!r}]", f"must be (operation, value), got {entry!r}")
            operation, value = entry
            operation_name = str(operation).upper()
            if operation_name not in CONFIG_OPERATIONS:
                raise KafkaInputError(f"operations[{key!r}]", f"unknown config operation {operation!r}; "
                                                              f"use one of {', '.join(CONFIG_OPERATIONS)}")
            if operation_name == "DELETE":
                checked[key] = ("DELETE", None)
            else:
                if value is None:
                    raise KafkaInputError(f"operations[{key!r}]", f"{operation_name} needs a value")
                checked[key] = (operation_name, _config_value("operations", key, value))
        label = f"topic '{resource_name}'" if kind == "TOPIC" else (
            f"broker {resource_name}" if resource_name else "the cluster-wide broker default")
        self._alter_configs(f"altering configs of {label}", kind, resource_name, checked, node_id)

    @staticmethod
    def _config_changes(current, set_configs, delete_keys):
        """The operations needed to go from ``current`` to the wanted state, and their report."""
        operations, changes = {}, {}
        for key, value in sorted(set_configs.items()):
            # A sensitive value reads back as None: always re-set it.
            if current.get(key) != value or (key in current and current[key] is None):
                operations[key] = ("SET", value)
                changes[key] = {"old": current.get(key), "new": value}
        for key in delete_keys:
            if key in current:
                operations[key] = ("DELETE", None)
                changes[key] = {"old": current[key], "new": None}
        return operations, changes

    def _check_set_and_delete(self, set_configs, delete_keys):
        wanted = _require_config_map("set_configs", set_configs)
        removed = _require_key_list("delete_keys", delete_keys)
        both = sorted(set(wanted) & set(removed))
        if both:
            raise KafkaInputError("delete_keys", f"{', '.join(both)} also appear in set_configs")
        return wanted, removed

    def alter_topic_config(self, name, set_configs=None, delete_keys=None, dry_run=False):
        """Set and/or remove topic overrides (IncrementalAlterConfigs; other keys stay untouched).

        Only what differs is sent. Returns ``{key: {"old", "new"}}`` of the changes (``new`` None =
        override removed); empty when nothing had to change.

        CLI Example::

            salt kafka1 kafka.alter_topic_config orders set_configs='{retention.ms: 3600000}' \\
                delete_keys='[cleanup.policy]'
        """
        _require_topic_name(name)
        wanted, removed = self._check_set_and_delete(set_configs, delete_keys)
        operations, changes = self._config_changes(self.topic_configs(name), wanted, removed)
        if operations and not dry_run:
            self._alter_configs(f"altering configs of topic '{name}'", "TOPIC", name, operations)
        return changes

    def alter_broker_config(self, broker_id, set_configs=None, delete_keys=None, dry_run=False):
        """Set and/or remove dynamic broker configs of one broker, or cluster-wide when
        ``broker_id`` is None or "". Returns the changes like :meth:`alter_topic_config`.

        CLI Example::

            salt kafka1 kafka.alter_broker_config 1 set_configs='{log.cleaner.threads: 2}'
        """
        resource = _broker_resource_name(broker_id)
        wanted, removed = self._check_set_and_delete(set_configs, delete_keys)
        operations, changes = self._config_changes(self.broker_configs(resource), wanted, removed)
        if operations and not dry_run:
            label = f"broker {resource}" if resource else "the cluster-wide broker default"
            self._alter_configs(f"altering configs of {label}", "BROKER", resource, operations,
                                int(resource) if resource else None)
        return changes

    # ----------------------------------------------------------------- cluster
    def describe_cluster(self):
        """``{"cluster_id", "controller_id", "brokers": [{"id", "host", "port", "rack"}]}``.

        CLI Example::

            salt kafka1 kafka.describe_cluster
        """
        metadata = self._call("describing the cluster", lambda client: client.describe_cluster())
        brokers = [{"id": broker.get("broker_id", broker.get("node_id")), "host": broker["host"],
                    "port": broker["port"], "rack": broker.get("rack")}
                   for broker in metadata["brokers"]]
        return {"cluster_id": metadata.get("cluster_id"), "controller_id": metadata.get("controller_id"),
                "brokers": sorted(brokers, key=lambda broker: broker["id"])}

    def _min_insync_replicas(self, topic_names):
        """min.insync.replicas per topic (the topic's effective value, which already falls back to
        the broker's default); topics whose value cannot be read get the broker default."""
        per_topic = self._describe_many_configs("reading min.insync.replicas", "TOPIC", topic_names,
                                                [MIN_INSYNC_REPLICAS])
        result, unknown = {}, []
        for name in topic_names:
            value = per_topic.get(name, {}).get(MIN_INSYNC_REPLICAS)
            if value is None:
                unknown.append(name)
            else:
                result[name] = int(value)
        if unknown:
            default = 1
            controller = self.describe_cluster()["controller_id"]
            broker_configs = self._describe_configs("reading the broker default of min.insync.replicas", "BROKER",
                                                    str(controller), [MIN_INSYNC_REPLICAS], node_id=controller)
            if broker_configs.get(MIN_INSYNC_REPLICAS, {}).get("value") is not None:
                default = int(broker_configs[MIN_INSYNC_REPLICAS]["value"])
            result.update({name: default for name in unknown})
        return result

    def health(self, expected_brokers=None):
        """Cluster health in one look, for restart gating and monitoring.

        ``verdict`` is ``unavailable`` when no broker answers (or there is no controller),
        ``degraded`` when the cluster answers but something is wrong (a missing expected broker,
        partitions without a leader, under-replicated or below ``min.insync.replicas``), else
        ``healthy``. ``reasons`` explains a non-healthy verdict. ``expected_brokers`` is a list of
        broker ids that must be registered.

        CLI Example::

            salt kafka1 kafka.health expected_brokers='[1, 2, 3]'
        """
        expected = None
        if expected_brokers is not None:
            if isinstance(expected_brokers, (str, bytes)) or not isinstance(expected_brokers, (list, tuple, set)):
                raise KafkaInputError("expected_brokers", "must be a list of broker ids")
            expected = sorted({_require_int("expected_brokers", b, minimum=0) for b in expected_brokers})
        report = {"verdict": "healthy", "reasons": [], "brokers": [], "controller_id": None,
                  "missing_brokers": [], "under_replicated": [], "offline": [], "under_min_isr": []}
        try:
            cluster = self.describe_cluster()
            metadata = self._metadata()
        except KafkaAdminError as exc:
            report.update(verdict="unavailable", reasons=[str(exc)])
            return report
        report["brokers"] = cluster["brokers"]
        report["controller_id"] = cluster["controller_id"]
        registered = {broker["id"] for broker in cluster["brokers"]}
        if not registered or cluster["controller_id"] in (None, -1):
            report["verdict"] = "unavailable"
            report["reasons"].append("no active controller" if registered else "no broker registered")
            return report

        partitions = []
        for topic in metadata.topics:
            if topic.error_code != _NO_ERROR:
                continue
            for partition in self._describe_partitions(topic):
                partitions.append((topic.name, partition))
        reasons = report["reasons"]
        try:
            min_isr = self._min_insync_replicas(sorted({name for name, _ in partitions}))
        except KafkaAdminError as exc:
            min_isr = {}
            reasons.append(f"could not read min.insync.replicas (assuming 1): {exc}")
        for name, partition in sorted(partitions, key=lambda item: (item[0], item[1]["partition"])):
            entry = {"topic": name, "partition": partition["partition"], "leader": partition["leader"],
                     "replicas": partition["replicas"], "isr": partition["isr"]}
            if partition["leader"] < 0:
                report["offline"].append(entry)
            if len(partition["isr"]) < len(partition["replicas"]):
                report["under_replicated"].append(entry)
            if len(partition["isr"]) < min_isr.get(name, 1):
                report["under_min_isr"].append(dict(entry, min_insync_replicas=min_isr.get(name, 1)))

        if expected is not None:
            report["missing_brokers"] = [b for b in expected if b not in registered]
            if report["missing_brokers"]:
                reasons.append(f"expected broker(s) not registered: {', '.join(map(str, report['missing_brokers']))}")
        for key, text in (("offline", "without a leader"), ("under_replicated", "under-replicated"),
                          ("under_min_isr", "below min.insync.replicas")):
            if report[key]:
                reasons.append(f"{len(report[key])} partition(s) {text}: "
                               f"{_summarize([_partition_label(e['topic'], e['partition']) for e in report[key]])}")
        if reasons:
            report["verdict"] = "degraded"
        return report

    # ----------------------------------------------------------------- groups
    def list_groups(self):
        """Sorted ids of the consumer groups known to the cluster (all coordinators).

        CLI Example::

            salt kafka1 kafka.list_groups
        """
        groups = self._call("listing consumer groups", lambda client: client.list_groups())
        return sorted({group["group_id"] for group in groups})

    def describe_group(self, group_id):
        """State, members and per-partition committed offset, end offset and lag of a group.

        ``lag`` is None for a partition without a committed offset. A group that neither exists
        nor has committed offsets raises.

        CLI Example::

            salt kafka1 kafka.describe_group billing
        """
        from kafka import TopicPartition
        from kafka.admin import OffsetSpec

        if not isinstance(group_id, str) or not group_id:
            raise KafkaInputError("group_id", f"must be a non-empty string, got {group_id!r}")
        what = f"describing consumer group '{group_id}'"
        description = self._call(what, lambda client: client.describe_groups([group_id]))[group_id]
        if description.get("error"):
            raise KafkaAdminError(f"{what}: {description['error']}")
        committed = self._call(f"reading offsets of consumer group '{group_id}'",
                               lambda client: client.list_group_offsets({group_id: None})).get(group_id, {})
        members, assigned = [], set()
        for member in description.get("members", []):
            partitions = _assigned_partitions(member.get("member_assignment"))
            assigned.update(partitions)
            members.append({"member_id": member["member_id"], "client_id": member.get("client_id"),
                            "host": (member.get("client_host") or "").lstrip("/") or None,
                            "group_instance_id": member.get("group_instance_id"),
                            "assignment": [{"topic": t, "partition": p} for t, p in sorted(partitions)]})
        state = description.get("group_state")
        committed_offsets = {(tp.topic, tp.partition): meta.offset for tp, meta in committed.items()}
        if state == "Dead" and not committed_offsets:
            raise KafkaAdminError(f"consumer group '{group_id}' does not exist")
        all_partitions = sorted(set(committed_offsets) | assigned)
        end_offsets = {}
        if all_partitions:
            ends = self._call(f"reading end offsets for consumer group '{group_id}'",
                              lambda client: client.list_partition_offsets(
                                  {TopicPartition(t, p): OffsetSpec.LATEST for t, p in all_partitions}))
            end_offsets = {(tp.topic, tp.partition): value.offset for tp, value in ends.items()}
        owners = {tp: member["member_id"] for member in members
                  for tp in ((a["topic"], a["partition"]) for a in member["assignment"])}
        offsets, total_lag = [], 0
        for topic_partition in all_partitions:
            committed_offset = committed_offsets.get(topic_partition)
            if committed_offset is not None and committed_offset < 0:
                committed_offset = None
            end = end_offsets.get(topic_partition)
            lag = None if committed_offset is None or end is None else max(end - committed_offset, 0)
            total_lag += lag or 0
            offsets.append({"topic": topic_partition[0], "partition": topic_partition[1],
                            "committed": committed_offset, "end": end, "lag": lag,
                            "member_id": owners.get(topic_partition)})
        return {"group_id": group_id, "state": state, "protocol_type": description.get("protocol_type"),
                "protocol": description.get("protocol_data"), "members": members, "offsets": offsets,
                "total_lag": total_lag}

    # ----------------------------------------------------------------- SCRAM users
    def list_scram_users(self):
        """``{user: {mechanism: {"iterations": n}}}`` for every user holding a SCRAM credential.

        CLI Example::

            salt kafka1 kafka.list_scram_users
        """
        described = self._call("listing SCRAM users", lambda client: client.describe_user_scram_credentials())
        users = {}
        for user, info in described.items():
            if info.get("error"):
                continue
            credentials = {_mechanism_name(item["mechanism"]): {"iterations": item["iterations"]}
                           for item in info["credential_infos"]}
            if credentials:
                users[user] = dict(sorted(credentials.items()))
        return dict(sorted(users.items()))

    def _scram_user(self, name):
        return self.list_scram_users().get(name, {})

    def upsert_scram_user(self, name, password, mechanism="SCRAM-SHA-512", iterations=scram.DEFAULT_ITERATIONS,
                          dry_run=False):
        """Create or overwrite ``name``'s SCRAM credential (AlterUserScramCredentials).

        The broker never reveals stored keys, so through this API a credential cannot be compared
        with ``password``: every call writes a fresh salt (use :mod:`kafkasalt.kafka.zk_users` when a
        no-op check matters). Returns ``{"user", "mechanism", "iterations", "created"}``.

        CLI Example::

            salt kafka1 kafka.upsert_scram_user app1 password=...
        """
        from kafka.admin import UserScramCredentialUpsertion

        try:
            scram.validate_username(name, "name")
            mechanism = scram.normalize_mechanism(mechanism)
            scram.validate_iterations(iterations)
        except ValueError as exc:
            argument, _, problem = str(exc).partition(" ")
            raise KafkaInputError(argument, problem) from None
        if not isinstance(password, str) or not password:
            raise KafkaInputError("password", "must be a non-empty string")  # never echo it
        created = mechanism not in self._scram_user(name)
        if not dry_run:
            upsertion = UserScramCredentialUpsertion(name, mechanism, password, iterations=iterations,
                                                     salt=scram.kafka_style_salt())
            self._alter_scram(f"storing the SCRAM credential of user '{name}'", [], [upsertion])
        return {"user": name, "mechanism": mechanism, "iterations": iterations, "created": created}

    def _alter_scram(self, what, deletions, upsertions):
        """Raw request: AlterUserScramCredentials, to the controller (ZooKeeper-mode brokers answer
        NOT_CONTROLLER otherwise, which kafka-python 3.0.12 reports as success)."""
        from kafka.protocol.admin import AlterUserScramCredentialsRequest

        request = AlterUserScramCredentialsRequest(
            deletions=[(item.user, int(item.mechanism)) for item in deletions],
            upsertions=[(item.user, int(item.mechanism), item.iterations, item.salt, item.salted_password)
                        for item in upsertions])
        response = self._send_to_controller(what, request,
                                            lambda reply: [result.error_code for result in reply.results])
        for result in response.results:
            if result.error_code != _NO_ERROR:
                raise self._protocol_error(what, result.error_code, result.error_message)

    def delete_scram_user(self, name, mechanism=None, dry_run=False):
        """Delete ``name``'s credential for ``mechanism`` (all mechanisms when None).

        Returns the sorted list of mechanisms removed (empty when there was nothing to delete).

        CLI Example::

            salt kafka1 kafka.delete_scram_user app1
        """
        from kafka.admin import UserScramCredentialDeletion

        try:
            scram.validate_username(name, "name")
            wanted = [scram.normalize_mechanism(mechanism)] if mechanism is not None else None
        except ValueError as exc:
            argument, _, problem = str(exc).partition(" ")
            raise KafkaInputError(argument, problem) from None
        present = self._scram_user(name)
        mechanisms = sorted(m for m in (wanted or present) if m in present)
        if mechanisms and not dry_run:
            self._alter_scram(f"deleting the SCRAM credential of user '{name}'",
                              [UserScramCredentialDeletion(name, m) for m in mechanisms], [])
        return mechanisms

    # ----------------------------------------------------------------- ACLs
    def list_acls(self, principal=None, resource_type=None, resource_name=None):
        """ACL bindings (sorted :class:`kafkasalt.acl.AclBinding`), optionally only those of one
        principal, resource type and/or exact resource name (LITERAL and PREFIXED alike).

        CLI Example::

            salt kafka1 kafka.list_acls principal=User:app1
        """
        from kafka.admin import (ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType,
                                 ResourcePatternFilter, ResourceType)

        if principal is not None:
            principal = _normalize_principal(principal)
        kind = ResourceType.ANY
        if resource_type is not None:
            name = str(resource_type).strip().upper()
            if name not in acl_model.RESOURCE_TYPES:
                raise KafkaInputError("resource_type", f"must be one of {', '.join(acl_model.RESOURCE_TYPES)}, "
                                                       f"got {resource_type!r}")
            kind = ResourceType[name]
        if resource_name is not None and (not isinstance(resource_name, str) or not resource_name):
            raise KafkaInputError("resource_name", f"must be a non-empty string, got {resource_name!r}")
        acl_filter = ACLFilter(principal=principal, host=None, operation=ACLOperation.ANY,
                               permission_type=ACLPermissionType.ANY,
                               resource_pattern=ResourcePatternFilter(kind, resource_name, ACLResourcePatternType.ANY))
        return sorted(self._describe_acls(acl_filter))

    def _describe_acls(self, acl_filter, node_id=None):
        """Raw request: DescribeAcls on one broker (any when ``node_id`` is None) -> set of bindings."""
        from kafka.admin import ResourceType
        from kafka.protocol.admin import DescribeAclsRequest

        pattern = acl_filter.resource_pattern
        request = DescribeAclsRequest(
            min_version=3 if pattern.resource_type == ResourceType.USER else 0,
            resource_type_filter=pattern.resource_type, resource_name_filter=pattern.resource_name,
            pattern_type_filter=pattern.pattern_type, principal_filter=acl_filter.principal,
            host_filter=acl_filter.host, operation=acl_filter.operation, permission_type=acl_filter.permission_type)
        response = self._send("listing ACLs", request, node_id)
        if response.error_code != _NO_ERROR:
            raise self._protocol_error("listing ACLs", response.error_code, response.error_message)
        found, _ = self.connect()._convert_describe_acls_response_to_acls(response)
        return self._to_bindings(found)

    def _wait_for_acls(self, present=(), absent=(), timeout_ms=_TOPIC_READY_TIMEOUT_MS):
        """Brokers refresh their ACL cache when ZooKeeper notifies them: wait until every broker
        reports ``present`` and none reports ``absent``, so that the next read sees this write."""
        from kafka.admin import ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType, \
            ResourcePatternFilter, ResourceType

        present, absent = set(present), set(absent)
        principals = sorted({binding.principal for binding in present | absent})
        filters = [ACLFilter(principal=principal, host=None, operation=ACLOperation.ANY,
                             permission_type=ACLPermissionType.ANY,
                             resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY))
                   for principal in principals]
        deadline = time.monotonic() + timeout_ms / 1000
        pending = {broker["id"] for broker in self.describe_cluster()["brokers"]}
        while True:
            for broker_id in sorted(pending):
                seen = set()
                for acl_filter in filters:
                    seen |= self._describe_acls(acl_filter, node_id=broker_id)
                if present <= seen and not absent & seen:
                    pending.discard(broker_id)
            if not pending:
                return
            if time.monotonic() > deadline:
                raise KafkaAdminError(f"ACL change accepted, but broker(s) {', '.join(map(str, sorted(pending)))} "
                                      f"did not apply it within {timeout_ms} ms")
            time.sleep(0.1)

    def _to_bindings(self, kafka_acls):
        bindings = set()
        for item in kafka_acls:
            try:
                bindings.add(acl_model.AclBinding(
                    resource_type=item.resource_pattern.resource_type.name,
                    resource_name=item.resource_pattern.resource_name,
                    pattern_type=item.resource_pattern.pattern_type.name,
                    principal=item.principal, host=item.host, operation=item.operation.name,
                    permission=item.permission_type.name))
            except acl_model.AclError as exc:
                # Written by another tool with a form our model refuses (e.g. Group: principals).
                log.warning("ignoring ACL %s %s on %s:%s: %s", item.principal, item.operation.name,
                            item.resource_pattern.resource_type.name, item.resource_pattern.resource_name, exc)
        return bindings

    @staticmethod
    def _check_bindings(bindings):
        """A sorted, duplicate-free list of AclBinding from AclBinding objects and/or pillar-style
        entries (binding or role mappings, see :func:`kafkasalt.acl.parse_bindings`)."""
        if isinstance(bindings, acl_model.AclBinding):
            bindings = [bindings]
        if isinstance(bindings, (str, bytes, dict)) or not isinstance(bindings, (list, tuple, set, frozenset)):
            raise KafkaInputError("bindings", "must be a list of AclBinding objects or ACL mappings")
        ready, entries = set(), []
        for index, binding in enumerate(bindings):
            if isinstance(binding, acl_model.AclBinding):
                ready.add(binding)
            elif isinstance(binding, dict):
                entries.append((index, binding))
            else:
                raise KafkaInputError(f"bindings:{index}", f"must be an AclBinding or an ACL mapping, "
                                                           f"got {type(binding).__name__}")
        for index, entry in entries:
            try:
                ready.update(acl_model.parse_bindings([entry], key="bindings"))
            except PillarErrors as exc:
                first = exc.errors[0]
                # parse_bindings numbers entries from 0 within the one-entry list: put the real index back.
                key = first.key.replace("bindings:0", f"bindings:{index}", 1)
                raise KafkaInputError(key, first.message) from None
        return sorted(ready)

    @staticmethod
    def _kafka_acl(binding):
        from kafka.admin import (ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern,
                                 ResourceType)

        return ACL(principal=binding.principal, host=binding.host, operation=ACLOperation[binding.operation],
                   permission_type=ACLPermissionType[binding.permission],
                   resource_pattern=ResourcePattern(ResourceType[binding.resource_type], binding.resource_name,
                                                    ACLResourcePatternType[binding.pattern_type]))

    def add_acls(self, bindings, dry_run=False):
        """Create the bindings that do not exist yet; returns those (sorted), empty if none.

        ``bindings``: :class:`kafkasalt.acl.AclBinding` objects and/or the pillar's ACL entries
        (binding mappings or role mappings such as ``{role: consumer, principal: User:app,
        topic: orders, group_prefix: app-}``).

        CLI Example::

            salt kafka1 kafka.add_acls \\
                '[{resource_type: TOPIC, resource_name: orders, principal: User:app1, operation: READ}]'
        """
        wanted = self._check_bindings(bindings)
        if not wanted:
            return []
        existing = self._existing_bindings(wanted)
        missing = [binding for binding in wanted if binding not in existing]
        if missing and not dry_run:
            result = self._call("creating ACLs", lambda client: client.create_acls(
                [self._kafka_acl(binding) for binding in missing]))
            if result["failed"]:
                names = ", ".join(sorted({error.__name__ for error in result["failed"]}))
                raise KafkaAdminError(f"creating ACLs: {len(result['failed'])} of {len(missing)} failed ({names})")
            self._wait_for_acls(present=missing)
        return missing

    def _existing_bindings(self, bindings):
        """The bindings that exist now for the principals of ``bindings`` (one list per principal)."""
        existing = set()
        for principal in sorted({binding.principal for binding in bindings}):
            existing.update(self.list_acls(principal=principal))
        return existing

    def remove_acls(self, bindings, dry_run=False):
        """Delete exactly these bindings (every filter field concrete, so nothing wider can match).
        Returns the bindings that existed and were removed, sorted. ``bindings`` as for
        :meth:`add_acls`.

        CLI Example::

            salt kafka1 kafka.remove_acls \\
                '[{resource_type: TOPIC, resource_name: orders, principal: User:app1, operation: READ}]'
        """
        from kafka.admin import ACLFilter, ResourcePatternFilter

        wanted = self._check_bindings(bindings)
        if not wanted:
            return []
        existing = self._existing_bindings(wanted)
        present = [binding for binding in wanted if binding in existing]
        if not present or dry_run:
            return present
        filters = []
        for binding in present:
            concrete = self._kafka_acl(binding)
            filters.append(ACLFilter(principal=concrete.principal, host=concrete.host, operation=concrete.operation,
                                     permission_type=concrete.permission_type,
                                     resource_pattern=ResourcePatternFilter(
                                         concrete.resource_pattern.resource_type,
                                         concrete.resource_pattern.resource_name,
                                         concrete.resource_pattern.pattern_type)))
        results = self._call("deleting ACLs", lambda client: client.delete_acls(filters))
        removed = set()
        for _, matched, error in results:
            if error.errno not in (None, _NO_ERROR):
                raise KafkaAdminError(f"deleting ACLs: {error.__name__}")
            removed.update(self._to_bindings(matched))
        unexpected = removed - set(present)
        if unexpected:  # cannot happen with fully concrete filters; say so loudly if it ever does
            raise KafkaAdminError(f"deleting ACLs removed bindings that were not asked for: "
                                  f"{', '.join(str(b) for b in sorted(unexpected))}")
        self._wait_for_acls(absent=removed)
        return sorted(removed)

    # ----------------------------------------------------------------- reassignments
    def list_reassignments(self):
        """Ongoing partition reassignments: ``[{"topic", "partition", "replicas", "adding", "removing"}]``.

        CLI Example::

            salt kafka1 kafka.list_reassignments
        """
        return self._reassignments(None)

    def _reassignments(self, partitions):
        from kafka import TopicPartition

        wanted = None if partitions is None else [TopicPartition(t, p) for t, p in partitions]
        if wanted == []:
            return []
        ongoing = self._call("listing partition reassignments",
                             lambda client: client.list_partition_reassignments(wanted))
        return sorted(({"topic": tp.topic, "partition": tp.partition, "replicas": state["replicas"],
                        "adding": state["adding_replicas"], "removing": state["removing_replicas"]}
                       for tp, state in ongoing.items()), key=lambda item: (item["topic"], item["partition"]))

    def _current_assignment(self, partitions):
        topics = self.describe_topics(sorted({topic for topic, _ in partitions}))
        current = {}
        for topic, partition in partitions:
            by_index = {p["partition"]: p["replicas"] for p in topics[topic]["partitions"]}
            if partition not in by_index:
                raise KafkaInputError("plan", f"topic '{topic}' has no partition {partition} "
                                              f"(it has {len(by_index)})")
            current[(topic, partition)] = by_index[partition]
        return current

    def execute_reassignment(self, plan, throttle_bytes=None, dry_run=False):
        """Start moving replicas as ``plan`` says, like ``kafka-reassign-partitions.sh --execute``.

        ``plan`` maps ``(topic, partition)`` to the target broker list (the JSON document of
        kafka-reassign-partitions or a list of ``{topic, partition, replicas}`` works too). With
        ``throttle_bytes`` (bytes/s) the involved brokers get ``leader/follower.replication.
        throttled.rate`` and the topics ``leader.replication.throttled.replicas`` (current
        replicas) and ``follower.replication.throttled.replicas`` (new replicas), each a sorted
        ``partition:broker`` list, before the move starts. Partitions already on their target
        are skipped. Returns ``{"partitions": [...], "brokers": [...], "throttle_bytes",
        "topic_throttles": {topic: {key: value}}}``.

        CLI Example::

            salt kafka1 kafka.execute_reassignment \\
                '{partitions: [{topic: orders, partition: 0, replicas: [2, 3]}]}' throttle_bytes=10485760
        """
        from kafka import TopicPartition

        targets = _normalize_plan(plan)
        if throttle_bytes is not None:
            _require_int("throttle_bytes", throttle_bytes, minimum=1)
        brokers = {broker["id"] for broker in self.describe_cluster()["brokers"]}
        for (topic, partition), replicas in targets.items():
            unknown = sorted(set(replicas) - brokers)
            if unknown:
                raise KafkaInputError(f"plan[{_partition_label(topic, partition)}]",
                                      f"broker(s) {', '.join(map(str, unknown))} are not in the cluster "
                                      f"(registered: {', '.join(map(str, sorted(brokers)))})")
        current = self._current_assignment(list(targets))
        ongoing = {(item["topic"], item["partition"]): item for item in self._reassignments(list(targets))}
        moves = {}
        for key, replicas in sorted(targets.items()):
            if key in ongoing:
                # Like Kafka: the sources of a running move are its replicas minus the ones being added.
                sources = [b for b in ongoing[key]["replicas"] if b not in ongoing[key]["adding"]]
            elif current[key] == replicas:
                continue
            else:
                sources = current[key]
            moves[key] = {"sources": sorted(set(sources)), "destinations": sorted(set(replicas) - set(sources)),
                          "replicas": replicas}
        report = {"partitions": [{"topic": t, "partition": p, "from": current[(t, p)], "to": move["replicas"]}
                                 for (t, p), move in moves.items()],
                  "brokers": sorted({b for move in moves.values() for b in move["sources"] + move["destinations"]}),
                  "throttle_bytes": throttle_bytes, "topic_throttles": {}}
        if not moves:
            return report
        if throttle_bytes is not None:
            report["topic_throttles"] = _topic_throttles(moves)
        if dry_run:
            return report
        if throttle_bytes is not None:
            for topic, configs in sorted(report["topic_throttles"].items()):
                self._alter_configs(f"setting replication throttles on topic '{topic}'", "TOPIC", topic,
                                    {key: ("SET", value) for key, value in configs.items()})
            for broker in report["brokers"]:
                self._alter_configs(f"setting the replication throttle rate on broker {broker}", "BROKER",
                                    str(broker), {LEADER_THROTTLED_RATE: ("SET", str(throttle_bytes)),
                                                  FOLLOWER_THROTTLED_RATE: ("SET", str(throttle_bytes))}, broker)
        results = self._call("starting the partition reassignment", lambda client: client.alter_partition_reassignments(
            {TopicPartition(t, p): move["replicas"] for (t, p), move in moves.items()}))
        failed = {_partition_label(tp.topic, tp.partition): error.__name__ for tp, error in results.items() if error}
        if failed:
            raise KafkaAdminError("starting the partition reassignment failed for "
                                  + ", ".join(f"{label} ({error})" for label, error in sorted(failed.items())))
        return report

    def verify_reassignment(self, plan, clear_throttles=True):
        """Progress of ``plan``, like ``kafka-reassign-partitions.sh --verify``.

        ``pending`` lists partitions still moving (``state`` "in progress") or whose replicas
        differ from the plan without a running move (``state`` "not running": cancelled or
        never started). When ``done``, every replication throttle is removed: the rates on all
        brokers and the throttled-replica lists of the plan's topics. Returns
        ``{"done", "pending", "throttles_cleared"}``.

        CLI Example::

            salt kafka1 kafka.verify_reassignment '{partitions: [{topic: orders, partition: 0, replicas: [2, 3]}]}'
        """
        targets = _normalize_plan(plan)
        ongoing = {(item["topic"], item["partition"]): item for item in self._reassignments(list(targets))}
        current = self._current_assignment(list(targets))
        pending = []
        for (topic, partition), replicas in sorted(targets.items()):
            if (topic, partition) in ongoing:
                state = ongoing[(topic, partition)]
                pending.append({"topic": topic, "partition": partition, "state": "in progress",
                                "replicas": state["replicas"], "adding": state["adding"],
                                "removing": state["removing"], "target": replicas})
            elif current[(topic, partition)] != replicas:
                pending.append({"topic": topic, "partition": partition, "state": "not running",
                                "replicas": current[(topic, partition)], "target": replicas})
        done = not pending
        cleared = False
        if done and clear_throttles:
            self.clear_throttles(None, sorted({topic for topic, _ in targets}))
            cleared = True
        return {"done": done, "pending": pending, "throttles_cleared": cleared}

    def cancel_reassignment(self, partitions, clear_throttles=True):
        """Cancel running moves of ``partitions`` (``(topic, partition)`` pairs or a plan); partitions
        not moving are ignored. Like kafka-reassign-partitions ``--cancel``, throttles are then
        cleared unless ``clear_throttles=False``. Returns the cancelled partitions.

        CLI Example::

            salt kafka1 kafka.cancel_reassignment '[[orders, 0]]'
        """
        from kafka import TopicPartition

        if isinstance(partitions, dict) and not all(isinstance(k, tuple) for k in partitions):
            partitions = list(_normalize_plan(partitions))
        wanted = _normalize_partition_list("partitions", partitions)
        ongoing = self._reassignments(wanted)
        cancelled = [(item["topic"], item["partition"]) for item in ongoing]
        if cancelled:
            results = self._call("cancelling partition reassignments",
                                 lambda client: client.alter_partition_reassignments(
                                     {TopicPartition(t, p): None for t, p in cancelled}))
            failed = {_partition_label(tp.topic, tp.partition): error.__name__
                      for tp, error in results.items() if error}
            if failed:
                raise KafkaAdminError("cancelling the reassignment failed for "
                                      + ", ".join(f"{label} ({error})" for label, error in sorted(failed.items())))
        if clear_throttles:
            self.clear_throttles(None, sorted({topic for topic, _ in wanted}))
        return [{"topic": t, "partition": p} for t, p in cancelled]

    def clear_throttles(self, broker_ids=None, topics=None):
        """Remove replication throttles: the rate keys of ``broker_ids`` (all brokers when None)
        and the throttled-replica lists of ``topics`` (when None: every topic that has one).

        Returns ``{"brokers": {id: [removed keys]}, "topics": {name: [removed keys]}}`` listing
        only what was actually set.

        CLI Example::

            salt kafka1 kafka.clear_throttles
        """
        if broker_ids is None:
            broker_ids = [broker["id"] for broker in self.describe_cluster()["brokers"]]
        elif isinstance(broker_ids, (str, bytes)) or not isinstance(broker_ids, (list, tuple, set)):
            raise KafkaInputError("broker_ids", "must be a list of broker ids or None for all brokers")
        broker_ids = sorted({_require_int("broker_ids", b, minimum=0) for b in broker_ids})
        if topics is None:
            topics = self.list_topics(include_internal=True)
        elif isinstance(topics, str) or not isinstance(topics, (list, tuple, set)):
            raise KafkaInputError("topics", "must be a list of topic names or None for all topics")
        topics = sorted({_require_topic_name(t, "topics") for t in topics})
        report = {"brokers": {}, "topics": {}}
        for broker in broker_ids:
            present = [key for key in BROKER_THROTTLE_KEYS if key in self.broker_configs(broker)]
            if present:
                self._alter_configs(f"clearing replication throttles of broker {broker}", "BROKER", str(broker),
                                    {key: ("DELETE", None) for key in present}, broker)
                report["brokers"][broker] = present
        current = self._describe_many_configs("reading topic throttles", "TOPIC", topics, TOPIC_THROTTLE_KEYS)
        for topic in topics:
            # Unset keys read back as the empty default; only a non-empty value is a throttle.
            present = [key for key in TOPIC_THROTTLE_KEYS if current.get(topic, {}).get(key)]
            if present:
                self._alter_configs(f"clearing replication throttles of topic '{topic}'", "TOPIC", topic,
                                    {key: ("DELETE", None) for key in present})
                report["topics"][topic] = present
        return report

    # ----------------------------------------------------------------- leaders
    def elect_preferred_leaders(self, topic_partitions=None):
        """Move leadership back to each partition's preferred (first) replica.

        ``topic_partitions``: a list of ``(topic, partition)`` pairs, or None for every partition.
        Returns ``{"elected": [...], "not_needed": n, "failed": [{"topic", "partition", "error"}]}``.

        CLI Example::

            salt kafka1 kafka.elect_preferred_leaders
        """
        if topic_partitions is None:
            by_topic = {name: [p["partition"] for p in topic["partitions"]]
                        for name, topic in self.describe_topics().items()}
        else:
            by_topic = defaultdict(list)
            for topic, partition in _normalize_partition_list("topic_partitions", topic_partitions):
                by_topic[topic].append(partition)
        report = {"elected": [], "not_needed": 0, "failed": []}
        if not by_topic:
            return report
        response = self._call("electing preferred leaders", lambda client: client.elect_leaders(
            0, dict(by_topic), raise_errors=False))
        if getattr(response, "error_code", _NO_ERROR) not in (None, _NO_ERROR):
            raise self._protocol_error("electing preferred leaders", response.error_code)
        for result in response.replica_election_results:
            for partition in result.partition_result:
                entry = {"topic": result.topic, "partition": partition.partition_id}
                if partition.error_code == _NO_ERROR:
                    report["elected"].append(entry)
                elif partition.error_code == _ELECTION_NOT_NEEDED:
                    report["not_needed"] += 1
                else:
                    from kafka import errors

                    report["failed"].append(dict(entry, error=errors.for_code(partition.error_code).__name__))
        report["elected"].sort(key=lambda item: (item["topic"], item["partition"]))
        report["failed"].sort(key=lambda item: (item["topic"], item["partition"]))
        return report


# --------------------------------------------------------------------------- helpers
class _BootstrapWatch:
    """Why did bootstrapping fail? kafka-python 3.0 retries every failure until its timeout and
    then only says "Unable to bootstrap"; worse, a broker that rejects a password usually closes
    the socket right after its error response, which kafka-python reports as a plain disconnect.

    So each bootstrap connection is watched: any failure inside the SASL exchange counts as an
    authentication failure and stops bootstrapping at once (the same password fails everywhere),
    and the last connection error is kept for the "cannot reach" message. Tied to kafka-python
    3.0.x internals; if they change, the watch stays silent and only the messages get vaguer.
    """

    def __init__(self):
        self.active = True
        self.clients = []
        self.auth_error = None
        self.last_error = None

    def install(self, net_client):
        self.clients.append(net_client)
        manager = getattr(net_client, "_manager", None)
        original = getattr(manager, "get_connection", None)
        if original is None:
            return

        def get_connection(node_id, *args, **kwargs):
            connection = original(node_id, *args, **kwargs)
            if self.active and not getattr(connection, "_kafkasalt_watched", False):
                self._watch(connection, manager)
            return connection

        manager.get_connection = get_connection

    def _watch(self, connection, manager):
        from kafka import errors

        connection._kafkasalt_watched = True
        future = getattr(connection, "init_future", None)
        if future is not None:
            future.add_errback(self._record)
        sasl = getattr(connection, "_sasl_authenticate", None)
        if sasl is None:
            return

        async def watched_sasl(*args, **kwargs):
            try:
                return await sasl(*args, **kwargs)
            except Exception as exc:
                if self.active and not isinstance(exc, errors.KafkaTimeoutError):
                    self.auth_error = exc
                    manager.close()  # ends kafka-python's bootstrap loop now instead of at its timeout
                raise

        connection._sasl_authenticate = watched_sasl

    def _record(self, error):
        self.last_error = error


def _config_applied(current, key, operation, value):
    if operation == "SET":
        # A sensitive value reads back as None: its presence is all we can check.
        return key in current and (current[key] is None or current[key] == value)
    if operation == "DELETE":
        return key not in current
    return True  # APPEND/SUBTRACT: the resulting list is the broker's business


def _close_quietly(client):
    try:
        client.close()
    except Exception:  # noqa: BLE001 - closing must not hide the real error
        log.debug("closing the Kafka client failed", exc_info=True)
    net = getattr(client, "_net", None)
    if net is not None:
        try:
            net.stop()
        except Exception:  # noqa: BLE001
            log.debug("stopping the Kafka client IO thread failed", exc_info=True)


def _normalize_principal(principal):
    try:
        return acl_model._principal(principal)  # the ACL model's own rule: User:<name>
    except acl_model.AclError as exc:
        raise KafkaInputError("principal", exc.message) from None


def _assigned_partitions(assignment):
    """(topic, partition) pairs of a decoded ConsumerProtocolAssignment (or its dict form)."""
    if not assignment:
        return set()
    topics = getattr(assignment, "assigned_partitions", None)
    if topics is None and isinstance(assignment, dict):
        topics = assignment.get("assigned_partitions")
    pairs = set()
    for entry in topics or []:
        if isinstance(entry, dict):
            topic, partitions = entry.get("topic"), entry.get("partitions", [])
        elif hasattr(entry, "topic"):
            topic, partitions = entry.topic, entry.partitions
        else:
            topic, partitions = entry
        pairs.update((topic, partition) for partition in partitions)
    return pairs


def _topic_throttles(moves):
    """kafka-reassign-partitions' throttle lists: leader = sources, follower = destinations that
    are not sources, each ``partition:broker`` joined by commas in string order (Java TreeSet)."""
    leader, follower = defaultdict(set), defaultdict(set)
    for (topic, partition), move in moves.items():
        leader[topic].update(f"{partition}:{broker}" for broker in move["sources"])
        follower[topic].update(f"{partition}:{broker}" for broker in move["destinations"]
                               if broker not in move["sources"])
    throttles = {}
    for topic in sorted(set(leader) | set(follower)):
        throttles[topic] = {LEADER_THROTTLED_REPLICAS: ",".join(sorted(leader[topic])),
                            FOLLOWER_THROTTLED_REPLICAS: ",".join(sorted(follower[topic]))}
    return throttles


def _summarize(labels, limit=10):
    shown = ", ".join(labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")

"""How the admin layer reaches a cluster: :class:`ConnectionSettings`, the error classes, the
filter that keeps secrets out of kafka-python's logs, and :class:`AdminConnection`, the
connection and request plumbing that every operation mixin of
:class:`~kafkasalt.kafka.admin.KafkaAdmin` uses."""

from __future__ import annotations

import dataclasses
import logging

from kafkasalt.common.polling import wait_until
from kafkasalt.common.validation import is_int

log = logging.getLogger(__name__)

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN")
# Protocol error codes we interpret instead of raising.
_NO_ERROR = 0
_UNKNOWN_TOPIC_OR_PARTITION = 3
_TOPIC_AUTHORIZATION_FAILED = 29
_TOPIC_ALREADY_EXISTS = 36
_ELECTION_NOT_NEEDED = 84
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


def _require_int(argument, value, minimum=None):
    if not is_int(value):
        raise KafkaInputError(argument, f"must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise KafkaInputError(argument, f"must be >= {minimum}, got {value}")
    return value


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


class AdminConnection:
    """One kafka-python ``KafkaAdminClient``, opened on the first call (so
    :meth:`~kafkasalt.kafka.admin.KafkaAdmin.health` can report an unreachable cluster instead of
    raising), closed on :meth:`close` or when a ``with`` block ends; and the request plumbing
    that turns kafka-python's failures into :class:`KafkaAdminError`."""

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

    def _wait_for_every_broker(self, broker_ids, ready, timeout_ms):
        """Ask each broker in ``broker_ids`` whether ``ready(broker_id)`` holds, every 0.1 s, until
        it holds on all of them or ``timeout_ms`` passed; returns the brokers still pending."""
        pending = set(broker_ids)

        def all_ready():
            for broker_id in sorted(pending):
                if ready(broker_id):
                    pending.discard(broker_id)
            return not pending

        wait_until(all_ready, timeout_ms / 1000, 0.1)
        return sorted(pending)

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

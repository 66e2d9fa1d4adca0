"""The ZooKeeper ensemble model: pillar validation, file rendering, status parsing, health and
membership planning. Pure Python: no Salt, no network, no Java.

The Salt states and execution modules call into this module; everything that decides *what*
ZooKeeper should look like (zoo.cfg, JAAS, the service command line) or *whether* something is
safe (ensemble health, roll order, membership changes) lives here so it can be unit-tested.

Design decisions worth knowing
------------------------------
* Secrets. Passwords never appear in zoo.cfg, argv, the environment, reprs or error messages.
  They live only in ``/etc/zookeeper/jaas.conf`` (mode 0600). The operator's super user is a
  SASL login (``user_super`` in the JAAS ``Server`` section plus ``superUser=super`` in zoo.cfg),
  not ``-Dzookeeper.DigestAuthenticationProvider.superDigest``: in 3.8 the AdminServer's
  ``/commands/system_properties`` endpoint (no authentication before 3.9) prints every JVM
  system property, so a digest passed as a property -- even through a ``java @argfile``, which
  only hides it from ``ps`` -- would be readable by anyone who can reach the admin port.
  ``render_java_args(..., with_super_digest=True)`` remains for operators who explicitly want
  the digest scheme, with that caveat.
* The service runs ``java @/etc/zookeeper/java.args``. Every JVM option (heap, classpath,
  JAAS path) lives in that file, so the systemd unit and the supervisord program do not change
  with heap or version: such a change only touches java.args and is applied by the gated
  rolling restart, never by ``systemctl daemon-reload`` or ``supervisorctl update`` on their own.
* Client authentication is enforced: 3.7+ uses ``enforce.auth.enabled/enforce.auth.schemes``,
  3.6 the older equivalent ``sessionRequireClientSASLAuth``. 3.5 has neither, so it is refused.
* ``server.N=address:quorum:election`` without the ``;client`` suffix: the client endpoint is
  given once by ``clientPortAddress``/``clientPort`` (the suffix is for dynamic configs and 3.8
  cross-checks it against ``clientPort``, which only adds a way to disagree).
* ``reconfigEnabled=false``: the ensemble is static, so ZooKeeper never rewrites zoo.cfg behind
  Salt's back. Membership changes follow :func:`membership_change_plan`.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import posixpath
import re
import shlex
from dataclasses import dataclass, field

from kafkasalt.common.errors import PillarError, PillarErrors
from kafkasalt.common.secret import Secret

# ---------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------

PILLAR_ROOT = "zookeeper"
SERVICE_NAME = "zookeeper"
SERVICE_USER = "zookeeper"
SERVICE_GROUP = "zookeeper"
CONF_DIR = "/etc/zookeeper"
ZOO_CFG_PATH = f"{CONF_DIR}/zoo.cfg"
JAAS_PATH = f"{CONF_DIR}/jaas.conf"  # secret: mode 0600, owner zookeeper
JAVA_ARGS_PATH = f"{CONF_DIR}/java.args"  # JVM @argfile; mode 0600 (it may carry the super digest)
TLS_DIR = f"{CONF_DIR}/tls"
MEMBER_KEYSTORE_PATH = f"{TLS_DIR}/member.pem"  # secret: key + certificate, mode 0600, owner zookeeper
CLIENT_KEYSTORE_PATH = f"{TLS_DIR}/client.pem"  # secret: the formula's own client key + cert, root 0600
TRUSTSTORE_PATH = f"{TLS_DIR}/ca.pem"  # the cluster CA (public)
NETTY_CNXN_FACTORY = "org.apache.zookeeper.server.NettyServerCnxnFactory"
TLS_CLIENT_AUTH_VALUES = ("need", "want", "none")
LOG_DIR = "/var/log/zookeeper"
INSTALL_ROOT = "/opt/zookeeper"
PACKAGE_INSTALL_DIR = "/usr/share/zookeeper"
INSTALL_METHODS = ("archive", "package")
JAVA_BIN = "/usr/bin/java"
MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
SUPER_USER = "super"
QUORUM_USER = "zkquorum"
DIGEST_LOGIN_MODULE = "org.apache.zookeeper.server.auth.DigestLoginModule"
SASL_AUTH_PROVIDER = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
SERVER_LOGIN_CONTEXT = "Server"
QUORUM_SERVER_LOGIN_CONTEXT = "QuorumServer"
QUORUM_LEARNER_LOGIN_CONTEXT = "QuorumLearner"
# zkEnv.sh's ZK_SERVER_HEAP default, used when neither the pillar nor sizing gives a heap.
FALLBACK_HEAP_MB = 1000
LIMIT_NOFILE = 65536
MANAGED_HEADER = "Managed by Salt (kafkasalt). Local edits are overwritten."

# Four-letter words known to ZooKeeper 3.8 (FourLetterCommands in zookeeper-3.8.4.jar).
KNOWN_FOUR_LETTER_WORDS = frozenset(
    "conf cons crst dirs dump envi gtmk hash isro mntr ruok srst srvr stat stmk wchc wchp wchs".split()
)
# The formula's health checks read these two; refusing a whitelist without them avoids a
# deployment whose rolling restarts can never be gated.
REQUIRED_FOUR_LETTER_WORDS = ("mntr", "srvr")

PORT_NAMES = ("client", "secure_client", "quorum", "election", "admin")

DEFAULTS = {
    "version": "3.8.4",  # with install: package, the packaged upstream version (Debian 12: 3.8.0)
    "install": "archive",  # archive: the Apache release tarball; package: the OS packages
    "source": None,  # archive: URL of apache-zookeeper-<version>-bin.tar.gz
    "source_hash": None,  # archive: "sha512=<hex>" (or sha256=)
    # package: what to install and the service's classpath (Debian's layout; the AdminServer
    # needs the servlet API, logging an SLF4J binding).
    "packages": ["zookeeper", "libservlet-api-java", "libslf4j-java"],
    "package_classpath": [
        "/usr/share/java/zookeeper.jar",
        "/usr/share/java/servlet-api.jar",
        "/usr/share/java/slf4j-simple.jar",
    ],
    "allow_single_member": False,
    "members": {},
    "ports": {"client": 2181, "secure_client": 2182, "quorum": 2888, "election": 3888, "admin": 8080},
    "data_dir": "/var/lib/zookeeper/data",
    "data_log_dir": "/var/lib/zookeeper/txlog",
    "heap_mb": None,  # None -> heap_mb_default (kafkasalt.sizing) -> FALLBACK_HEAP_MB
    "four_letter_words": ["srvr", "mntr", "ruok", "conf"],
    "sasl": {"super_password": None, "quorum_password": None, "users": {}},
    # Quorum TLS plus a TLS client port (ports:secure_client), certificates from the cluster CA
    # (kafka_pki ext_pillar). Off by default; switching it on for a running ensemble rolls it
    # through port unification (see quorum_tls_phases).
    "tls": {
        "enabled": False,
        "client_auth": "need",  # clients of the TLS port present a certificate of the cluster CA
        "plaintext_clients": True,  # keep the SASL plaintext client port open beside the TLS one
        "hostname_verification": True,  # quorum peers check each other's certificate against their address
    },
    "config": {},
}

# zoo.cfg tunables the formula sets by default; pillar ``config`` may override them.
TUNABLE_DEFAULTS = {
    "tickTime": 2000,
    "initLimit": 10,
    "syncLimit": 5,
    "maxClientCnxns": 60,
    "autopurge.snapRetainCount": 3,
    "autopurge.purgeInterval": 24,
    "quorum.cnxn.threads.size": 20,
}
# Integer tunables with their smallest legal value (ZooKeeper fails or misbehaves below it).
INTEGER_TUNABLES = {
    "tickTime": 1,
    "initLimit": 1,
    "syncLimit": 1,
    "maxClientCnxns": 0,
    "minSessionTimeout": 1,
    "maxSessionTimeout": 1,
    "autopurge.snapRetainCount": 3,
    "autopurge.purgeInterval": 0,
    "quorum.cnxn.threads.size": 1,
    "snapCount": 2,
    "globalOutstandingLimit": 1,
}

# zoo.cfg keys the formula owns (compared case-insensitively), with where they come from.
_OWNED_KEYS = {
    "datadir": "zookeeper:data_dir",
    "datalogdir": "zookeeper:data_log_dir",
    "clientport": "zookeeper:ports:client",
    "clientportaddress": "zookeeper:members:<id>:address",
    "secureclientport": "zookeeper:ports:secure_client and zookeeper:tls:enabled",
    "secureclientportaddress": "zookeeper:members:<id>:address and zookeeper:tls:enabled",
    "sslquorum": "zookeeper:tls:enabled",
    "portunification": "the formula (only while switching quorum TLS, see quorum_tls_phases)",
    "client.portunification": "the formula (TLS and plaintext clients get a port each)",
    "servercnxnfactory": "the formula (Netty, which TLS needs)",
    "4lw.commands.whitelist": "zookeeper:four_letter_words",
    "reconfigenabled": "the formula (static ensemble; see membership_change_plan)",
    "dynamicconfigfile": "the formula (static ensemble; see membership_change_plan)",
    "standaloneenabled": "the formula (member count decides)",
    "sessionrequireclientsaslauth": "the formula (client SASL is always enforced)",
    "superuser": "the formula (super user is 'super', password zookeeper:sasl:super_password)",
    "digestauthenticationprovider.superdigest": "the formula (a secret never goes into zoo.cfg)",
    "skipacl": "the formula (ACL checks stay on)",
    "quorumlistenonallips": "the formula (every listener binds the member address)",
    "peertype": "the formula (all members are voting participants)",
}
_OWNED_PREFIXES = {
    "server.": "zookeeper:members",
    "authprovider.": "the formula (SASL authentication provider)",
    "quorum.auth.": "the formula (quorum SASL; password zookeeper:sasl:quorum_password)",
    "enforce.auth.": "the formula (client SASL is always enforced)",
    "admin.": "zookeeper:ports:admin and zookeeper:members:<id>:address",
    "ssl.": "zookeeper:tls (keystores from the cluster CA)",
    "group.": "the formula (hierarchical quorums would break the quorum arithmetic)",
    "weight.": "the formula (weighted quorums would break the quorum arithmetic)",
}

_CONFIG_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_USER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HOST_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_HASH_RE = re.compile(r"^(sha256|sha512)=([0-9a-fA-F]+)$")
_HASH_HEX_LEN = {"sha256": 64, "sha512": 128}
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_JAR_PATH_RE = re.compile(r"^/[A-Za-z0-9._/+-]+\.jar$")


# ---------------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


class NotAMember(LookupError):
    """A minion id that is not in ``zookeeper:members``."""


@dataclass(frozen=True)
class Member:
    """One ensemble member. Ports default to the ensemble-wide ``zookeeper:ports``."""

    minion_id: str
    myid: int
    address: str
    client_port: int = DEFAULTS["ports"]["client"]
    secure_client_port: int = DEFAULTS["ports"]["secure_client"]
    quorum_port: int = DEFAULTS["ports"]["quorum"]
    election_port: int = DEFAULTS["ports"]["election"]
    admin_port: int = DEFAULTS["ports"]["admin"]

    @property
    def host(self) -> str:
        """The address as it appears before ``:port`` (IPv6 literals in brackets)."""
        return f"[{self.address}]" if ":" in self.address else self.address

    @property
    def client_endpoint(self) -> str:
        return f"{self.host}:{self.client_port}"

    @property
    def secure_client_endpoint(self) -> str:
        return f"{self.host}:{self.secure_client_port}"

    @property
    def server_line_value(self) -> str:
        return f"{self.host}:{self.quorum_port}:{self.election_port}"

    @property
    def ports(self) -> dict:
        return {
            "client": self.client_port,
            "secure_client": self.secure_client_port,
            "quorum": self.quorum_port,
            "election": self.election_port,
            "admin": self.admin_port,
        }


@dataclass(frozen=True)
class TlsSettings:
    """``zookeeper:tls``: quorum TLS and the TLS client port."""

    enabled: bool = False
    client_auth: str = "need"
    plaintext_clients: bool = True
    hostname_verification: bool = True


@dataclass(frozen=True)
class EnsembleModel:
    """A validated ``zookeeper:`` pillar. Build it with :meth:`from_pillar`."""

    version: str
    source: str | None
    source_hash: str | None
    allow_single_member: bool
    members: tuple  # of Member, sorted by myid
    client_port: int
    quorum_port: int
    election_port: int
    admin_port: int
    secure_client_port: int
    data_dir: str
    data_log_dir: str
    heap_mb: int
    four_letter_words: tuple  # sorted, deduplicated
    config: tuple  # ((key, value), ...) extra/overridden zoo.cfg keys, sorted by key
    super_password: Secret = field(repr=False)
    quorum_password: Secret = field(repr=False)
    user_passwords: tuple = field(repr=False)  # ((name, Secret), ...) sorted by name
    tls: TlsSettings = TlsSettings()
    install: str = "archive"
    packages: tuple = ()
    package_classpath: tuple = ()

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def from_pillar(cls, zk_pillar: dict, heap_mb_default: int | None = None) -> EnsembleModel:
        """Validate the ``zookeeper:`` pillar and build the model.

        Every problem is collected and raised together as :class:`PillarErrors`; each
        :class:`PillarError` names the full key (``zookeeper:members:kafka2:myid``). Messages
        never contain password values.
        """
        if heap_mb_default is not None and (
            not _is_int(heap_mb_default) or heap_mb_default <= 0
        ):
            raise ValueError(f"heap_mb_default must be a positive integer or None, not {heap_mb_default!r}")
        return _build_model(zk_pillar, heap_mb_default)

    # -- members -------------------------------------------------------------------------------

    @property
    def minion_ids(self) -> list:
        """Member minion ids in myid order."""
        return [m.minion_id for m in self.members]

    def member(self, minion_id: str) -> Member:
        for candidate in self.members:
            if candidate.minion_id == minion_id:
                return candidate
        raise NotAMember(
            f"{minion_id!r} is not a ZooKeeper member (zookeeper:members has {', '.join(self.minion_ids)})"
        )

    def is_member(self, minion_id: str) -> bool:
        return any(m.minion_id == minion_id for m in self.members)

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def quorum_size(self) -> int:
        """Members that must serve for the ensemble to serve (a strict majority)."""
        return self.size // 2 + 1

    @property
    def fault_tolerance(self) -> int:
        return self.size - self.quorum_size

    @property
    def connect_string(self) -> str:
        """``host:port,...`` in myid order, for clients (kazoo, Kafka's zookeeper.connect): the
        TLS client ports when TLS is on (clients always prefer it), else the plaintext ones."""
        return ",".join(self.client_endpoint_of(m) for m in self.members)

    def client_port_of(self, member: Member) -> int:
        """The port the formula's own clients (probes, kazoo) use for ``member``."""
        return member.secure_client_port if self.tls.enabled else member.client_port

    def client_endpoint_of(self, member: Member) -> str:
        return member.secure_client_endpoint if self.tls.enabled else member.client_endpoint

    # -- ports, paths, versions ----------------------------------------------------------------

    @property
    def ports(self) -> dict:
        """Ensemble-wide default ports (a member may override them)."""
        return {
            "client": self.client_port,
            "secure_client": self.secure_client_port,
            "quorum": self.quorum_port,
            "election": self.election_port,
            "admin": self.admin_port,
        }

    @property
    def version_info(self) -> tuple:
        return tuple(int(part) for part in self.version.split("."))

    @property
    def dist_name(self) -> str:
        """Top directory of the Apache release tarball: ``apache-zookeeper-3.8.4-bin``."""
        return f"apache-zookeeper-{self.version}-bin"

    @property
    def install_dir(self) -> str:
        """Where the Apache ``-bin`` tarball of this version unpacks (the package's share dir)."""
        if self.install == "package":
            return PACKAGE_INSTALL_DIR
        return f"{INSTALL_ROOT}/{self.dist_name}"

    def classpath(self, install_dir: str) -> str:
        if self.install == "package":
            return ":".join(self.package_classpath)
        return f"{install_dir}/lib/*:{install_dir}/conf"

    @property
    def config_overrides(self) -> dict:
        return dict(self.config)

    @property
    def tunables(self) -> dict:
        """TUNABLE_DEFAULTS with pillar ``config`` applied (defaults first, extras sorted)."""
        merged = dict(TUNABLE_DEFAULTS)
        merged.update(self.config)
        return merged

    # -- SASL users (names are public, passwords are not) --------------------------------------

    @property
    def sasl_users(self) -> list:
        """Client SASL user names from ``zookeeper:sasl:users`` (without 'super')."""
        return [name for name, _ in self.user_passwords]

    def user_password(self, name: str) -> str:
        """The password of a client SASL user (``super`` included). Handle with care."""
        if name == SUPER_USER:
            return self.super_password.reveal()
        for user, secret in self.user_passwords:
            if user == name:
                return secret.reveal()
        known = ", ".join(self.sasl_users) or "none"
        raise NotAMember(f"{name!r} is not a ZooKeeper SASL user (zookeeper:sasl:users has {known})")


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _key(*parts) -> str:
    return ":".join([PILLAR_ROOT, *(str(p) for p in parts)])


def _check_unknown_keys(errors, mapping, allowed, *key_parts):
    for name in sorted(set(mapping) - set(allowed), key=str):
        errors.append(
            PillarError(_key(*key_parts, name), f"unknown key (expected one of: {', '.join(allowed)})")
        )


def _validate_port(errors, value, key) -> int | None:
    if not _is_int(value) or not 1 <= value <= 65535:
        errors.append(PillarError(key, f"must be an integer port 1..65535, not {value!r}"))
        return None
    return value


def _validate_ports_mapping(errors, mapping, base, key_parts, required, secure_bound=True):
    """Validate a ``{client, secure_client, quorum, election, admin}`` mapping, falling back to
    ``base``. The TLS client port is only bound (so only clashes) when ``secure_bound``."""
    if not isinstance(mapping, dict):
        errors.append(PillarError(_key(*key_parts), "must be a mapping of client/quorum/election/admin ports"))
        return None
    _check_unknown_keys(errors, mapping, PORT_NAMES, *key_parts)
    ports = {}
    for name in PORT_NAMES:
        if name in mapping:
            ports[name] = _validate_port(errors, mapping[name], _key(*key_parts, name))
        elif required:
            errors.append(PillarError(_key(*key_parts, name), "is required"))
            ports[name] = None
        else:
            ports[name] = base.get(name) if base else None
    seen = {}
    for name in PORT_NAMES:
        port = ports[name]
        if port is None or (name == "secure_client" and not secure_bound):
            continue
        if port in seen:
            # Blame the key the pillar actually set (a member override may clash with a default).
            first = seen[port]
            blamed, other = (first, name) if name not in mapping and first in mapping else (name, first)
            errors.append(
                PillarError(_key(*key_parts, blamed), f"port {port} is already used for the {other} port")
            )
        else:
            seen[port] = name
    return ports


def _normalize_address(errors, value, key) -> str | None:
    """An IPv4/IPv6 literal (canonical form) or an RFC 1123 hostname (lower case)."""
    if not isinstance(value, str) or not value.strip():
        errors.append(PillarError(key, f"must be an IPv4/IPv6 address or a hostname, not {value!r}"))
        return None
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        errors.append(PillarError(key, f"write IPv6 addresses without brackets: {text[1:-1]!r}"))
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if ":" in text:
        errors.append(PillarError(key, f"{text!r} is not a valid IPv6 address"))
        return None
    labels = text.rstrip(".").split(".")
    if labels[-1].isdigit():
        # All-numeric last label: it was meant as an IPv4 literal, and an invalid one.
        errors.append(PillarError(key, f"{text!r} is not a valid IPv4 address"))
        return None
    if len(text) > 253 or not all(_HOST_LABEL_RE.match(label) for label in labels):
        errors.append(PillarError(key, f"{text!r} is not a valid hostname or IP address"))
        return None
    return text.rstrip(".").lower()


def _validate_path(errors, value, key) -> str | None:
    if not isinstance(value, str) or not value:
        errors.append(PillarError(key, f"must be an absolute directory path, not {value!r}"))
        return None
    if not value.startswith("/"):
        errors.append(PillarError(key, f"must be an absolute path, not {value!r}"))
        return None
    if _CONTROL_RE.search(value) or any(ch in value for ch in " \t\\"):
        errors.append(PillarError(key, f"must not contain whitespace, backslashes or control characters: {value!r}"))
        return None
    normalized = posixpath.normpath(value)
    if normalized == "/":
        errors.append(PillarError(key, "must not be the root directory"))
        return None
    return normalized


def _validate_password(errors, value, key) -> Secret | None:
    # Messages here must never echo the value.
    if value is None:
        errors.append(PillarError(key, "is required"))
        return None
    if not isinstance(value, str):
        errors.append(PillarError(key, f"must be a string (quote it in YAML), not a {type(value).__name__}"))
        return None
    if value == "":
        errors.append(PillarError(key, "must not be empty"))
        return None
    if _CONTROL_RE.search(value):
        errors.append(PillarError(key, "must not contain control characters (newlines, tabs, ...)"))
        return None
    return Secret(value)


def _validate_version(errors, value) -> str | None:
    key = _key("version")
    if not isinstance(value, str):
        errors.append(PillarError(key, f"must be a quoted version string like \"3.8.4\", not {value!r}"))
        return None
    match = _VERSION_RE.match(value)
    if not match:
        errors.append(PillarError(key, f"must look like \"3.8.4\", not {value!r}"))
        return None
    major, minor = int(match.group(1)), int(match.group(2))
    if major != 3 or not 5 <= minor <= 9:
        errors.append(PillarError(key, f"{value} is not supported: use ZooKeeper 3.6 .. 3.9"))
        return None
    if minor == 5:
        errors.append(
            PillarError(
                key,
                f"{value} cannot enforce client SASL authentication "
                "(sessionRequireClientSASLAuth arrived in 3.6.0): use ZooKeeper 3.6 .. 3.9",
            )
        )
        return None
    return value


def _validate_source(errors, source, source_hash):
    key = _key("source")
    if not isinstance(source, str) or "://" not in source or _CONTROL_RE.search(source):
        errors.append(PillarError(key, f"must be a URL (file://, https://, salt://, ...), not {source!r}"))
        source = None
    hash_key = _key("source_hash")
    if not isinstance(source_hash, str):
        errors.append(PillarError(hash_key, "is required: \"sha512=<hex>\" (or sha256=)"))
        return source, None
    match = _HASH_RE.match(source_hash)
    if not match or len(match.group(2)) != _HASH_HEX_LEN[match.group(1)]:
        errors.append(
            PillarError(hash_key, "must be \"sha512=<128 hex digits>\" or \"sha256=<64 hex digits>\"")
        )
        return source, None
    return source, f"{match.group(1)}={match.group(2).lower()}"


def _validate_names(errors, value, key, pattern, what) -> tuple:
    if not isinstance(value, (list, tuple)) or not value:
        errors.append(PillarError(key, f"must be a non-empty list of {what}, not {value!r}"))
        return ()
    bad = [item for item in value if not isinstance(item, str) or not pattern.match(item)]
    if bad:
        errors.append(PillarError(key, f"{bad!r}: expected {what}"))
        return ()
    return tuple(value)


def _validate_four_letter_words(errors, value) -> tuple:
    key = _key("four_letter_words")
    if not isinstance(value, (list, tuple)):
        errors.append(PillarError(key, f"must be a list of four-letter words, not {value!r}"))
        return ()
    words = []
    for word in value:
        if word == "*":
            errors.append(PillarError(key, "'*' is refused: list the four-letter words you need"))
        elif not isinstance(word, str) or word not in KNOWN_FOUR_LETTER_WORDS:
            errors.append(
                PillarError(
                    key,
                    f"unknown four-letter word {word!r} (known: {', '.join(sorted(KNOWN_FOUR_LETTER_WORDS))})",
                )
            )
        else:
            words.append(word)
    for required in REQUIRED_FOUR_LETTER_WORDS:
        if required not in value:
            errors.append(PillarError(key, f"must include {required!r}: the formula's health checks use it"))
    return tuple(sorted(set(words)))


def _owned_key_reason(name: str) -> str | None:
    lowered = name.lower()
    if lowered in _OWNED_KEYS:
        return _OWNED_KEYS[lowered]
    for prefix, reason in _OWNED_PREFIXES.items():
        if lowered.startswith(prefix):
            return reason
    return None


def _validate_config(errors, value) -> tuple:
    base = ("config",)
    if value is None:
        return ()
    if not isinstance(value, dict):
        errors.append(PillarError(_key(*base), f"must be a mapping of zoo.cfg keys to values, not {value!r}"))
        return ()
    accepted = []
    for name in sorted(value, key=str):
        item = value[name]
        key = _key(*base, name)
        if not isinstance(name, str) or not _CONFIG_KEY_RE.match(name):
            errors.append(PillarError(key, "is not a valid zoo.cfg key (letters, digits, '.', '_', '-')"))
            continue
        owner = _owned_key_reason(name)
        if owner:
            errors.append(PillarError(key, f"is set by the formula, not by zookeeper:config (source: {owner})"))
            continue
        if isinstance(item, bool):
            rendered = "true" if item else "false"
        elif isinstance(item, (int, float, str)):
            rendered = item
        else:
            errors.append(PillarError(key, f"must be a string, number or boolean, not {type(item).__name__}"))
            continue
        if isinstance(rendered, str) and _CONTROL_RE.search(rendered):
            errors.append(PillarError(key, "must not contain newlines or control characters"))
            continue
        if name in INTEGER_TUNABLES:
            minimum = INTEGER_TUNABLES[name]
            if not _is_int(item) or item < minimum:
                errors.append(PillarError(key, f"must be an integer >= {minimum}, not {item!r}"))
                continue
        accepted.append((name, rendered))
    merged = dict(TUNABLE_DEFAULTS)
    merged.update(accepted)
    min_timeout, max_timeout = merged.get("minSessionTimeout"), merged.get("maxSessionTimeout")
    if _is_int(min_timeout) and _is_int(max_timeout) and min_timeout > max_timeout:
        errors.append(
            PillarError(
                _key(*base, "minSessionTimeout"), f"{min_timeout} is larger than maxSessionTimeout {max_timeout}"
            )
        )
    return tuple(accepted)


def _validate_sasl(errors, value):
    base = ("sasl",)
    allowed = ("super_password", "quorum_password", "users")
    if not isinstance(value, dict):
        errors.append(PillarError(_key(*base), "must be a mapping with super_password, quorum_password and users"))
        return None, None, ()
    _check_unknown_keys(errors, value, allowed, *base)
    super_password = _validate_password(errors, value.get("super_password"), _key(*base, "super_password"))
    quorum_password = _validate_password(errors, value.get("quorum_password"), _key(*base, "quorum_password"))
    users = value.get("users") or {}
    accepted = []
    if not isinstance(users, dict):
        errors.append(PillarError(_key(*base, "users"), "must be a mapping of user name -> {password: ...}"))
        return super_password, quorum_password, ()
    for name in sorted(users, key=str):
        entry = users[name]
        key_parts = (*base, "users", name)
        if not isinstance(name, str) or not _USER_NAME_RE.match(name):
            errors.append(PillarError(_key(*key_parts), "user names use letters, digits, '_', '.', '-' only"))
            continue
        if name == SUPER_USER:
            errors.append(
                PillarError(_key(*key_parts), "'super' is reserved: its password is zookeeper:sasl:super_password")
            )
            continue
        if not isinstance(entry, dict):
            errors.append(PillarError(_key(*key_parts), "must be a mapping with a password"))
            continue
        _check_unknown_keys(errors, entry, ("password",), *key_parts)
        secret = _validate_password(errors, entry.get("password"), _key(*key_parts, "password"))
        if secret is not None:
            accepted.append((name, secret))
    return super_password, quorum_password, tuple(accepted)


def _validate_tls(errors, value) -> TlsSettings:
    base = ("tls",)
    defaults = DEFAULTS["tls"]
    if value is None:
        return TlsSettings()
    if not isinstance(value, dict):
        errors.append(PillarError(_key(*base), f"must be a mapping ({', '.join(defaults)}), not {value!r}"))
        return TlsSettings()
    _check_unknown_keys(errors, value, tuple(defaults), *base)
    merged = {**defaults, **value}
    for name in ("enabled", "plaintext_clients", "hostname_verification"):
        if not isinstance(merged[name], bool):
            errors.append(PillarError(_key(*base, name), f"must be true or false, not {merged[name]!r}"))
            merged[name] = defaults[name]
    if merged["client_auth"] not in TLS_CLIENT_AUTH_VALUES:
        errors.append(PillarError(_key(*base, "client_auth"),
                                  f"must be one of {', '.join(TLS_CLIENT_AUTH_VALUES)}, not {merged['client_auth']!r}"))
        merged["client_auth"] = defaults["client_auth"]
    if not merged["enabled"] and not merged["plaintext_clients"]:
        errors.append(PillarError(_key(*base, "plaintext_clients"),
                                  "false needs zookeeper:tls:enabled: true, or clients would have no port at all"))
    return TlsSettings(**{name: merged[name] for name in defaults})


def _validate_members(errors, value, default_ports, allow_single_member, secure_bound=False):
    base = ("members",)
    if not isinstance(value, dict) or not value:
        errors.append(PillarError(_key(*base), "must map at least one minion id to {myid, address}"))
        return ()
    members = []
    for minion_id in sorted(value, key=str):
        entry = value[minion_id]
        key_parts = (*base, minion_id)
        if not isinstance(minion_id, str) or not minion_id or any(ch.isspace() for ch in minion_id):
            errors.append(PillarError(_key(*key_parts), "minion ids must be non-empty strings without spaces"))
            continue
        if not isinstance(entry, dict):
            errors.append(PillarError(_key(*key_parts), "must be a mapping with myid and address"))
            continue
        _check_unknown_keys(errors, entry, ("myid", "address", "ports"), *key_parts)
        myid = entry.get("myid")
        myid_ok = True
        if "myid" not in entry:
            errors.append(PillarError(_key(*key_parts, "myid"), "is required (an integer 1..255, never reused)"))
            myid_ok = False
        elif not _is_int(myid) or not 1 <= myid <= 255:
            errors.append(PillarError(_key(*key_parts, "myid"), f"must be an integer 1..255, not {myid!r}"))
            myid_ok = False
        if "address" not in entry:
            errors.append(PillarError(_key(*key_parts, "address"), "is required (IPv4/IPv6 address or hostname)"))
            address = None
        else:
            address = _normalize_address(errors, entry["address"], _key(*key_parts, "address"))
        ports = default_ports
        if "ports" in entry:
            ports = _validate_ports_mapping(errors, entry["ports"], default_ports, (*key_parts, "ports"), False,
                                            secure_bound)
        if not myid_ok or address is None or ports is None or None in ports.values():
            continue
        members.append(
            Member(
                minion_id=minion_id,
                myid=myid,
                address=address,
                client_port=ports["client"],
                secure_client_port=ports["secure_client"],
                quorum_port=ports["quorum"],
                election_port=ports["election"],
                admin_port=ports["admin"],
            )
        )

    by_myid = {}
    for member in members:
        if member.myid in by_myid:
            errors.append(
                PillarError(
                    _key(*base, member.minion_id, "myid"),
                    f"myid {member.myid} is already used by {by_myid[member.myid].minion_id}",
                )
            )
        else:
            by_myid[member.myid] = member

    # Two members may share an address (several members on one host) only on distinct ports.
    for index, member in enumerate(members):
        for earlier in members[:index]:
            if earlier.address != member.address:
                continue
            def bound(m):
                return {name: port for name, port in m.ports.items() if secure_bound or name != "secure_client"}

            clashes = [
                f"{port} ({mine} here, {theirs} on {earlier.minion_id})"
                for mine, port in bound(member).items()
                for theirs, other in bound(earlier).items()
                if port == other
            ]
            if clashes:
                errors.append(
                    PillarError(
                        _key(*base, member.minion_id, "address"),
                        f"{member.address} is also {earlier.minion_id}'s address and the ports collide: "
                        + ", ".join(clashes),
                    )
                )

    count = len(value)
    if count == 1 and not allow_single_member:
        errors.append(
            PillarError(
                _key(*base),
                "a single member has no fault tolerance: use 3 or 5 members, "
                "or set zookeeper:allow_single_member: true (test beds only)",
            )
        )
    elif count % 2 == 0:
        errors.append(
            PillarError(
                _key(*base),
                f"{count} members: an even count tolerates no more failures than {count - 1} "
                f"and needs a larger quorum; use {count - 1} or {count + 1}",
            )
        )
    return tuple(sorted(members, key=lambda m: m.myid))


def _build_model(zk_pillar, heap_mb_default) -> EnsembleModel:
    errors = []
    if zk_pillar is None:
        zk_pillar = {}
    if not isinstance(zk_pillar, dict):
        raise PillarErrors([PillarError(PILLAR_ROOT, f"must be a mapping, not {type(zk_pillar).__name__}")])
    _check_unknown_keys(errors, zk_pillar, list(DEFAULTS))
    merged = {**DEFAULTS, **zk_pillar}

    version = _validate_version(errors, merged["version"])
    install = merged["install"]
    packages, package_classpath = (), ()
    if install not in INSTALL_METHODS:
        errors.append(PillarError(_key("install"), f"must be one of {', '.join(INSTALL_METHODS)}, not {install!r}"))
        install = "archive"
    if install == "archive":
        source, source_hash = _validate_source(errors, merged["source"], merged["source_hash"])
    else:
        source = source_hash = None
        packages = _validate_names(errors, merged["packages"], _key("packages"), _PACKAGE_RE, "Debian package names")
        package_classpath = _validate_names(errors, merged["package_classpath"], _key("package_classpath"),
                                            _JAR_PATH_RE, "absolute .jar paths")

    allow_single = merged["allow_single_member"]
    if not isinstance(allow_single, bool):
        errors.append(PillarError(_key("allow_single_member"), f"must be true or false, not {allow_single!r}"))
        allow_single = False

    ports_value = merged["ports"]
    if isinstance(ports_value, dict):
        ports_value = {**DEFAULTS["ports"], **ports_value}
    tls_value = merged["tls"]
    secure_bound = isinstance(tls_value, dict) and tls_value.get("enabled") is True
    default_ports = _validate_ports_mapping(errors, ports_value, DEFAULTS["ports"], ("ports",), True, secure_bound)
    members = ()
    if default_ports is not None and None not in default_ports.values():
        members = _validate_members(errors, merged["members"], default_ports, allow_single, secure_bound)
    else:
        # Still report member errors that do not depend on the ports.
        _validate_members(errors, merged["members"], DEFAULTS["ports"], allow_single, secure_bound)

    data_dir = _validate_path(errors, merged["data_dir"], _key("data_dir"))
    data_log_dir = _validate_path(errors, merged["data_log_dir"], _key("data_log_dir"))

    heap_mb = merged["heap_mb"]
    if heap_mb is None:
        heap_mb = heap_mb_default if heap_mb_default is not None else FALLBACK_HEAP_MB
    elif not _is_int(heap_mb) or heap_mb <= 0:
        errors.append(PillarError(_key("heap_mb"), f"must be a positive integer (MiB) or null, not {heap_mb!r}"))

    four_letter_words = _validate_four_letter_words(errors, merged["four_letter_words"])
    sasl_value = merged["sasl"]
    super_password, quorum_password, users = _validate_sasl(errors, sasl_value)
    config = _validate_config(errors, merged["config"])
    tls = _validate_tls(errors, merged["tls"])

    if errors:
        raise PillarErrors(errors)
    return EnsembleModel(
        version=version,
        source=source,
        source_hash=source_hash,
        allow_single_member=allow_single,
        members=members,
        client_port=default_ports["client"],
        quorum_port=default_ports["quorum"],
        election_port=default_ports["election"],
        admin_port=default_ports["admin"],
        secure_client_port=default_ports["secure_client"],
        data_dir=data_dir,
        data_log_dir=data_log_dir,
        heap_mb=heap_mb,
        four_letter_words=four_letter_words,
        config=config,
        super_password=super_password,
        quorum_password=quorum_password,
        user_passwords=users,
        tls=tls,
        install=install,
        packages=packages,
        package_classpath=package_classpath,
    )


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def _properties_value(value) -> str:
    """A zoo.cfg (java.util.Properties) value: booleans lower case, backslashes escaped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace("\\", "\\\\")


def render_zoo_cfg(model: EnsembleModel, minion_id: str, transition: dict | None = None) -> str:
    """zoo.cfg for ``minion_id``. Deterministic and free of secrets.

    ``transition`` (``{"ssl_quorum": bool}``) renders an intermediate step of switching quorum
    TLS on a running ensemble: ``portUnification=true`` (the quorum ports accept TLS and
    plaintext peers alike) with the given ``sslQuorum`` (see :func:`quorum_tls_phases`).
    """
    member = model.member(minion_id)
    tls = model.tls
    quorum_tls = tls.enabled if transition is None else bool(transition["ssl_quorum"])
    keystores = tls.enabled or transition is not None
    lines = [
        f"# {MANAGED_HEADER}",
        f"# ZooKeeper {model.version}: member {member.minion_id} (myid {member.myid}) "
        f"of a {model.size}-member ensemble.",
        f"# No secrets in this file: passwords live in {JAAS_PATH} (mode 0600).",
        "",
        "# Timing, retention and limits (zookeeper:config overrides these)",
    ]
    lines += [f"{key}={_properties_value(value)}" for key, value in model.tunables.items()]
    lines += [
        "",
        "# Storage",
        f"dataDir={model.data_dir}",
        f"dataLogDir={model.data_log_dir}",
    ]
    if keystores:
        lines += ["", "# Netty serves the client ports (TLS needs it)", f"serverCnxnFactory={NETTY_CNXN_FACTORY}"]
    if tls.plaintext_clients:
        lines += [
            "",
            "# Client port, bound to this member's address only",
            f"clientPortAddress={member.address}",
            f"clientPort={member.client_port}",
        ]
    if tls.enabled:
        lines += [
            "",
            f"# TLS client port (SASL over TLS; client certificates: {tls.client_auth}), this member's address only",
            f"secureClientPortAddress={member.address}",
            f"secureClientPort={member.secure_client_port}",
            f"ssl.keyStore.location={MEMBER_KEYSTORE_PATH}",
            "ssl.keyStore.type=PEM",
            f"ssl.trustStore.location={TRUSTSTORE_PATH}",
            "ssl.trustStore.type=PEM",
            f"ssl.clientAuth={tls.client_auth}",
        ]
    if keystores:
        lines += [
            "",
            "# Quorum TLS: members talk to each other over TLS with certificates of the cluster CA",
            f"sslQuorum={'true' if quorum_tls else 'false'}",
            f"ssl.quorum.keyStore.location={MEMBER_KEYSTORE_PATH}",
            "ssl.quorum.keyStore.type=PEM",
            f"ssl.quorum.trustStore.location={TRUSTSTORE_PATH}",
            "ssl.quorum.trustStore.type=PEM",
            f"ssl.quorum.hostnameVerification={'true' if tls.hostname_verification else 'false'}",
        ]
    if transition is not None:
        lines += ["", "# Switching quorum TLS: accept TLS and plaintext peers until every member switched",
                  "portUnification=true"]
    lines += [
        "",
        "# AdminServer (HTTP), bound to this member's address only",
        "admin.enableServer=true",
        f"admin.serverAddress={member.address}",
        f"admin.serverPort={member.admin_port}",
        "",
        "# Four-letter words allowed on the client port (never '*')",
        f"4lw.commands.whitelist={','.join(model.four_letter_words)}",
        "",
        "# Client authentication: every session must authenticate with SASL DIGEST-MD5",
        f"authProvider.sasl={SASL_AUTH_PROVIDER}",
    ]
    if model.version_info >= (3, 7, 0):
        lines += ["enforce.auth.enabled=true", "enforce.auth.schemes=sasl"]
    else:
        lines += ["sessionRequireClientSASLAuth=true"]
    lines += [
        f"superUser={SUPER_USER}",
        "",
        f"# Quorum authentication between members (SASL DIGEST-MD5, user {QUORUM_USER})",
        "quorum.auth.enableSasl=true",
        "quorum.auth.learnerRequireSasl=true",
        "quorum.auth.serverRequireSasl=true",
        f"quorum.auth.learner.saslLoginContext={QUORUM_LEARNER_LOGIN_CONTEXT}",
        f"quorum.auth.server.saslLoginContext={QUORUM_SERVER_LOGIN_CONTEXT}",
        "",
        "# Static ensemble: server.<myid>=<address>:<quorum port>:<election port>",
        "reconfigEnabled=false",
    ]
    lines += [f"server.{m.myid}={m.server_line_value}" for m in model.members]
    return "\n".join(lines) + "\n"


def render_myid(model: EnsembleModel, minion_id: str) -> str:
    """Content of ``<data_dir>/myid``."""
    return f"{model.member(minion_id).myid}\n"


def _jaas_quote(value: str) -> str:
    # The JAAS parser (a StreamTokenizer) unescapes \\ and \" inside quoted strings.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_jaas(model: EnsembleModel) -> str:
    """``/etc/zookeeper/jaas.conf``. SECRET: write it with mode 0600, owner zookeeper."""
    server_users = [(SUPER_USER, model.super_password)] + list(model.user_passwords)
    server_options = [f"    user_{name}={_jaas_quote(secret.reveal())}" for name, secret in server_users]
    lines = [
        f"// {MANAGED_HEADER}",
        "// Contains passwords: mode 0600, owner zookeeper. Never copy it elsewhere.",
        "",
        f"// Clients (SASL DIGEST-MD5). '{SUPER_USER}' is the operator super user (superUser in zoo.cfg).",
        f"{SERVER_LOGIN_CONTEXT} {{",
        f"    {DIGEST_LOGIN_MODULE} required",
        *server_options[:-1],
        server_options[-1] + ";",
        "};",
        "",
        "// Quorum: this member accepting other members",
        f"{QUORUM_SERVER_LOGIN_CONTEXT} {{",
        f"    {DIGEST_LOGIN_MODULE} required",
        f"    user_{QUORUM_USER}={_jaas_quote(model.quorum_password.reveal())};",
        "};",
        "",
        "// Quorum: this member connecting to the leader",
        f"{QUORUM_LEARNER_LOGIN_CONTEXT} {{",
        f"    {DIGEST_LOGIN_MODULE} required",
        f"    username={_jaas_quote(QUORUM_USER)}",
        f"    password={_jaas_quote(model.quorum_password.reveal())};",
        "};",
    ]
    return "\n".join(lines) + "\n"


def super_digest(user: str, password: str) -> str:
    """ZooKeeper's ``DigestAuthenticationProvider.generateDigest("user:password")``.

    ``user:base64(sha1("user:password"))`` -- the form of digest ACL ids and of the
    ``superDigest`` system property.
    """
    if not isinstance(user, str) or not user or ":" in user:
        raise ValueError("user must be a non-empty string without ':'")
    if not isinstance(password, str):
        raise ValueError("password must be a string")
    digest = hashlib.sha1(f"{user}:{password}".encode("utf-8")).digest()
    return f"{user}:{base64.b64encode(digest).decode('ascii')}"


def jvm_env(model: EnsembleModel, minion_id: str) -> dict:
    """Environment of the service process: constant, no secrets (``systemctl show`` prints it).

    The JVM options are all in java.args; these variables only make ZooKeeper's own scripts
    (``zkServer.sh status``, ``zkCli.sh``) find the same config when run in the service context.
    """
    model.member(minion_id)
    return {"ZOOCFGDIR": CONF_DIR, "ZOO_LOG_DIR": LOG_DIR}


def java_options(model: EnsembleModel, minion_id: str, install_dir: str) -> list:
    """Every JVM argument after ``java`` (no secrets): heap, OOM handling, JAAS, classpath, main."""
    model.member(minion_id)
    if not isinstance(install_dir, str) or not install_dir.startswith("/"):
        raise ValueError(f"install_dir must be an absolute path, not {install_dir!r}")
    install_dir = install_dir.rstrip("/")
    return [
        f"-Xms{model.heap_mb}m",
        f"-Xmx{model.heap_mb}m",
        "-XX:+HeapDumpOnOutOfMemoryError",
        f"-XX:HeapDumpPath={LOG_DIR}",
        "-XX:+ExitOnOutOfMemoryError",
        f"-Dzookeeper.log.dir={LOG_DIR}",
        f"-Djava.security.auth.login.config={JAAS_PATH}",
        "-cp",
        model.classpath(install_dir),
        MAIN_CLASS,
        ZOO_CFG_PATH,
    ]


def command(model: EnsembleModel, minion_id: str, install_dir: str, java: str = JAVA_BIN) -> list:
    """The effective java command line of the service: what ``java @java.args`` expands to.

    Free of secrets, so it can be logged or shown. The unit files run :func:`service_argv`.
    """
    return [java, *java_options(model, minion_id, install_dir)]


def service_argv(java: str = JAVA_BIN) -> list:
    """The argv systemd and supervisord run: the JVM reads its options from java.args (Java 9+)."""
    return [java, f"@{JAVA_ARGS_PATH}"]


def _argfile_quote(arg: str) -> str:
    # Java argfiles split on whitespace, treat a leading '#' as a comment and unescape \\ and \"
    # inside double quotes.
    if arg and not re.search(r"[\s#\"'\\]", arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_java_args(
    model: EnsembleModel, minion_id: str, install_dir: str, with_super_digest: bool = False
) -> str:
    """``/etc/zookeeper/java.args``: the JVM @argfile of the service, one argument per line.

    ``with_super_digest=True`` adds ``-Dzookeeper.DigestAuthenticationProvider.superDigest``
    (a secret hash: keep the file 0600). Off by default: ZooKeeper 3.8's AdminServer shows all
    system properties to anyone reaching the admin port; prefer the SASL 'super' login.
    """
    options = java_options(model, minion_id, install_dir)
    if with_super_digest:
        digest = super_digest(SUPER_USER, model.super_password.reveal())
        # System properties must precede the main class.
        options.insert(options.index("-cp"), f"-Dzookeeper.DigestAuthenticationProvider.superDigest={digest}")
    lines = [
        f"# {MANAGED_HEADER}",
        f"# JVM options of ZooKeeper {model.version} (member {minion_id}); the service runs java @{JAVA_ARGS_PATH}",
        *(_argfile_quote(arg) for arg in options),
    ]
    return "\n".join(lines) + "\n"


def _systemd_quote(arg: str) -> str:
    # systemd expands %specifiers and $VARIABLES in ExecStart; double them to keep them literal.
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if re.fullmatch(r"[A-Za-z0-9_@%$+=:,./*-]+", escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_systemd_unit(model: EnsembleModel, minion_id: str, install_dir: str) -> str:
    """``/etc/systemd/system/zookeeper.service`` (production).

    Runs :func:`service_argv`; heap, classpath and version live in java.args, so this text only
    changes when the member or its directories do (``install_dir`` is validated, not embedded).
    """
    member = model.member(minion_id)
    java_options(model, minion_id, install_dir)  # validates install_dir
    writable = sorted({model.data_dir, model.data_log_dir, LOG_DIR})
    lines = [
        f"# {MANAGED_HEADER}",
        "[Unit]",
        f"Description=Apache ZooKeeper (member {member.minion_id}, myid {member.myid})",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"User={SERVICE_USER}",
        f"Group={SERVICE_GROUP}",
        *(f"Environment={name}={value}" for name, value in jvm_env(model, minion_id).items()),
        f"WorkingDirectory={LOG_DIR}",
        "ExecStart=" + " ".join(_systemd_quote(arg) for arg in service_argv()),
        "Restart=on-failure",
        "RestartSec=5",
        # The JVM exits 143 on SIGTERM after a clean shutdown.
        "SuccessExitStatus=143",
        "TimeoutStopSec=60",
        f"LimitNOFILE={LIMIT_NOFILE}",
        "UMask=0077",
        "NoNewPrivileges=true",
        "ProtectSystem=strict",
        "ReadWritePaths=" + " ".join(writable),
        "ProtectHome=true",
        "PrivateTmp=true",
        "PrivateDevices=true",
        "PrivateMounts=true",
        "ProtectProc=invisible",
        "RemoveIPC=true",
        "ProtectKernelTunables=true",
        "ProtectKernelModules=true",
        "ProtectKernelLogs=true",
        "ProtectControlGroups=true",
        "ProtectClock=true",
        "ProtectHostname=true",
        "RestrictNamespaces=true",
        "RestrictRealtime=true",
        "RestrictSUIDSGID=true",
        "LockPersonality=true",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallArchitectures=native",
        "CapabilityBoundingSet=",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


def _supervisor_quote(arg: str) -> str:
    # supervisord splits ``command`` with shlex after %-interpolation: quote, then double '%'.
    return shlex.quote(arg).replace("%", "%%")


def render_supervisord_program(model: EnsembleModel, minion_id: str, install_dir: str) -> str:
    """A supervisord ``[program:zookeeper]`` section (lab, containers): same argv as systemd.

    Constant across heap and version changes (they live in java.args), because supervisord
    restarts a program as soon as ``supervisorctl update`` sees its section change.
    """
    member = model.member(minion_id)
    java_options(model, minion_id, install_dir)  # validates install_dir
    environment = ",".join(
        f'{name}="{value}"'.replace("%", "%%") for name, value in jvm_env(model, minion_id).items()
    )
    lines = [
        f"; {MANAGED_HEADER}",
        f"; Apache ZooKeeper (member {member.minion_id}, myid {member.myid})",
        f"[program:{SERVICE_NAME}]",
        "command=" + " ".join(_supervisor_quote(arg) for arg in service_argv()),
        f"user={SERVICE_USER}",
        f"directory={LOG_DIR}",
        f"environment={environment}",
        "umask=077",
        "autostart=true",
        "autorestart=unexpected",
        "exitcodes=0",
        "startsecs=5",
        "startretries=3",
        "stopsignal=TERM",
        "stopwaitsecs=60",
        "stopasgroup=true",
        "killasgroup=true",
        "redirect_stderr=true",
        f"stdout_logfile={LOG_DIR}/zookeeper.out",
        "stdout_logfile_maxbytes=50MB",
        "stdout_logfile_backups=5",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Status parsing (replies to the srvr and mntr four-letter words)
# ---------------------------------------------------------------------------------------------

NOT_SERVING_TEXT = "This ZooKeeper instance is not currently serving requests"
SERVING_MODES = ("leader", "follower", "standalone", "observer")


class StatusParseError(ValueError):
    """A four-letter-word reply that is neither the expected output nor a known refusal."""


def _number(text: str):
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def _split_version(text: str) -> dict:
    # "3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12 22:16 UTC"
    full = text.strip()
    version = re.match(r"[0-9][0-9.]*[0-9]", full)
    return {"version": version.group(0) if version else full, "version_full": full}


def parse_srvr(text: str) -> dict:
    """Parse a ``srvr`` reply.

    Returns ``{"serving": False, "mode": None}`` when the member answers but is not serving
    (no quorum / election running). Otherwise: ``serving``, ``mode``, ``version``,
    ``version_full``, ``latency_min``, ``latency_avg``, ``latency_max``, ``received``, ``sent``,
    ``connections``, ``outstanding``, ``zxid`` (int), ``zxid_epoch``, ``zxid_counter``,
    ``node_count`` and, on a leader, ``proposal_sizes`` (last, min, max).
    """
    if not isinstance(text, str) or not text.strip():
        raise StatusParseError("empty srvr reply")
    if NOT_SERVING_TEXT in text:
        return {"serving": False, "mode": None}
    result = {}
    for raw in text.splitlines():
        name, sep, value = raw.partition(":")
        if not sep:
            continue
        name, value = name.strip(), value.strip()
        if name == "Zookeeper version":
            result.update(_split_version(value))
        elif name == "Latency min/avg/max":
            parts = value.split("/")
            if len(parts) == 3:
                result["latency_min"], result["latency_avg"], result["latency_max"] = (
                    _number(p) for p in parts
                )
        elif name in ("Received", "Sent", "Connections", "Outstanding", "Node count"):
            result[name.lower().replace(" ", "_")] = _number(value)
        elif name == "Zxid":
            zxid = int(value, 16) if value.lower().startswith("0x") else int(value)
            result.update(zxid=zxid, zxid_epoch=zxid >> 32, zxid_counter=zxid & 0xFFFFFFFF)
        elif name == "Mode":
            result["mode"] = value
        elif name == "Proposal sizes last/min/max":
            result["proposal_sizes"] = tuple(_number(p) for p in value.split("/"))
    if "mode" not in result:
        raise StatusParseError(f"not a srvr reply: {text.strip()[:120]!r}")
    result["serving"] = result["mode"] in SERVING_MODES
    return result


def parse_mntr(text: str) -> dict:
    """Parse a ``mntr`` reply into ``{key: int | float | str}`` (keys keep their ``zk_`` prefix).

    A leader adds ``zk_followers``, ``zk_synced_followers``, ``zk_pending_syncs``... Returns
    ``{"serving": False}`` when the member is not serving.
    """
    if not isinstance(text, str) or not text.strip():
        raise StatusParseError("empty mntr reply")
    if NOT_SERVING_TEXT in text:
        return {"serving": False}
    result = {}
    for raw in text.splitlines():
        if not raw.strip():
            continue
        name, sep, value = raw.partition("\t")
        if not sep or not name.startswith("zk_"):
            raise StatusParseError(f"not a mntr line: {raw[:120]!r}")
        name = name.strip()
        if name in ("zk_version", "zk_server_state"):
            result[name] = value.strip()
        else:
            result[name] = _number(value)
    if "zk_server_state" not in result:
        raise StatusParseError("mntr reply without zk_server_state")
    result["serving"] = result["zk_server_state"] in SERVING_MODES
    return result


# ---------------------------------------------------------------------------------------------
# Ensemble health and roll order
# ---------------------------------------------------------------------------------------------


def _normalize_status(status):
    """One member's status as ``(mode or None, serving, error text, synced_followers)``.

    Accepts None (unreachable), an exception or a string (error), or a dict from
    :func:`parse_srvr`, :func:`parse_mntr`, both merged (``{**srvr, **mntr}``) or srvr with the
    mntr dict nested under ``"mntr"``; ``{"error": ...}`` marks a member that did not answer.
    """
    if status is None:
        return None, False, "unreachable", None
    if isinstance(status, BaseException):
        return None, False, f"{type(status).__name__}: {status}", None
    if isinstance(status, str):
        return None, False, status, None
    if not isinstance(status, dict):
        return None, False, f"unexpected status {type(status).__name__}", None
    if status.get("error"):
        return None, False, str(status["error"]), None
    if isinstance(status.get("mntr"), dict):
        status = {**status["mntr"], **{k: v for k, v in status.items() if k != "mntr"}}
    mode = status.get("mode") or status.get("zk_server_state")
    serving = mode in SERVING_MODES and status.get("serving", True) is not False
    error = None if serving else "running but not serving (no quorum or election in progress)"
    return (mode if serving else None), serving, error, status.get("zk_synced_followers")


def ensemble_health(model: EnsembleModel, statuses: dict) -> dict:
    """Judge the ensemble from per-member statuses (``{minion_id: status}``).

    Verdicts: ``healthy`` (every member serving, exactly one leader whose mntr reports
    ``members - 1`` synced followers), ``degraded`` (serving with a quorum but something is
    missing), ``down`` (fewer than ``quorum_size`` members serving, or two leaders).
    A member absent from ``statuses`` counts as down.
    """
    reasons = []
    serving, down, leaders, modes = [], [], [], {}
    synced = None
    for member in model.members:
        mode, is_serving, error, synced_followers = _normalize_status(statuses.get(member.minion_id))
        if member.minion_id not in statuses:
            error = "no status collected"
        if not is_serving:
            down.append(member.minion_id)
            reasons.append(f"{member.minion_id} is down: {error}")
            continue
        serving.append(member.minion_id)
        modes[member.minion_id] = mode
        single = model.size == 1
        if mode == "leader" or (mode == "standalone" and single):
            leaders.append(member.minion_id)
            synced = synced_followers
        elif mode == "standalone":
            reasons.append(f"{member.minion_id} runs standalone: its zoo.cfg lists a single server")
        elif mode == "observer":
            reasons.append(f"{member.minion_id} is an observer: the formula configures voting members only")
    ignored = sorted(set(statuses) - set(model.minion_ids), key=str)

    quorum_held = len(serving) >= model.quorum_size
    verdict = "healthy"
    if not quorum_held:
        verdict = "down"
        reasons.insert(
            0, f"quorum lost: {len(serving)} of {model.size} members serving, {model.quorum_size} needed"
        )
    if len(leaders) > 1:
        verdict = "down"
        reasons.insert(0, f"split brain: {' and '.join(leaders)} all report leader mode")
    elif not leaders and quorum_held:
        reasons.append("no serving member reports leader mode")
    elif leaders and model.size > 1:
        expected = model.size - 1
        if synced is None:
            reasons.append(f"leader {leaders[0]}: synced followers unknown (no mntr data)")
        elif synced < expected:
            reasons.append(f"leader {leaders[0]} reports {synced} synced followers, expected {expected}")
        elif synced > expected:
            reasons.append(
                f"leader {leaders[0]} reports {synced} synced followers but the ensemble has {expected}: "
                "a server outside zookeeper:members is connected"
            )
    if verdict == "healthy" and reasons:
        verdict = "degraded"
    return {
        "verdict": verdict,
        "reasons": reasons,
        "leader": leaders[0] if len(leaders) == 1 else None,
        "serving": serving,
        "down": down,
        "members": model.size,
        "quorum_size": model.quorum_size,
        "quorum_held": quorum_held,
        "synced_followers": synced,
        "ignored": ignored,
    }


def _leader_of(model: EnsembleModel, statuses: dict):
    leaders = [
        m.minion_id
        for m in model.members
        if _normalize_status(statuses.get(m.minion_id))[0] in ("leader", "standalone")
    ]
    return leaders[0] if len(leaders) == 1 else None


def roll_order(model: EnsembleModel, statuses: dict) -> list:
    """Restart order for a rolling restart: members already down first (restarting them costs
    nothing), then serving followers by myid, the leader last (one election, not several)."""
    down, followers, leader = [], [], []
    for member in model.members:
        mode, is_serving, _, _ = _normalize_status(statuses.get(member.minion_id))
        if not is_serving:
            down.append(member.minion_id)
        elif mode in ("leader", "standalone"):
            leader.append(member.minion_id)
        else:
            followers.append(member.minion_id)
    return down + followers + leader


# ---------------------------------------------------------------------------------------------
# Switching quorum TLS on a running ensemble
# ---------------------------------------------------------------------------------------------


def quorum_tls_phases(deployed: dict, model: EnsembleModel) -> list:
    """The intermediate rolls that switch quorum TLS on for a running ensemble.

    A member with ``sslQuorum=true`` cannot talk to one without it, so a plain rolling restart
    would split the ensemble. ZooKeeper's way (its admin guide, "upgrading an existing non-TLS
    cluster"): roll with ``portUnification=true`` (quorum ports accept both) keeping the old
    ``sslQuorum``, roll again with the new ``sslQuorum``, and finally roll without port
    unification -- that last roll is the ordinary converge-and-roll of ``zookeeper.deploy``.

    ``deployed`` is ``{minion_id: {"ssl_quorum": bool, "port_unification": bool} | None}`` read
    from the members' zoo.cfg files (None: not deployed yet). Returns the transitions still to
    roll, each ``{"ssl_quorum": bool}`` for :func:`render_zoo_cfg`; ``[]`` when none is needed
    (bare hosts, nothing to switch, or only the final roll left). A half-done switch resumes at
    the phase it reached. Switching quorum TLS off is refused: the brokers would lose their TLS
    ZooKeeper port before they moved off it.
    """
    wanted = model.tls.enabled
    running = {mid: d for mid, d in deployed.items() if isinstance(d, dict) and model.is_member(mid)}
    if not running:
        return []
    plaintext_only = sorted(mid for mid, d in running.items() if not d.get("secure_client_port"))
    if plaintext_only and model.tls.enabled and not model.tls.plaintext_clients:
        raise PillarError(
            _key("tls", "plaintext_clients"),
            f"{', '.join(plaintext_only)} serve plaintext clients only: closing that port together with switching "
            "TLS on would cut off the brokers still using it; switch TLS on with plaintext_clients: true, run "
            "kafka.deploy so brokers move to the TLS port, then close the plaintext port",
        )
    if all(d.get("ssl_quorum") == wanted for d in running.values()):
        return []
    if not wanted:
        raise PillarError(
            _key("tls", "enabled"),
            "switching TLS off on a running ensemble is not supported: brokers and clients on the TLS port "
            "would lose ZooKeeper before they could move; keep zookeeper:tls:enabled: true",
        )
    if all(d.get("port_unification") for d in running.values()):
        return [{"ssl_quorum": wanted}]
    return [{"ssl_quorum": not wanted}, {"ssl_quorum": wanted}]


# ---------------------------------------------------------------------------------------------
# Membership changes on a static ensemble
# ---------------------------------------------------------------------------------------------


class MembershipChangeRefused(PillarErrors):
    """The requested membership change cannot be done safely; ``errors`` say why."""


MEMBERSHIP_RULES = """\
Membership changes on a static ensemble (reconfigEnabled=false)

Facts of ZooKeeper's leader election that the rules follow from:
  * a member only counts votes from, and only follows a leader in, its own server list
    (FastLeaderElection ignores notifications for "non-cluster member" sids);
  * a new member starts with an empty data tree;
  * a leader keeps serving while a majority of *its* server list follows it.

Rules (a change breaking one is refused):
  R1 add or remove, never both in one change: replace a member by growing first
     (3 -> 5) and shrinking afterwards (5 -> 3).
  R2 a member's myid, address, quorum and election ports never change while it stays.
  R3 growing: added members < quorum of the new ensemble, so they can never elect a
     leader with an empty tree among themselves (3 -> 5 yes, 3 -> 7 no: go 3 -> 5 -> 7).
  R4 shrinking: removed members < quorum of the old ensemble, so they can never elect
     a leader of their own while still running the old list (5 -> 3 yes, 3 -> 1 no).
  R5 every member that stays (and every old member when growing) must be serving, and
     the current leader must be known: pass statuses.

Procedures (every step states which members must serve before it and waits after it):
  grow:   start each new member with the new list (it joins the current leader), then
          reconfigure (write the new list and restart) the old followers by myid, the
          leader last.
  shrink: the leader must be a member that stays. If it is not, hand leadership over
          first: stop the removed members (followers first, leader last), start them
          again with their unchanged old list, then plan again. Then, if the old leader
          keeps its quorum without the removed members (staying - 1 >= old quorum), stop
          the removed members first and reconfigure the staying followers, leader last;
          otherwise reconfigure the staying followers, then the leader, then stop the
          removed members.
  A member's zoo.cfg changes only at its own step: writing every new list up front would
  let a crash-restart form a new-list majority early.

Residual risk (inherent to static membership changes; dynamic reconfiguration removes it):
  between the first member switching to the new list and the leader's own reconfigure
  step, a leader crash or a network partition can let the old-list and the new-list halves
  elect two leaders. Run the steps back to back, in a maintenance window, checking ensemble
  health before each step.
"""


def _quorum(count: int) -> int:
    return count // 2 + 1


def _step(action, minion_id, reason, require_serving, leader_in, wait_for, config, decommission=False):
    return {
        "action": action,
        "minion_id": minion_id,
        "reason": reason,
        "config": config,
        "require_serving": sorted(require_serving),
        "leader_in": sorted(leader_in),
        "wait_for": wait_for,
        # A removed member's last step: stopped for good (its service definition and zoo.cfg
        # go, its data stays), so a reboot cannot bring it back with a stale server list.
        "decommission": decommission,
    }


def membership_change_plan(old_model: EnsembleModel, new_model: EnsembleModel, statuses: dict | None = None) -> list:
    """Steps that move a running ensemble from ``old_model`` to ``new_model`` keeping quorum.

    Each step is a dict: ``action`` (``start`` | ``reconfigure`` | ``stop`` | ``replan``),
    ``minion_id``, ``reason``, ``config`` (which server list the member's zoo.cfg must hold:
    ``new``, ``old`` or None), ``require_serving`` (members that must be serving before the
    step), ``leader_in`` (the leader must be one of these before the step), ``wait_for``
    (``serving`` or ``stopped``, to reach before the next step) and ``decommission`` (a removed
    member's final stop). ``reconfigure`` = write the new zoo.cfg, then restart. ``replan`` =
    call this function again with fresh statuses (:mod:`kafkasalt.zk_membership` runs them).

    ``statuses`` is ``{minion_id: status}`` as for :func:`ensemble_health`; it is needed to
    know the leader. The rules are in :data:`MEMBERSHIP_RULES`. Raises
    :class:`MembershipChangeRefused` (a :class:`PillarErrors`) with every reason.
    An unchanged member set returns ``[]`` (use :func:`roll_order` for config-only changes).
    """
    old_ids = {m.minion_id for m in old_model.members}
    new_ids = {m.minion_id for m in new_model.members}
    added = sorted(new_ids - old_ids, key=lambda mid: new_model.member(mid).myid)
    removed = sorted(old_ids - new_ids, key=lambda mid: old_model.member(mid).myid)
    staying = sorted(old_ids & new_ids, key=lambda mid: old_model.member(mid).myid)
    members_key = _key("members")
    errors = []

    # R2: identity of staying members.
    for port_name in ("quorum", "election"):
        before, after = old_model.ports[port_name], new_model.ports[port_name]
        if before != after:
            errors.append(
                PillarError(
                    _key("ports", port_name),
                    f"changed from {before} to {after}: members on the old and the new port cannot reach each "
                    "other, so no rolling restart keeps quorum; stop every member, then start them all",
                )
            )
    for mid in staying:
        before, after = old_model.member(mid), new_model.member(mid)
        if before.myid != after.myid:
            errors.append(
                PillarError(
                    _key("members", mid, "myid"),
                    f"changed from {before.myid} to {after.myid}: a member's myid never changes "
                    "(remove it and add the host back under a new minion id and myid)",
                )
            )
        if before.address != after.address:
            errors.append(
                PillarError(
                    _key("members", mid, "address"),
                    f"changed from {before.address} to {after.address}: the other members would keep "
                    "calling the old address; replace the member instead (add a new one, then remove this one)",
                )
            )
        for port_name in ("quorum", "election"):
            follows_default = (before.ports[port_name], after.ports[port_name]) == (
                old_model.ports[port_name],
                new_model.ports[port_name],
            )
            if before.ports[port_name] != after.ports[port_name] and not follows_default:
                errors.append(
                    PillarError(
                        _key("members", mid, "ports", port_name),
                        f"{port_name} port changed from {before.ports[port_name]} to {after.ports[port_name]}: "
                        "members on the old and the new port cannot reach each other, so no rolling restart "
                        "keeps quorum; stop every member, then start them all with the new port",
                    )
                )
    # A myid still held by a removed member cannot be reused in the same change.
    removed_myids = {old_model.member(mid).myid: mid for mid in removed}
    for mid in added:
        myid = new_model.member(mid).myid
        if myid in removed_myids:
            errors.append(
                PillarError(
                    _key("members", mid, "myid"),
                    f"myid {myid} still belongs to {removed_myids[myid]}, which this change removes: use a fresh myid",
                )
            )
    if not added and not removed:
        if errors:
            raise MembershipChangeRefused(errors)
        return []

    # R1, R3, R4.
    if added and removed:
        errors.append(
            PillarError(
                members_key,
                f"adds {', '.join(added)} and removes {', '.join(removed)} in one change: a static ensemble "
                "cannot do both safely; grow first, then shrink in a second change",
            )
        )
    if added and len(added) >= _quorum(new_model.size):
        errors.append(
            PillarError(
                members_key,
                f"adds {len(added)} members to reach {new_model.size}: {len(added)} new members with empty data "
                f"would be a quorum ({_quorum(new_model.size)}) of the new ensemble on their own; "
                "grow in smaller steps (e.g. 3 -> 5 -> 7)",
            )
        )
    if removed and len(removed) >= _quorum(old_model.size):
        errors.append(
            PillarError(
                members_key,
                f"removes {len(removed)} of {old_model.size} members: the removed members are a quorum "
                f"({_quorum(old_model.size)}) of the old ensemble and could elect a leader of their own while "
                "the rest moves on, losing the quorum of either list; remove fewer members per change",
            )
        )
    if errors:
        raise MembershipChangeRefused(errors)

    # R5: state.
    if statuses is None:
        raise MembershipChangeRefused(
            [PillarError(members_key, "the current leader is unknown: pass the members' statuses (srvr/mntr)")]
        )
    serving = {mid for mid in old_ids | new_ids if _normalize_status(statuses.get(mid))[1]}
    leader = _leader_of(old_model, statuses)
    not_serving = [mid for mid in (staying if removed else sorted(old_ids)) if mid not in serving]
    if not_serving:
        errors.append(
            PillarError(
                members_key,
                f"{', '.join(not_serving)} not serving: every current member that stays must serve "
                "before a membership change",
            )
        )
    if leader is None:
        errors.append(
            PillarError(members_key, "no single leader among the current members: the ensemble must be healthy first")
        )
    if errors:
        raise MembershipChangeRefused(errors)

    steps = _grow_steps(old_model, new_model, added, leader) if added else _shrink_steps(
        old_model, new_model, removed, staying, leader, serving
    )
    _check_steps_keep_quorum(steps, old_model, new_model, leader, serving)
    return steps


def _grow_steps(old_model, new_model, added, leader):
    old_ids = [m.minion_id for m in old_model.members]
    steps = []
    running = set(old_ids)
    for mid in added:
        steps.append(
            _step(
                "start",
                mid,
                f"new member {mid} (myid {new_model.member(mid).myid}) starts with the {new_model.size}-member "
                f"list and joins leader {leader} as it finds it in that list",
                running,
                [leader],
                "serving",
                "new",
            )
        )
        running.add(mid)
    followers = [mid for mid in old_ids if mid != leader]
    for mid in followers:
        steps.append(
            _step(
                "reconfigure",
                mid,
                f"follower {mid} switches to the {new_model.size}-member list; leader {leader} keeps its quorum "
                f"of the old list meanwhile",
                running,
                [leader],
                "serving",
                "new",
            )
        )
    steps.append(
        _step(
            "reconfigure",
            leader,
            f"leader {leader} switches last: one election, held among members that all have the new list",
            running,
            [leader],
            "serving",
            "new",
        )
    )
    return steps


def _shrink_steps(old_model, new_model, removed, staying, leader, serving):
    old_ids = [m.minion_id for m in old_model.members]
    removed_followers = [mid for mid in removed if mid != leader]
    if leader in removed:
        # Hand leadership to a staying member: once every removed member is down the election
        # can only pick a staying one (R4 keeps the old quorum meanwhile).
        steps, running = [], {mid for mid in old_ids if mid in serving}
        for mid in removed_followers + [leader]:
            steps.append(
                _step(
                    "stop",
                    mid,
                    f"leader {leader} is being removed; stopping every removed member (the leader last) makes "
                    "the election pick a member that stays",
                    running,
                    [leader],
                    "stopped",
                    None,
                )
            )
            running.discard(mid)
        staying_quorum_alone = len(staying) - 1 >= old_model.quorum_size
        if not staying_quorum_alone:
            for mid in [mid for mid in removed if mid in serving]:
                steps.append(
                    _step(
                        "start",
                        mid,
                        f"{mid} runs again with its unchanged old list: the staying members need its vote to keep "
                        "the old quorum while they restart one by one",
                        running,
                        staying,
                        "serving",
                        "old",
                    )
                )
                running.add(mid)
        steps.append(
            _step(
                "replan",
                None,
                "leadership moved to a staying member: plan again with fresh statuses",
                running,
                staying,
                None,
                None,
            )
        )
        return steps

    steps = []
    running = {mid for mid in old_ids if mid in serving}
    followers = [mid for mid in staying if mid != leader]
    if len(staying) - 1 >= old_model.quorum_size:
        # The leader keeps its old-list quorum with staying members only: remove first, so
        # no removed member runs while lists are mixed.
        for mid in removed:
            steps.append(
                _step(
                    "stop",
                    mid,
                    f"removed member {mid} stops first; leader {leader} keeps {len(running) - 1} of "
                    f"{old_model.size} old-list voters ({old_model.quorum_size} needed)",
                    running,
                    [leader],
                    "stopped",
                    None,
                    decommission=True,
                )
            )
            running.discard(mid)
        roll_reason = "the staying members all have quorum without the removed ones"
    else:
        roll_reason = f"the removed members still vote so leader {leader} keeps its old-list quorum"
    for mid in followers:
        steps.append(
            _step(
                "reconfigure",
                mid,
                f"follower {mid} switches to the {new_model.size}-member list and follows leader {leader}; "
                + roll_reason,
                running,
                [leader],
                "serving",
                "new",
            )
        )
    steps.append(
        _step(
            "reconfigure",
            leader,
            f"leader {leader} switches last: the staying members elect a leader among themselves",
            running,
            [leader],
            "serving",
            "new",
        )
    )
    for mid in removed:
        if mid in running:
            # Still running the old list, it cannot follow the new-list leader: not serving, and
            # too few (R4) to elect a leader of its own.
            steps.append(
                _step(
                    "stop",
                    mid,
                    f"removed member {mid} stops: the new ensemble no longer lists it",
                    staying,
                    staying,
                    "stopped",
                    None,
                    decommission=True,
                )
            )
            running.discard(mid)
        elif not any(step["action"] == "stop" and step["minion_id"] == mid for step in steps):
            # Already down (R5 lets a dead member be removed): nothing to stop, but its files
            # must go so that it never starts again with the old list.
            steps.append(
                _step(
                    "stop",
                    mid,
                    f"removed member {mid} is down already; its service is removed so it never starts again",
                    staying,
                    staying,
                    "stopped",
                    None,
                    decommission=True,
                )
            )
    return steps


def _check_steps_keep_quorum(steps, old_model, new_model, leader, serving):
    """Replay the plan and refuse it if a step would leave the ensemble without a quorum.

    Each member runs the "old" list, the "new" list, or is "down". A member follows the acting
    leader only if that leader is in its own list; the leader counts followers from its own list.
    When the leader itself leaves, the members running one list must hold a majority of that
    list to elect a successor, and the two lists must not both hold one (two leaders).
    Each checked step gets a ``quorum`` annotation: the list that decides, voters serving
    during the step, and the majority needed.
    """
    lists = {"old": set(old_model.minion_ids), "new": set(new_model.minion_ids)}
    myids = {m.minion_id: m.myid for m in (*old_model.members, *new_model.members)}
    state = {mid: ("old" if mid in serving else "down") for mid in lists["old"]}
    state.update({mid: "down" for mid in lists["new"] - lists["old"]})
    acting, acting_list = leader, "old"

    def refuse(number, step, why):
        raise MembershipChangeRefused(
            [PillarError(_key("members"), f"step {number} ({step['action']} {step['minion_id']}) {why}")]
        )

    for number, step in enumerate(steps, 1):
        target, action = step["minion_id"], step["action"]
        if action == "replan":
            break
        if action in ("reconfigure", "stop") and target == acting:
            electors = {
                name: sorted(
                    (mid for mid, mode in state.items() if mode == name and mid != target), key=myids.get
                )
                for name in ("old", "new")
            }
            electable = [name for name in ("new", "old") if len(electors[name]) >= _quorum(len(lists[name]))]
            if not electable:
                refuse(number, step, "leaves no server list with a serving majority to elect a new leader")
            if len(electable) == 2:
                refuse(number, step, "would let the old and the new list each elect a leader")
            acting_list = electable[0]
            acting = electors[acting_list][-1]  # equal zxids: the highest myid wins
            step["quorum"] = {
                "list": acting_list,
                "serving_voters": len(electors[acting_list]),
                "needed": _quorum(len(lists[acting_list])),
            }
        elif action in ("reconfigure", "stop"):
            voters = [
                mid
                for mid, mode in state.items()
                if mode != "down" and mid != target and mid in lists[acting_list] and acting in lists[mode]
            ]
            needed = _quorum(len(lists[acting_list]))
            if len(voters) < needed:
                refuse(
                    number,
                    step,
                    f"leaves leader {acting} with {len(voters)} serving voters of its "
                    f"{len(lists[acting_list])}-member list, {needed} needed",
                )
            step["quorum"] = {"list": acting_list, "serving_voters": len(voters), "needed": needed}
        if action == "stop":
            state[target] = "down"
        elif action in ("start", "reconfigure"):
            new_mode = step["config"]
            if target != acting and acting not in lists[new_mode]:
                refuse(number, step, f"{target} would not find leader {acting} in its server list")
            state[target] = new_mode
    return steps


__all__ = [
    "DEFAULTS",
    "TUNABLE_DEFAULTS",
    "KNOWN_FOUR_LETTER_WORDS",
    "MEMBERSHIP_RULES",
    "EnsembleModel",
    "Member",
    "Secret",
    "NotAMember",
    "MembershipChangeRefused",
    "StatusParseError",
    "render_zoo_cfg",
    "render_myid",
    "render_jaas",
    "render_java_args",
    "super_digest",
    "jvm_env",
    "java_options",
    "command",
    "service_argv",
    "render_systemd_unit",
    "render_supervisord_program",
    "parse_srvr",
    "parse_mntr",
    "ensemble_health",
    "roll_order",
    "quorum_tls_phases",
    "membership_change_plan",
    "TlsSettings",
]

"""The ZooKeeper ensemble model: constants, pillar defaults, :class:`EnsembleModel`.

:meth:`EnsembleModel.from_pillar` validates the ``zookeeper:`` pillar (:mod:`.validate`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kafkasalt.common.secret import Secret
from kafkasalt.common.validation import is_int, pillar_key

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
# The smallest explicit zookeeper:heap_mb: below it the JVM is starved (and a value such as 2
# is a heap meant in GiB).
MIN_HEAP_MB = 64
LIMIT_NOFILE = 65536
MANAGED_HEADER = "Managed by Salt (kafkasalt). Local edits are overwritten."

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
    "heap_mb": None,  # None -> heap_mb_default (kafkasalt.ops.sizing) -> FALLBACK_HEAP_MB
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
    def from_pillar(cls, zk_pillar: dict, heap_mb_default: int | None = None,
                    sizing_by_minion: dict | None = None) -> EnsembleModel:
        """Validate the ``zookeeper:`` pillar and build the model.

        Every problem is collected and raised together as :class:`PillarErrors`; each
        :class:`PillarError` names the full key (``zookeeper:members:kafka2:myid``). Messages
        never contain password values. ``sizing_by_minion``: ``{minion_id: {"mem_total_bytes":
        int, ...}}`` (hardware facts) to check ``heap_mb`` against each member's RAM.
        """
        from kafkasalt.zookeeper.validate import _build_model  # validation builds this class

        if heap_mb_default is not None and (
            not is_int(heap_mb_default) or heap_mb_default <= 0
        ):
            raise ValueError(f"heap_mb_default must be a positive integer or None, not {heap_mb_default!r}")
        return _build_model(zk_pillar, heap_mb_default, sizing_by_minion)

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


def _key(*parts) -> str:
    """The full pillar key ``zookeeper:<parts>``."""
    return pillar_key(PILLAR_ROOT, *parts)


__all__ = ["DEFAULTS", "TUNABLE_DEFAULTS", "EnsembleModel", "Member", "NotAMember", "TlsSettings"]

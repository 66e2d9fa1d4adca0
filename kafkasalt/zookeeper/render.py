"""The files a member runs from: zoo.cfg, myid, JAAS, the JVM @argfile, the systemd unit and the
supervisord program. Deterministic; only the JAAS file (and java.args with the super digest)
holds secrets."""

from __future__ import annotations

import base64
import hashlib

from kafkasalt.common.quoting import (argfile_quote, jaas_quote, properties_value, supervisor_escape,
                                      supervisor_quote, systemd_quote)
from kafkasalt.zookeeper.model import (CONF_DIR, DIGEST_LOGIN_MODULE, JAAS_PATH, JAVA_ARGS_PATH, JAVA_BIN,
                                       LIMIT_NOFILE, LOG_DIR, MAIN_CLASS, MANAGED_HEADER, MEMBER_KEYSTORE_PATH,
                                       NETTY_CNXN_FACTORY, QUORUM_LEARNER_LOGIN_CONTEXT,
                                       QUORUM_SERVER_LOGIN_CONTEXT, QUORUM_USER, SASL_AUTH_PROVIDER,
                                       SERVER_LOGIN_CONTEXT, SERVICE_GROUP, SERVICE_NAME, SERVICE_USER,
                                       SUPER_USER, TRUSTSTORE_PATH, ZOO_CFG_PATH, EnsembleModel)

def render_zoo_cfg(model: EnsembleModel, minion_id: str, transition: dict | None = None) -> str:
    """zoo.cfg for ``minion_id``. Deterministic and free of secrets.

    ``transition`` (``{"ssl_quorum": bool}``) renders an intermediate step of switching quorum
    TLS on a running ensemble: ``portUnification=true`` (the quorum ports accept TLS and
    plaintext peers alike) with the given ``sslQuorum`` (see :func:`kafkasalt.zookeeper.tls.quorum_tls_phases`).
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
    lines += [f"{key}={properties_value(value)}" for key, value in model.tunables.items()]
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


def render_jaas(model: EnsembleModel) -> str:
    """``/etc/zookeeper/jaas.conf``. SECRET: write it with mode 0600, owner zookeeper."""
    server_users = [(SUPER_USER, model.super_password)] + list(model.user_passwords)
    server_options = [f"    user_{name}={jaas_quote(secret.reveal())}" for name, secret in server_users]
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
        f"    user_{QUORUM_USER}={jaas_quote(model.quorum_password.reveal())};",
        "};",
        "",
        "// Quorum: this member connecting to the leader",
        f"{QUORUM_LEARNER_LOGIN_CONTEXT} {{",
        f"    {DIGEST_LOGIN_MODULE} required",
        f"    username={jaas_quote(QUORUM_USER)}",
        f"    password={jaas_quote(model.quorum_password.reveal())};",
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
        *(argfile_quote(arg) for arg in options),
    ]
    return "\n".join(lines) + "\n"


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
        "ExecStart=" + " ".join(systemd_quote(arg) for arg in service_argv()),
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


def render_supervisord_program(model: EnsembleModel, minion_id: str, install_dir: str) -> str:
    """A supervisord ``[program:zookeeper]`` section (lab, containers): same argv as systemd.

    Constant across heap and version changes (they live in java.args), because supervisord
    restarts a program as soon as ``supervisorctl update`` sees its section change.
    """
    member = model.member(minion_id)
    java_options(model, minion_id, install_dir)  # validates install_dir
    environment = ",".join(
        supervisor_escape(f'{name}="{value}"') for name, value in jvm_env(model, minion_id).items()
    )
    lines = [
        f"; {MANAGED_HEADER}",
        f"; Apache ZooKeeper (member {member.minion_id}, myid {member.myid})",
        f"[program:{SERVICE_NAME}]",
        "command=" + " ".join(supervisor_quote(arg) for arg in service_argv()),
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


__all__ = [
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
]

"""The files a broker host needs, rendered from a valid :class:`~kafkasalt.kafka.model.ClusterModel`:

* ``/etc/kafka/server.properties``  :func:`render_server_properties` (no secrets, 0644)
* ``/etc/kafka/kafka_server_jaas.conf`` :func:`render_jaas` (secrets, 0600)
* ``/etc/kafka/admin-client.properties`` :func:`render_client_properties` (secrets, 0600)
* ``/etc/kafka/jmx_exporter.yml``   :func:`render_jmx_exporter_config`
* ``/etc/kafka/log4j.properties``   :func:`render_log4j_properties`
* the service: :func:`jvm_env`, :func:`command`, :func:`render_systemd_unit`,
  :func:`render_supervisord_program` (both run the same command line).
"""

import posixpath
import re
import shlex

from kafkasalt.common.quoting import (escape_properties, jaas_quote, supervisor_escape, supervisor_quote,
                                      systemd_env_quote, systemd_quote)
from kafkasalt.common.secret import Secret
from kafkasalt.common.validation import is_int
from kafkasalt.kafka import dynamic_config
from kafkasalt.kafka.model import (_CONTROL_CHARS, _USER_NAME, AUTHORIZER_CLASS, DEFAULT_DATA_DIR, DEFAULT_NOFILE,
                                   JAAS_PATH, JAVA_BIN, JMX_EXPORTER_CONFIG_PATH, KEYSTORE_PATH, LOG4J_PATH, LOG_DIR,
                                   MANAGED_HEADER, MIN_HEAP_MB, MIN_PORT, PRLIMIT_BIN, RUN_USER, SCRAM_LOGIN_MODULE,
                                   SERVER_PROPERTIES_PATH, SERVICE_NAME, STATE_DIR, STOP_TIMEOUT_SECONDS,
                                   TRUSTSTORE_PATH, ZOOKEEPER_DIGEST_LOGIN_MODULE, KRAFT_AUTHORIZER_CLASS, LOG4J2_PATH,
                                   _host_port)
from kafkasalt.kafka import kraft

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
    if not is_int(value) or value < 1:
        raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
    return value


def broker_effective_config(model, minion_id, log_dirs=None, num_network_threads=3, num_io_threads=8,
                            num_recovery_threads_per_data_dir=1, num_replica_fetchers=None):
    """The ``key -> value`` (strings) that :func:`render_server_properties` writes for one broker.

    ``log_dirs`` wins over ``kafka:brokers:<minion>:log_dirs``, which wins over ``kafka:log_dirs``; with neither, :data:`DEFAULT_DATA_DIR`. Thread
    counts come from :mod:`kafkasalt.ops.sizing` (the defaults are Kafka's). Precedence: computed
    values < ``kafka:config`` < ``kafka:brokers:<minion>:config``. Sorted by key.
    """
    if model.kraft and "broker" not in model.roles(minion_id):
        return controller_effective_config(model, minion_id, log_dirs=log_dirs)
    broker = model.broker(minion_id)
    directories = _check_log_dirs_argument(log_dirs or broker.log_dirs or model.log_dirs or [DEFAULT_DATA_DIR])
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
    if not model.kraft:  # a KRaft model has no ensemble: model.zookeeper_connect() would raise
        config["zookeeper.connect"] = model.zookeeper_connect()
        config["zookeeper.set.acl"] = True
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
    if model.kraft:
        _kraft_broker_keys(model, minion_id, broker, config)
    config.update(model.config)
    config.update(broker.config)
    return {key: _format_value(config[key]) for key in sorted(config)}


_TLS_STORES = {
    "ssl.keystore.type": "PEM",
    "ssl.keystore.location": KEYSTORE_PATH,
    "ssl.truststore.type": "PEM",
    "ssl.truststore.location": TRUSTSTORE_PATH,
    "ssl.endpoint.identification.algorithm": "https",
}


def _controller_tls(config):
    """The CONTROLLER listener: TLS with client certificates (kraft.yml's controller_listener)."""
    listener = kraft.required_table()["controller_listener"]
    prefix = f"listener.name.{listener['name'].lower()}."
    config["controller.listener.names"] = listener["name"]
    config[f"{prefix}ssl.client.auth"] = listener["client_auth"]
    return listener


def _kraft_broker_keys(model, minion_id, broker, config):
    """Turn a broker's ZooKeeper-mode keys into KRaft ones: ``node.id`` and ``process.roles``
    for ``broker.id``, the quorum for ``zookeeper.*``, the StandardAuthorizer; a combined node
    also binds the CONTROLLER listener (not advertised: clients never use it)."""
    for key in [k for k in config if k.startswith("zookeeper.")] + ["broker.id"]:
        config.pop(key, None)
    roles = model.roles(minion_id)
    config["process.roles"] = ",".join(roles)
    config["node.id"] = broker.broker_id
    # The CONTROLLER listener is SSL with client certificates whatever kafka:listeners say: a
    # broker whose own listeners are plaintext still needs its keystore to reach the controllers.
    for key, value in _TLS_STORES.items():
        config.setdefault(key, value)
    config["controller.quorum.bootstrap.servers"] = model.quorum_bootstrap_servers()
    config["authorizer.class.name"] = KRAFT_AUTHORIZER_CLASS
    listener = _controller_tls(config)
    config["listener.security.protocol.map"] += f",{listener['name']}:{listener['protocol']}"
    if "controller" not in roles:
        # The controllers create topics: 4.x warns that a broker-only node's value is ignored in 5.0.
        config.pop("default.replication.factor", None)
    if kraft.version_at_least(model.version, "4.0.0"):
        # The share-group state topic (KIP-932, 4.x) is created like __consumer_offsets: with the
        # cluster's replication, not Kafka's 3 / 2, which a smaller cluster cannot place.
        config["share.coordinator.state.topic.replication.factor"] = model.default_replication_factor
        config["share.coordinator.state.topic.min.isr"] = model.min_insync_replicas
    if "controller" in roles:
        controller = model.controller(minion_id)
        config["listeners"] += f",{listener['name']}://{controller.endpoint}"


def controller_effective_config(model, minion_id, log_dirs=None):
    """The ``key -> value`` (strings) of a dedicated KRaft controller's ``server.properties``:
    ``process.roles=controller``, its ``node.id``, the CONTROLLER listener only (TLS, client
    certificates required, also advertised for the KIP-853 dynamic quorum), the quorum's
    bootstrap servers, the StandardAuthorizer with the super users, and the replication
    defaults (in KRaft the controller applies them to new topics). ``kafka:config`` applies;
    no ``zookeeper.*`` key. Sorted by key."""
    controller = model.controller(minion_id)
    directories = _check_log_dirs_argument(log_dirs or model.log_dirs or [DEFAULT_DATA_DIR])
    listener_name = kraft.required_table()["controller_listener"]["name"]
    config = {
        "process.roles": "controller",
        "node.id": controller.node_id,
        "listeners": f"{listener_name}://{controller.endpoint}",
        "advertised.listeners": f"{listener_name}://{controller.endpoint}",
        "controller.quorum.bootstrap.servers": model.quorum_bootstrap_servers(),
        "authorizer.class.name": KRAFT_AUTHORIZER_CLASS,
        "super.users": ";".join(model.super_users),
        "allow.everyone.if.no.acl.found": False,
        "log.dirs": ",".join(directories),
        "default.replication.factor": model.default_replication_factor,
        "min.insync.replicas": model.min_insync_replicas,
        "offsets.topic.replication.factor": model.default_replication_factor,
        "transaction.state.log.replication.factor": model.default_replication_factor,
        "transaction.state.log.min.isr": model.min_insync_replicas,
        "auto.create.topics.enable": False,
        **_TLS_STORES,
        "ssl.client.auth": "required",
    }
    listener = _controller_tls(config)
    config["listener.security.protocol.map"] = f"{listener['name']}:{listener['protocol']}"
    config.update(model.config)
    return {key: _format_value(config[key]) for key in sorted(config)}


def render_properties(entries, header_lines):
    """``key=value`` lines (escaped, in the given order) under ``#`` header lines."""
    lines = [f"# {line}" if line else "#" for line in header_lines]
    lines.extend(f"{escape_properties(key, True)}={escape_properties(value, False)}"
                 for key, value in entries.items())
    return "\n".join(lines) + "\n"


def render_server_properties(model, minion_id, log_dirs=None, num_network_threads=3, num_io_threads=8,
                             num_recovery_threads_per_data_dir=1, num_replica_fetchers=None):
    """Content of ``/etc/kafka/server.properties`` for one broker: deterministic, sorted, no secrets."""
    config = broker_effective_config(model, minion_id, log_dirs=log_dirs, num_network_threads=num_network_threads,
                                     num_io_threads=num_io_threads,
                                     num_recovery_threads_per_data_dir=num_recovery_threads_per_data_dir,
                                     num_replica_fetchers=num_replica_fetchers)
    if model.kraft:
        roles = model.roles(minion_id)
        node_id = config["node.id"]
        what = f"KRaft {'+'.join(roles)} node {node_id} ({minion_id}) of cluster '{model.cluster_name}'."
    else:
        broker = model.broker(minion_id)
        what = f"broker {broker.broker_id} ({minion_id}) of cluster '{model.cluster_name}', ZooKeeper mode."
    header = [
        MANAGED_HEADER,
        f"Kafka {model.version} {what}",
        f"No secrets here: SASL passwords are in {JAAS_PATH}, the TLS key in {KEYSTORE_PATH}.",
    ]
    return render_properties(config, header)


# --- secret files -------------------------------------------------------------------------------

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
    return (f"{login_module} required username={jaas_quote(username)} "
            f"password={jaas_quote(_check_secret_argument(password, 'password'))};")


def render_jaas(model):
    """Content of ``/etc/kafka/kafka_server_jaas.conf`` (SECRET: mode 0600, owner kafka).

    ``KafkaServer``: the SCRAM login the broker uses on the inter-broker listener.
    ``Client``: the DIGEST-MD5 login of the brokers' ZooKeeper user.
    """
    inter_broker = model.inter_broker_user
    if model.kraft:  # no ZooKeeper client: the KafkaServer login only
        return "\n".join([
            f"/* {MANAGED_HEADER} Contains secrets: keep mode 0600, owner {RUN_USER}. */",
            "KafkaServer {",
            f"    {SCRAM_LOGIN_MODULE} required",
            f"    username={jaas_quote(inter_broker.name)}",
            f"    password={jaas_quote(inter_broker.password.reveal())};",
            "};",
            "",
        ])
    zookeeper_password = model.zookeeper_password()
    return "\n".join([
        f"/* {MANAGED_HEADER} Contains secrets: keep mode 0600, owner {RUN_USER}. */",
        "KafkaServer {",
        f"    {SCRAM_LOGIN_MODULE} required",
        f"    username={jaas_quote(inter_broker.name)}",
        f"    password={jaas_quote(inter_broker.password.reveal())};",
        "};",
        "",
        "Client {",
        f"    {ZOOKEEPER_DIGEST_LOGIN_MODULE} required",
        f"    username={jaas_quote(model.zookeeper_user)}",
        f"    password={jaas_quote(zookeeper_password.reveal())};",
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
    if not is_int(heap_mb) or heap_mb < MIN_HEAP_MB:
        raise ValueError(f"heap_mb: expected an integer >= {MIN_HEAP_MB} (MiB), got {heap_mb!r}")
    return heap_mb


def _resolve_heap(model, heap_mb):
    if heap_mb is None:
        heap_mb = model.heap_mb
    if heap_mb is None:
        raise ValueError("heap_mb: kafka:heap_mb is null, pass the value sized for this host (kafkasalt.ops.sizing)")
    return _check_heap(heap_mb)


def jvm_env(model, minion_id, heap_mb=None, jmx_agent_path=None, jmx_port=None):
    """Environment of the broker JVM, in kafka-run-class.sh's variable names.

    ``heap_mb`` defaults to ``kafka:heap_mb``. With ``jmx_agent_path`` (the Prometheus JMX
    exporter jar) the agent serves metrics on ``<broker address>:<jmx_port>`` (default
    ``kafka:jmx_exporter:port``) with :data:`JMX_EXPORTER_CONFIG_PATH`.
    """
    node = model.controller(minion_id) if model.kraft and "broker" not in model.roles(minion_id) else \
        model.broker(minion_id)
    heap_mb = _resolve_heap(model, heap_mb)
    # A dedicated controller speaks TLS only: it has no JAAS file.
    kafka_opts = [] if node is not None and not hasattr(node, "broker_id") else \
        [f"-Djava.security.auth.login.config={JAAS_PATH}"]
    if jmx_agent_path is not None:
        if not model.jmx_exporter.enabled:
            raise ValueError("jmx_agent_path: the JMX exporter is disabled (kafka:jmx_exporter:enabled)")
        if not isinstance(jmx_agent_path, str) or not jmx_agent_path.startswith("/") or " " in jmx_agent_path:
            raise ValueError(f"jmx_agent_path: expected an absolute path without spaces, got {jmx_agent_path!r}")
        port = model.jmx_exporter.port if jmx_port is None else jmx_port
        if not is_int(port) or not MIN_PORT <= port <= 65535:
            raise ValueError(f"jmx_port: expected a port number {MIN_PORT}-65535, got {port!r}")
        kafka_opts.append(f"-javaagent:{jmx_agent_path}={_host_port(node.address, port)}:{JMX_EXPORTER_CONFIG_PATH}")
    return {
        "KAFKA_HEAP_OPTS": f"-Xms{heap_mb}m -Xmx{heap_mb}m",
        "KAFKA_JVM_PERFORMANCE_OPTS": JVM_PERFORMANCE_OPTS,
        "KAFKA_GC_LOG_OPTS": GC_LOG_OPTS,
        "KAFKA_LOG4J_OPTS": (f"-Dlog4j2.configurationFile={LOG4J2_PATH}" if uses_log4j2(model.version)
                             else f"-Dlog4j.configuration=file:{LOG4J_PATH}"),
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


def _check_nofile(nofile):
    if not is_int(nofile) or nofile < 1024:
        raise ValueError(f"nofile: expected an integer >= 1024, got {nofile!r}")
    return nofile


def render_systemd_unit(model, minion_id, install_dir=None, heap_mb=None, nofile=DEFAULT_NOFILE,
                        jmx_agent_path=None, jmx_port=None, java_bin=JAVA_BIN):
    """Content of ``/etc/systemd/system/kafka.service`` running :func:`command`."""
    if model.kraft:  # a dedicated controller is no broker; KRaft has no ZooKeeper to wait for
        roles = model.roles(minion_id)
        node = model.controller(minion_id).node_id if "controller" in roles else model.broker(minion_id).broker_id
        what, after = f"KRaft {'+'.join(roles)} node {node}", "network-online.target"
        docs = f"https://kafka.apache.org/{''.join(model.version.split('.')[:2])}/documentation.html"
    else:
        what, after = f"broker {model.broker(minion_id).broker_id}", "network-online.target zookeeper.service"
        docs = "https://kafka.apache.org/39/documentation.html"
    argv = command(model, minion_id, install_dir, heap_mb, jmx_agent_path, jmx_port, java_bin)
    env = jvm_env(model, minion_id, heap_mb, jmx_agent_path, jmx_port)
    environment = [f"Environment={systemd_env_quote(key, env[key])}" for key in sorted(env)]
    lines = [
        f"# {MANAGED_HEADER}",
        "[Unit]",
        f"Description=Apache Kafka {model.version} {what} (cluster {model.cluster_name})",
        f"Documentation={docs}",
        "Wants=network-online.target",
        f"After={after}",
        "",
        "[Service]",
        "Type=simple",
        f"User={RUN_USER}",
        f"Group={RUN_USER}",
        f"WorkingDirectory={STATE_DIR}",
        *environment,
        "ExecStart=" + " ".join(systemd_quote(arg) for arg in argv),
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
        "command=" + " ".join(supervisor_quote(arg) for arg in full),
        "environment=" + supervisor_escape(environment),
        f"user={user}",
        f"directory={STATE_DIR}",
        "autostart=true",
        "autorestart=unexpected",
        "exitcodes=0,143",
        # A start is "successful" after 3 s: a bad config fails well within that; whether the
        # broker then registers and catches up is what the restart gates poll (as with systemd,
        # whose start returns at once), so a longer wait only adds to every restart.
        "startsecs=3",
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


def uses_log4j2(version):
    """Kafka 4.x logs with Log4j2 (``log4j2.yaml``); 3.x with reload4j (``log4j.properties``)."""
    minimum = (kraft.table() or {}).get("min_versions", {}).get("log4j2", "4.0.0")
    return kraft.version_at_least(version, minimum)


def render_log4j2_yaml():
    """``/etc/kafka/log4j2.yaml`` for Kafka 4.x: the files and levels of
    :func:`render_log4j_properties` (the table is kraft.yml's ``log4j2``), size-capped rolling
    files under ``${sys:kafka.logs.dir}``."""
    import yaml

    spec = kraft.required_table()["log4j2"]
    rolling = []
    for name, filename in spec["appenders"].items():
        base = filename.rsplit(".", 1)[0]
        rolling.append({
            "name": name,
            "fileName": f"${{sys:kafka.logs.dir}}/{filename}",
            "filePattern": f"${{sys:kafka.logs.dir}}/{base}.%i.log",
            "PatternLayout": {"pattern": spec["pattern"]},
            "SizeBasedTriggeringPolicy": {"size": spec["max_file_size"]},
            "DefaultRolloverStrategy": {"max": spec["max_backups"]},
        })
    loggers = []
    for name, logger in spec["loggers"].items():
        entry = {"name": name, "level": logger["level"]}
        if logger.get("appender"):
            entry.update({"additivity": False, "AppenderRef": [{"ref": logger["appender"]}]})
        loggers.append(entry)
    document = {"Configuration": {
        "Appenders": {"RollingFile": rolling},
        "Loggers": {"Root": {"level": spec["root"]["level"], "AppenderRef": [{"ref": spec["root"]["appender"]}]},
                    "Logger": loggers},
    }}
    return f"# {MANAGED_HEADER}\n" + yaml.safe_dump(document, sort_keys=False, default_flow_style=False)


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

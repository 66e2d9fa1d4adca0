"""A real, secured Kafka cluster on 127.0.0.1 for functional tests and benchmarks.

What it starts, from the tarballs built by ``lab.artifacts``:

- one ZooKeeper node (anonymous; this fixture does not test ZooKeeper security) on a free port;
- ``broker_count`` brokers (ids 1..N, ``-Xmx256m`` unless told otherwise, started in parallel)
  whose only listeners are SASL_SSL: ``CLIENT`` for clients and ``BROKER`` between brokers, both
  SCRAM-SHA-512, TLS from a throw-away CA made with :mod:`kafkasalt.security.pki` (PEM key and trust
  stores), ``AclAuthorizer`` with ``super.users=User:admin;User:broker`` and
  ``allow.everyone.if.no.acl.found=false``.

The SCRAM users ``admin`` and ``broker`` are written into ZooKeeper with
:func:`kafkasalt.kafka.zk_users.upsert_user` before any broker starts, as the Salt states do: a broker
whose inter-broker listener uses SCRAM cannot start without its user.

Every process runs in its own process group; :meth:`SecureCluster.stop` kills all of them (also
after a failed start), so callers wrap the cluster in ``try/finally`` or use it as a context
manager.
"""

import atexit
import os
import secrets
import signal
import socket
import subprocess
import tarfile
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

from kafkasalt.security import pki
from kafkasalt.kafka import zk_users
from kafkasalt.zookeeper import client as zkclient
from kafkasalt.kafka.admin import KafkaAdmin
from kafkasalt.kafka.admin.connection import ConnectionSettings, KafkaAdminError

LOOPBACK = "127.0.0.1"
BROKER_HEAP = "-Xmx256m"
CLI_HEAP = "-Xmx256m"
STARTUP_TIMEOUT_SECONDS = 120
STOP_TIMEOUT_SECONDS = 20
CHROOT = "/kafka"
SCRAM_MECHANISM = "SCRAM-SHA-512"
SUPER_USER = "admin"
INTER_BROKER_USER = "broker"


class ClusterError(RuntimeError):
    """The test cluster could not be started."""


def free_port():
    """A TCP port that is free on the loopback address right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _jaas(username, password):
    # Kafka's JAAS syntax: quoted values, trailing semicolon.
    return (f'org.apache.kafka.common.security.scram.ScramLoginModule required '
            f'username="{username}" password="{password}";')


class Process:
    """A JVM started from a packaged launcher, in its own process group, output to a log file."""

    def __init__(self, name, command, env, log_path):
        self.name = name
        self.command = [str(part) for part in command]
        self.env = dict(os.environ, **env)
        self.log_path = Path(log_path)
        self.process = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=self.env, start_new_session=True)

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines=40):
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self, sig=signal.SIGKILL):
        """Send ``sig`` to the process group and wait for the JVM to exit."""
        if not self.alive():
            return
        try:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except ProcessLookupError:
            pass

    def stop(self):
        """Polite stop (SIGTERM, a controlled shutdown for a broker), SIGKILL if it lingers."""
        self.kill(signal.SIGTERM)


def extract(manifest, name, target):
    """Extract artifact ``name`` of the manifest under ``target``; returns its top directory."""
    entry = manifest[name]
    tarball = Path(unquote(urlparse(entry["source"]).path))
    destination = Path(target) / name
    if not (destination / entry["top_dir"]).is_dir():
        destination.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarball) as archive:
            archive.extractall(destination, filter="data")
    return destination / entry["top_dir"]


class SecureCluster:
    """ZooKeeper + ``broker_count`` SASL_SSL/SCRAM brokers with ACLs, all on 127.0.0.1."""

    def __init__(self, work_dir, manifest, broker_count=3, broker_overrides=None, broker_heap=BROKER_HEAP):
        self.work_dir = Path(work_dir)
        self.broker_heap = broker_heap
        self.manifest = manifest
        self.broker_count = broker_count
        self.broker_overrides = dict(broker_overrides or {})
        self.admin_password = secrets.token_urlsafe(18)
        self.broker_password = secrets.token_urlsafe(18)
        self.zookeeper = None
        self.zookeeper_port = None
        self.brokers = {}  # broker id -> Process
        self.client_ports = {}
        self.broker_ports = {}
        self.kafka_home = None
        self.zookeeper_home = None
        self.ca_file = None
        self._keystores = {}

    # ----------------------------------------------------------------- public API
    @property
    def zookeeper_connect(self):
        return f"{LOOPBACK}:{self.zookeeper_port}{CHROOT}"

    @property
    def bootstrap_servers(self):
        return [f"{LOOPBACK}:{self.client_ports[broker_id]}" for broker_id in sorted(self.client_ports)]

    def settings(self, username=SUPER_USER, password=None, **overrides):
        """ConnectionSettings for ``username`` (the super user by default)."""
        values = {
            "bootstrap_servers": self.bootstrap_servers,
            "username": username,
            "password": self.admin_password if password is None else password,
            "ca_file": str(self.ca_file),
            "client_id": "kafkasalt-tests",
            "request_timeout_ms": 30000,
        }
        values.update(overrides)
        return ConnectionSettings(**values)

    def client_kwargs(self, username, password):
        """Keyword arguments for kafka-python producers/consumers of this cluster."""
        return {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": SCRAM_MECHANISM,
            "sasl_plain_username": username,
            "sasl_plain_password": password,
            "ssl_cafile": str(self.ca_file),
        }

    @property
    def admin_client_properties(self):
        """Path of a ``--command-config`` file for the packaged tools, as the super user."""
        return self.work_dir / "admin-client.properties"

    def run_tool(self, script, *args, timeout=120):
        """Run a packaged ``bin/`` tool; returns the CompletedProcess (text)."""
        env = dict(os.environ, KAFKA_HEAP_OPTS=CLI_HEAP, LOG_DIR=str(self.work_dir / "tool-logs"))
        return subprocess.run([str(self.kafka_home / "bin" / script), *map(str, args)], capture_output=True,
                              text=True, timeout=timeout, env=env)

    def start(self):
        """Start everything; on any failure stop what was started and raise ClusterError."""
        # Last line of defence: an interrupted run (Ctrl-C, a crashing test session) still kills the JVMs.
        atexit.register(self.stop)
        try:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            self.kafka_home = extract(self.manifest, "kafka", self.work_dir / "dist")
            self.zookeeper_home = extract(self.manifest, "zookeeper", self.work_dir / "dist")
            self._make_tls()
            self._start_zookeeper()
            self._bootstrap_users()
            for broker_id in range(1, self.broker_count + 1):
                self._configure_broker(broker_id)
            for broker_id in self.brokers:
                self.brokers[broker_id].start()
            self.wait_for_brokers(set(self.brokers))
            self._write_admin_client_properties()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Kill every broker, then ZooKeeper (SIGKILL: nothing here needs a clean shutdown)."""
        for process in self.brokers.values():
            process.kill()
        if self.zookeeper is not None:
            self.zookeeper.kill()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def kill_broker(self, broker_id):
        """SIGKILL one broker (a crash, not a controlled shutdown)."""
        self.brokers[broker_id].kill()

    def start_broker(self, broker_id, wait=True):
        """Start a stopped broker again (same data dir and ports)."""
        self.brokers[broker_id].start()
        if wait:
            self.wait_for_brokers({broker_id})

    def wait_for_brokers(self, broker_ids, timeout=STARTUP_TIMEOUT_SECONDS):
        """Wait until every broker in ``broker_ids`` is registered in the cluster metadata."""
        deadline = time.monotonic() + timeout
        registered = set()
        last_error = None
        while time.monotonic() < deadline:
            for broker_id in broker_ids:
                process = self.brokers[broker_id]
                if not process.alive():
                    raise ClusterError(f"broker {broker_id} exited with {process.process.returncode}:\n"
                                       f"{process.log_tail()}")
            try:
                with KafkaAdmin(self.settings(request_timeout_ms=5000, bootstrap_timeout_ms=3000)) as admin:
                    registered = {broker["id"] for broker in admin.describe_cluster()["brokers"]}
                if set(broker_ids) <= registered:
                    return
            except KafkaAdminError as exc:
                last_error = exc
            time.sleep(0.5)
        tails = "\n".join(f"--- broker {b}:\n{self.brokers[b].log_tail(15)}" for b in broker_ids)
        raise ClusterError(f"brokers {sorted(set(broker_ids) - registered)} not registered within {timeout}s "
                           f"(last error: {last_error}):\n{tails}")

    # ----------------------------------------------------------------- steps
    def _make_tls(self):
        tls_dir = self.work_dir / "tls"
        tls_dir.mkdir(mode=0o700, exist_ok=True)
        ca_key, ca_cert = pki.create_ca("kafkasalt test CA")
        self.ca_file = tls_dir / "ca.crt"
        self.ca_file.write_text(pki.pem_truststore(ca_cert))
        for broker_id in range(1, self.broker_count + 1):
            key, cert = pki.issue_cert(ca_key, ca_cert, f"broker-{broker_id}", ip_addresses=[LOOPBACK])
            keystore = tls_dir / f"broker-{broker_id}.keystore.pem"
            _write_private(keystore, pki.pem_keystore(key, cert, ca_cert))
            self._keystores[broker_id] = keystore

    def _start_zookeeper(self):
        work = self.work_dir / "zookeeper"
        work.mkdir(exist_ok=True)
        self.zookeeper_port = free_port()
        config = work / "zoo.cfg"
        config.write_text("\n".join([
            "tickTime=1000",
            f"dataDir={work / 'data'}",
            f"clientPort={self.zookeeper_port}",
            f"clientPortAddress={LOOPBACK}",
            "admin.enableServer=false",
            "4lw.commands.whitelist=ruok,srvr",
            "",
        ]))
        self.zookeeper = Process("zookeeper", [self.zookeeper_home / "bin" / "zkServer.sh", "start-foreground", config],
                                 {"ZK_SERVER_HEAP": "128", "ZOO_LOG_DIR": str(work / "logs")}, work / "console.log")
        self.zookeeper.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if not self.zookeeper.alive():
                raise ClusterError(f"ZooKeeper exited:\n{self.zookeeper.log_tail()}")
            try:
                if zkclient.four_letter_word(LOOPBACK, self.zookeeper_port, "ruok", timeout=1) == "imok":
                    return
            except zkclient.ZkUnavailable:
                pass
            time.sleep(0.2)
        raise ClusterError(f"ZooKeeper did not answer ruok within {STARTUP_TIMEOUT_SECONDS}s")

    def _bootstrap_users(self):
        with zkclient.session(f"{LOOPBACK}:{self.zookeeper_port}") as client:
            for username, password in ((SUPER_USER, self.admin_password),
                                       (INTER_BROKER_USER, self.broker_password)):
                zk_users.upsert_user(client, CHROOT, username, password, SCRAM_MECHANISM)

    def _configure_broker(self, broker_id):
        work = self.work_dir / f"broker-{broker_id}"
        work.mkdir(exist_ok=True)
        client_port, broker_port = free_port(), free_port()
        self.client_ports[broker_id] = client_port
        self.broker_ports[broker_id] = broker_port
        replication = min(3, self.broker_count)
        properties = {
            "broker.id": broker_id,
            "listeners": f"CLIENT://{LOOPBACK}:{client_port},BROKER://{LOOPBACK}:{broker_port}",
            "advertised.listeners": f"CLIENT://{LOOPBACK}:{client_port},BROKER://{LOOPBACK}:{broker_port}",
            "listener.security.protocol.map": "CLIENT:SASL_SSL,BROKER:SASL_SSL",
            "inter.broker.listener.name": "BROKER",
            "sasl.enabled.mechanisms": SCRAM_MECHANISM,
            "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
            # Server side of both listeners; the BROKER one also logs in as the inter-broker user.
            "listener.name.client.scram-sha-512.sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "listener.name.broker.scram-sha-512.sasl.jaas.config": _jaas(INTER_BROKER_USER, self.broker_password),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": self._keystores[broker_id],
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": self.ca_file,
            "ssl.client.auth": "none",
            "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
            "super.users": f"User:{SUPER_USER};User:{INTER_BROKER_USER}",
            "allow.everyone.if.no.acl.found": "false",
            "zookeeper.connect": self.zookeeper_connect,
            # A killed broker leaves the cluster after this long (the health test waits for it).
            "zookeeper.session.timeout.ms": 6000,
            "log.dirs": work / "data",
            "num.partitions": 1,
            "default.replication.factor": 1,
            "offsets.topic.replication.factor": replication,
            "offsets.topic.num.partitions": 3,
            "transaction.state.log.replication.factor": replication,
            "transaction.state.log.min.isr": 1,
            "transaction.state.log.num.partitions": 3,
            "group.initial.rebalance.delay.ms": 0,
            "auto.create.topics.enable": "false",
            # The default 128 MiB dedupe buffer is half the heap; a small one leaves room for
            # thousands of topics.
            "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,
            "num.network.threads": 2,
            "num.io.threads": 2,
            "controlled.shutdown.enable": "true",
        }
        properties.update(self.broker_overrides)
        server_properties = work / "server.properties"
        _write_private(server_properties, "".join(f"{key}={value}\n" for key, value in properties.items()))
        env = {
            "KAFKA_HEAP_OPTS": self.broker_heap,
            "LOG_DIR": str(work / "logs"),
            # No JMX port and no GC log: nothing here reads them.
            "EXTRA_ARGS": "",
        }
        self.brokers[broker_id] = Process(f"broker-{broker_id}",
                                          [self.kafka_home / "bin" / "kafka-server-start.sh", server_properties],
                                          env, work / "console.log")

    def _write_admin_client_properties(self):
        _write_private(self.admin_client_properties, "\n".join([
            "security.protocol=SASL_SSL",
            f"sasl.mechanism={SCRAM_MECHANISM}",
            f"sasl.jaas.config={_jaas(SUPER_USER, self.admin_password)}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={self.ca_file}",
            "",
        ]))

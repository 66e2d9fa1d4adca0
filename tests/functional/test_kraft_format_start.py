"""A KRaft cluster made by our own core, run for real: one dedicated controller and one broker
from the Kafka 4.x tarball (``lab.artifacts``), on 127.0.0.1.

Everything Kafka reads comes from the modules under test: ``server.properties`` and
``log4j2.yaml`` from :mod:`kafkasalt.kafka.render`, the cluster and directory ids from
:mod:`kafkasalt.kafka.cluster_id`, the ``kafka-storage.sh format`` argv and the format plan
from :mod:`kafkasalt.kafka.storage`. The only edit is where files live: the TLS stores and the
JAAS file are written under the test's directory instead of ``/etc/kafka``.

Security is the renderer's own, nothing turned off: the CONTROLLER listener is SSL with client
certificates (the nodes' certificates from :mod:`kafkasalt.security.pki`, CN
``controller-ctl1``/``broker-kafka1`` in ``super.users``), the broker's CLIENT and BROKER
listeners are SASL_SSL with SCRAM-SHA-512, and the users exist only because the controller was
formatted with ``--add-scram`` (through an argument file, as a deploy keeps passwords out of
``ps``): the admin tools log in as the super user, whose password holds ' ', '#', '=' and ']'.

Ports 19291-19293 (no other test uses them); about 30 s.
"""

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from kafkasalt.kafka import cluster_id, render, storage
from kafkasalt.kafka import model as kafka_model
from kafkasalt.security import pki
from lab import artifacts
from tests.functional.processes import Service, port_open

LOOPBACK = "127.0.0.1"
CONTROLLER_PORT, CLIENT_PORT, BROKER_PORT = 19291, 19292, 19293
BOOTSTRAP = f"{LOOPBACK}:{CLIENT_PORT}"
HEAP = "-Xms256m -Xmx256m"
TOOL_ENV = {"KAFKA_HEAP_OPTS": "-Xmx128m"}
STARTUP_TIMEOUT_SECONDS = 40
ADMIN_PASSWORD = "admin=Secret;4] #x"  # '=', ';', ']', ' ' and '#' must reach the metadata log unchanged
BROKER_PASSWORD = "broker-Secret-5"


def pillar(manifest):
    entry = manifest["kafka4"]
    return {
        "cluster_name": "functional",
        "version": artifacts.KAFKA4_VERSION,
        "mode": "kraft",
        "source": entry["source"],
        "source_hash": entry["source_hash"],
        "brokers": {"kafka1": {"broker_id": 1, "address": LOOPBACK}},
        "controllers": {"ctl1": {"node_id": 101, "address": LOOPBACK, "port": CONTROLLER_PORT}},
        "listeners": {"CLIENT": {"port": CLIENT_PORT, "protocol": "SASL_SSL"},
                      "BROKER": {"port": BROKER_PORT, "protocol": "SASL_SSL"}},
        "super_user": {"name": "admin", "password": ADMIN_PASSWORD},
        "inter_broker_user": {"name": "broker", "password": BROKER_PASSWORD},
        "default_replication_factor": 1,
        "min_insync_replicas": 1,
        "allow_min_isr_equal_rf": True,
        "heap_mb": 256,
        "jmx_exporter": {"enabled": False},
    }




def run(argv, env=None, timeout=60):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **TOOL_ENV, **(env or {})), stdin=subprocess.DEVNULL)


def relocate(text, node_dir, truststore):
    """Our rendered text with the /etc/kafka paths moved under the test's directory."""
    return (text.replace(render.KEYSTORE_PATH, str(node_dir / "keystore.pem"))
                .replace(render.TRUSTSTORE_PATH, str(truststore))
                .replace(render.JAAS_PATH, str(node_dir / "kafka_server_jaas.conf")))


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def status_fields(output):
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in output.splitlines())
            if value}


def test_our_config_and_format_arguments_start_a_secured_kraft_cluster(extract_artifact, artifact_manifest, tmp_path):
    for port in (CONTROLLER_PORT, CLIENT_PORT, BROKER_PORT):
        assert not port_open(port), f"{LOOPBACK}:{port} is taken: this test needs it"
    home = extract_artifact("kafka4")
    model = kafka_model.ClusterModel.from_pillar(pillar(artifact_manifest))
    ids = cluster_id.KraftIdStore(str(tmp_path / "master" / "kraft"))
    cluster = ids.cluster_id()
    directory_ids = ids.directory_ids(c.node_id for c in model.controllers)

    ca_key, ca_cert = pki.create_ca("kafkasalt functional KRaft CA")
    truststore = tmp_path / "truststore.pem"
    truststore.write_text(pki.pem_truststore(ca_cert))

    nodes = {}
    for minion in ("ctl1", "kafka1"):
        node_dir = tmp_path / minion
        node_dir.mkdir()
        roles = model.roles(minion)
        key, cert = pki.issue_cert(ca_key, ca_cert, model.certificate_name(minion, roles), ip_addresses=[LOOPBACK])
        write_private(node_dir / "keystore.pem", pki.pem_keystore(key, cert, ca_cert))
        data = node_dir / "data"
        config = node_dir / "server.properties"
        config.write_text(relocate(render.render_server_properties(model, minion, log_dirs=[str(data)]),
                                   node_dir, truststore))
        (node_dir / "log4j2.yaml").write_text(render.render_log4j2_yaml())
        env = render.jvm_env(model, minion)
        if "broker" in roles:
            write_private(node_dir / "kafka_server_jaas.conf", render.render_jaas(model))
        node_id = storage.node_id(model, minion)
        expected_directory = directory_ids[node_id] if "controller" in roles else None
        plan = storage.plan_format(storage.read_log_dirs([str(data)]), cluster, node_id, expected_directory)
        assert (plan.action, plan.ignore_formatted) == ("format", False), plan.reason
        nodes[minion] = {
            "dir": node_dir, "data": data, "config": config, "node_id": node_id, "directory_id": expected_directory,
            "format": storage.format_arguments(model, minion, cluster, directory_ids, str(config),
                                               storage_script=str(home / "bin" / "kafka-storage.sh")),
            "env": {"KAFKA_HEAP_OPTS": HEAP, "LOG_DIR": str(node_dir / "logs"),
                    "KAFKA_LOG4J_OPTS": env["KAFKA_LOG4J_OPTS"].replace(render.LOG4J2_PATH,
                                                                        str(node_dir / "log4j2.yaml")),
                    "KAFKA_OPTS": relocate(env["KAFKA_OPTS"], node_dir, truststore)},
        }

    def format_node(node):
        """Through an argument file (0600, removed after), as a deploy keeps passwords out of ps."""
        path = node["dir"] / "format.args"
        argv, text = node["format"].argument_file(str(path))
        write_private(path, text)
        try:
            return run(argv, {"LOG_DIR": str(node["dir"] / "tool-logs")})
        finally:
            path.unlink()

    with ThreadPoolExecutor(2) as pool:
        formatted = dict(zip(nodes, pool.map(format_node, nodes.values())))
    for minion, result in formatted.items():
        assert result.returncode == 0, f"{minion}: {nodes[minion]['format']}\n{result.stdout}{result.stderr}"
        assert ADMIN_PASSWORD not in result.stdout + result.stderr
    assert "Formatting dynamic metadata voter directory" in formatted["ctl1"].stdout
    ids.mark_formatted(101)
    assert formatted["ctl1"].stdout.count("UserScramCredentialRecord(name=") == 2
    assert "--add-scram" not in nodes["kafka1"]["format"].reveal()
    # Kafka's meta.properties is what our plan reads as "this node, formatted": a second run does nothing.
    for node in nodes.values():
        again = storage.plan_format(storage.read_log_dirs([str(node["data"])]), cluster, node["node_id"],
                                    node["directory_id"], formatted_before=ids.was_formatted(node["node_id"]))
        assert again.action == "formatted", again.reason

    services = {}
    try:
        for minion in ("ctl1", "kafka1"):
            node = nodes[minion]
            services[minion] = Service(minion, [home / "bin" / "kafka-server-start.sh", node["config"]],
                                       node["dir"] / "console.log", env=node["env"],
                                       startup_timeout=STARTUP_TIMEOUT_SECONDS)

        def broker_serving():
            assert services["ctl1"].alive(), f"the controller exited:\n{services['ctl1'].log_tail()}"
            return port_open(CLIENT_PORT)

        services["kafka1"].wait_until(broker_serving, "SASL_SSL client listener", timeout=STARTUP_TIMEOUT_SECONDS)
        client = tmp_path / "admin-client.properties"
        write_private(client, render.render_client_properties(model, "admin", model.super_user.password,
                                                              truststore_path=str(truststore)))
        quorum_status = [home / "bin" / "kafka-metadata-quorum.sh", "--bootstrap-server", BOOTSTRAP,
                         "--command-config", client, "describe", "--status"]
        api_versions = [home / "bin" / "kafka-broker-api-versions.sh", "--bootstrap-server", BOOTSTRAP,
                        "--command-config", client]
        deadline = time.monotonic() + 20
        while True:  # the two tools in parallel: each is a JVM start
            with ThreadPoolExecutor(2) as pool:
                quorum, versions = pool.map(run, (quorum_status, api_versions))
            status = status_fields(quorum.stdout)
            if quorum.returncode == versions.returncode == 0 and '"id": 1' in status.get("CurrentObservers", ""):
                break
            if time.monotonic() > deadline:
                break
            time.sleep(1)
        assert quorum.returncode == 0, quorum.stdout + quorum.stderr
        assert status["ClusterId"] == cluster
        assert status["LeaderId"] == "101"
        assert (f'{{"id": 101, "directoryId": "{directory_ids[101]}", '
                f'"endpoints": ["CONTROLLER://{LOOPBACK}:{CONTROLLER_PORT}"]}}') in status["CurrentVoters"]
        assert '"id": 1' in status["CurrentObservers"], status  # the broker follows the metadata log
        # Registered and unfenced: the broker is in the metadata the admin client gets.
        assert versions.returncode == 0, versions.stderr
        assert f"{LOOPBACK}:{CLIENT_PORT} (id: 1 rack: null isFenced: false) ->" in versions.stdout
    finally:
        for minion in ("kafka1", "ctl1"):  # the broker's controlled shutdown needs the controller
            if minion in services:
                services[minion].stop()
    for minion, service in services.items():
        assert not service.alive()
        console = service.log_tail(100_000)
        assert artifacts.logging_trouble(console) is None, console[-2000:]
        # Our log4j2.yaml has no console appender: the lines went to its files only.
        server_log = (nodes[minion]["dir"] / "logs" / "server.log").read_text()
        assert f"[KafkaRaftServer nodeId={nodes[minion]['node_id']}] Kafka Server started" in server_log
        assert "Kafka Server started" not in console
        assert ADMIN_PASSWORD not in console + server_log

"""The KRaft core, pure (no Salt, no processes): the kept cluster and directory ids
(:mod:`kafkasalt.kafka.cluster_id`), the ``kafka-storage.sh format`` arguments and the
never-format-over-data rule (:mod:`kafkasalt.kafka.storage`), and the KRaft parts of
:mod:`kafkasalt.kafka.render` (server.properties per role, log4j2.yaml for 4.x).

Where Kafka parses what we produce, the test parses it the way Kafka's own code does
(``ScramParser``, ``DynamicVoter.parse``), so a form Kafka would read differently fails here.
"""

import base64
import copy
import dataclasses
import logging
import os
import pickle
import re
import stat

import pytest
import yaml

from kafkasalt.common import quoting
from kafkasalt.common.errors import PillarError
from kafkasalt.kafka import cluster_id, render, storage
from kafkasalt.kafka import model as kafka_model
from kafkasalt.kafka.kraft import Controller

ADMIN_PASSWORD = "admin=Secret;4]x"  # '=', ';' and ']' reach Kafka unchanged
BROKER_PASSWORD = "broker-Secret-5"
CLUSTER_ID = "iEXWMWcaIj1XOmck6I231g"  # as kafka-storage.sh random-uuid prints them
DIRECTORY_IDS = {101: "aZP8oURiU6Gn4X9hFMJOcg", 102: "foqGDR7AUdfVh-EK3dA3hQ", 103: "MvDxzVmcRsaTz33bUuRU6A"}
CONFIG = "/etc/kafka/server.properties"

SPLIT = {  # three dedicated controllers, three brokers
    "cluster_name": "lab",
    "version": "4.3.1",
    "mode": "kraft",
    "source": "file:///root/.cache/kafkasalt/artifacts/kafka_2.13-4.3.1.tgz",
    "source_hash": "sha512=" + "cd" * 64,
    "brokers": {
        "kafka1": {"broker_id": 1, "address": "127.0.0.11", "rack": "r1"},
        "kafka2": {"broker_id": 2, "address": "127.0.0.12", "rack": "r2"},
        "kafka3": {"broker_id": 3, "address": "127.0.0.13", "rack": "r3"},
    },
    "controllers": {
        "ctl1": {"node_id": 101, "address": "127.0.0.21"},
        "ctl2": {"node_id": 102, "address": "127.0.0.22"},
        "ctl3": {"node_id": 103, "address": "127.0.0.23", "port": 9096},
    },
    "super_user": {"name": "admin", "password": ADMIN_PASSWORD},
    "inter_broker_user": {"name": "broker", "password": BROKER_PASSWORD},
    "log_dirs": ["/data/a", "/data/b"],
    "heap_mb": 1024,
}


def build(pillar=SPLIT, **changes):
    pillar = copy.deepcopy(pillar)
    pillar.update(changes)
    return kafka_model.ClusterModel.from_pillar(pillar)


@pytest.fixture(scope="module")
def split():
    return build()


@pytest.fixture(scope="module")
def combined():
    """kafka1 is broker and controller (node id 1 = its broker id), ctl2 and ctl3 are dedicated."""
    return build(controllers={"kafka1": {"node_id": 1}, "ctl2": {"node_id": 102, "address": "127.0.0.22"},
                              "ctl3": {"node_id": 103, "address": "127.0.0.23", "port": 9096}})


# --- Kafka's own parsers, as they read what we produce ------------------------------------------

def kafka_scram_parse(argument):
    """``org.apache.kafka.metadata.storage.ScramParser``: mechanism, then the bracketed text split
    on every ',' into key=value (split at the first '='), one pair of surrounding '"' stripped."""
    argument = argument.strip()
    mechanism, _, config = argument.partition("=")
    assert config.startswith("[") and config.endswith("]"), argument
    values = {}
    for component in config[1:-1].split(","):
        key, sep, value = component.partition("=")
        assert sep, f"No equals sign found in SCRAM component: {component}"
        if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
            value = value[1:-1]
        values[key] = value
    return mechanism, values


def kafka_voters_parse(text):
    """``org.apache.kafka.raft.DynamicVoters.parse``: ``id@host:port:directoryId`` by ','."""
    voters = []
    for voter in filter(None, text.strip().split(",")):
        node, _, rest = voter.partition("@")
        if rest.startswith("["):
            host, _, rest = rest[1:].partition("]")
        else:
            host, _, rest = rest.partition(":")
            rest = ":" + rest
        assert rest.startswith(":")
        port, _, directory = rest[1:].partition(":")
        voters.append((int(node), host, int(port), directory))
    return voters


def read_properties(text):
    entries = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert key not in entries, f"{key} twice"
            entries[key] = value
    return entries


# --- cluster and directory ids ------------------------------------------------------------------

def test_an_id_is_kafkas_uuid_text_22_url_safe_base64_characters_of_16_bytes():
    raw = bytes(range(200, 216))
    value = cluster_id.encode(raw)
    assert len(value) == 22 and "=" not in value
    assert value == base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert base64.urlsafe_b64decode(value + "==") == raw
    assert cluster_id.encode(bytes(15) + b"\x01") == "AAAAAAAAAAAAAAAAAAAAAQ"  # Kafka's Uuid(0, 1)
    with pytest.raises(ValueError):
        cluster_id.encode(bytes(15))


def test_random_ids_are_valid_distinct_and_url_safe():
    ids = {cluster_id.random_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(cluster_id.id_problem(value) is None and re.fullmatch(r"[A-Za-z0-9_-]{22}", value) for value in ids)


def test_a_draw_kafka_would_not_make_is_drawn_again():
    draws = iter([b"\xf8" + bytes(15),  # "-..." reads as a command-line option
                  bytes(16),  # the zero id (Uuid.ZERO_UUID)
                  bytes(15) + b"\x63",  # 99: reserved (directory ids below 100)
                  b"\x01" * 16])
    assert cluster_id.random_id(lambda n: next(draws)) == cluster_id.encode(b"\x01" * 16)


@pytest.mark.parametrize("value", [
    None, 42, "", "AAAA", "A" * 23, "iEXWMWcaIj1XOmck6I231+", "iEXWMWcaIj1XOmck6I23==",
    "iEXWMWcaIj1XOmck6I231B",  # 16 bytes leave the last character's 4 low bits zero
    "-EXWMWcaIj1XOmck6I231g", "AAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAQ", " iEXWMWcaIj1XOmck6I231g",
])
def test_an_unusable_id_is_named(value):
    assert cluster_id.id_problem(value)


def test_the_cluster_id_is_generated_once_0600_and_kept(tmp_path):
    store = cluster_id.KraftIdStore(str(tmp_path / "kraft"))
    first = store.cluster_id()
    path = tmp_path / "kraft" / "cluster.id"
    assert cluster_id.id_problem(first) is None
    assert path.read_text() == first + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "kraft").stat().st_mode) == 0o700
    assert store.cluster_id() == first
    assert cluster_id.KraftIdStore(str(tmp_path / "kraft")).cluster_id() == first  # a later run
    assert not [name for name in os.listdir(tmp_path / "kraft") if name.endswith(".tmp")]


def test_directory_ids_are_per_node_kept_and_distinct(tmp_path):
    store = cluster_id.KraftIdStore(str(tmp_path))
    ids = store.directory_ids([101, 102, 103])
    assert len(set(ids.values())) == 3 and all(cluster_id.id_problem(v) is None for v in ids.values())
    assert cluster_id.KraftIdStore(str(tmp_path)).directory_ids([103, 101, 102]) == ids
    assert store.cluster_id() not in ids.values()
    assert sorted(os.listdir(tmp_path / "directory_ids")) == ["101", "102", "103"]
    for node in ids:
        assert stat.S_IMODE((tmp_path / "directory_ids" / str(node)).stat().st_mode) == 0o600


@pytest.mark.parametrize("node_id", [-1, True, "101", 101.0, None])
def test_a_directory_id_needs_an_integer_node_id(tmp_path, node_id):
    with pytest.raises(ValueError, match="node_id"):
        cluster_id.KraftIdStore(str(tmp_path)).directory_id(node_id)


def test_an_id_written_by_another_writer_first_is_the_one_kept(tmp_path, monkeypatch):
    """The id is linked to its name, never renamed over it: a writer that loses the race reads
    the winner's id, and a host formatted with it keeps matching."""
    store = cluster_id.KraftIdStore(str(tmp_path))
    path = tmp_path / "cluster.id"
    real_link = os.link

    def racing_link(source, target):
        path.write_text(CLUSTER_ID + "\n")  # the other writer wins between our read and our link
        return real_link(source, target)

    monkeypatch.setattr(os, "link", racing_link)
    assert store.cluster_id() == CLUSTER_ID
    assert path.read_text() == CLUSTER_ID + "\n"
    assert os.listdir(tmp_path).count("cluster.id") == 1
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_the_id_is_on_disk_before_it_has_a_name(tmp_path, monkeypatch):
    events = []
    real_fsync, real_link = os.fsync, os.link
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "link", lambda s, t: (events.append("link"), real_link(s, t))[1])
    cluster_id.KraftIdStore(str(tmp_path)).cluster_id()
    assert events == ["fsync", "link", "fsync"]  # the file, its name, then the directory


@pytest.mark.parametrize("content", ["", "garbage\n", CLUSTER_ID[:-1] + "\n"])
def test_a_damaged_id_file_is_an_error_never_a_new_id(tmp_path, content):
    store = cluster_id.KraftIdStore(str(tmp_path))
    (tmp_path / "cluster.id").write_text(content)
    with pytest.raises(ValueError, match="refusing to generate a new one"):
        store.cluster_id()
    assert (tmp_path / "cluster.id").read_text() == content


def test_a_crash_before_the_link_leaves_no_id_behind(tmp_path):
    """A temporary file left by a crash is no id: the next run draws and keeps one."""
    (tmp_path / f"cluster.id.{os.getpid()}.tmp").write_text("half")
    value = cluster_id.KraftIdStore(str(tmp_path)).cluster_id()
    assert (tmp_path / "cluster.id").read_text() == value + "\n"


def test_a_formatted_voter_is_recorded_with_its_directory_id(tmp_path):
    store = cluster_id.KraftIdStore(str(tmp_path))
    assert not store.was_formatted(101)
    store.mark_formatted(101)
    store.mark_formatted(101)  # again after a retried deploy: no change
    assert store.was_formatted(101) and not store.was_formatted(102)
    assert (tmp_path / "formatted" / "101").read_text() == store.directory_id(101) + "\n"


def test_the_store_lives_beside_the_cluster_ca(tmp_path):
    store = cluster_id.store_for(str(tmp_path), "lab")
    assert store.directory == str(tmp_path / "kafka" / "lab" / "kraft")
    with pytest.raises(PillarError) as caught:
        cluster_id.store_for(str(tmp_path), "../etc")
    assert caught.value.key == "kafka:cluster_name"


# --- kafka-storage.sh format arguments ----------------------------------------------------------

VOTERS = "101@127.0.0.21:9095:aZP8oURiU6Gn4X9hFMJOcg,102@127.0.0.22:9095:foqGDR7AUdfVh-EK3dA3hQ," \
         "103@127.0.0.23:9096:MvDxzVmcRsaTz33bUuRU6A"


def test_a_dedicated_controller_formats_the_dynamic_quorum_with_the_scram_users(split):
    argv = storage.format_arguments(split, "ctl2", CLUSTER_ID, DIRECTORY_IDS, CONFIG).reveal()
    assert argv == ["kafka-storage.sh", "format", "--cluster-id", CLUSTER_ID, "--config", CONFIG,
                    "--initial-controllers", VOTERS,
                    "--add-scram", f"SCRAM-SHA-512=[name=admin,password={ADMIN_PASSWORD}]",
                    "--add-scram", f"SCRAM-SHA-512=[name=broker,password={BROKER_PASSWORD}]"]


def test_kafka_reads_our_voters_and_scram_users_as_meant(split):
    argv = storage.format_arguments(split, "ctl1", CLUSTER_ID, DIRECTORY_IDS, CONFIG).reveal()
    voters = kafka_voters_parse(argv[argv.index("--initial-controllers") + 1])
    assert voters == [(c.node_id, c.address, c.port, DIRECTORY_IDS[c.node_id]) for c in split.controllers]
    scram = [kafka_scram_parse(argv[i + 1]) for i, arg in enumerate(argv) if arg == "--add-scram"]
    assert scram == [("SCRAM-SHA-512", {"name": "admin", "password": ADMIN_PASSWORD}),
                     ("SCRAM-SHA-512", {"name": "broker", "password": BROKER_PASSWORD})]


def test_a_combined_node_is_formatted_as_a_controller(combined):
    ids = {1: DIRECTORY_IDS[101], 102: DIRECTORY_IDS[102], 103: DIRECTORY_IDS[103]}
    argv = storage.format_arguments(combined, "kafka1", CLUSTER_ID, ids, CONFIG).reveal()
    assert argv[argv.index("--initial-controllers") + 1] == (
        f"1@127.0.0.11:9095:{ids[1]},102@127.0.0.22:9095:{ids[102]},103@127.0.0.23:9096:{ids[103]}")
    assert argv.count("--add-scram") == 2 and "--no-initial-controllers" not in argv


def test_a_broker_joins_without_a_quorum_topology_and_without_passwords(split, combined):
    for model, minion in ((split, "kafka2"), (combined, "kafka3")):
        arguments = storage.format_arguments(model, minion, CLUSTER_ID, {}, CONFIG)
        assert arguments.reveal() == ["kafka-storage.sh", "format", "--cluster-id", CLUSTER_ID, "--config", CONFIG,
                                      "--no-initial-controllers"]
        assert not arguments.holds_secrets


def test_new_log_dirs_beside_formatted_ones_are_formatted_with_ignore_formatted(split):
    argv = storage.format_arguments(split, "kafka1", CLUSTER_ID, {}, CONFIG, storage_script="/opt/k/bin/kafka-storage.sh",
                                    ignore_formatted=True).reveal()
    assert argv[:7] == ["/opt/k/bin/kafka-storage.sh", "format", "--cluster-id", CLUSTER_ID, "--config", CONFIG,
                        "--ignore-formatted"]


def test_ipv6_voters_are_bracketed_as_kafka_parses_them(split):
    model = dataclasses.replace(split, controllers=(Controller("ctl1", 101, "fd00::21", 9095),))
    argv = storage.format_arguments(model, "ctl1", CLUSTER_ID, DIRECTORY_IDS, CONFIG).reveal()
    voters = argv[argv.index("--initial-controllers") + 1]
    assert voters == f"101@[fd00::21]:9095:{DIRECTORY_IDS[101]}"
    assert kafka_voters_parse(voters) == [(101, "fd00::21", 9095, DIRECTORY_IDS[101])]


def test_the_sha_256_mechanism_is_used_when_the_cluster_uses_it():
    model = build(sasl_mechanism="SCRAM-SHA-256")
    argv = storage.format_arguments(model, "ctl1", CLUSTER_ID, DIRECTORY_IDS, CONFIG).reveal()
    assert [a.split("=", 1)[0] for a in argv if a.startswith("SCRAM-")] == ["SCRAM-SHA-256", "SCRAM-SHA-256"]


@pytest.mark.parametrize("change, match", [
    ({"cluster_id": "not-an-id"}, "cluster_id"),
    ({"directory_ids": {101: DIRECTORY_IDS[101], 102: DIRECTORY_IDS[102]}}, r"directory_ids\[103\]"),
    ({"directory_ids": {**DIRECTORY_IDS, 103: "bad"}}, r"directory_ids\[103\]"),
    ({"directory_ids": {101: DIRECTORY_IDS[101], 102: DIRECTORY_IDS[101], 103: DIRECTORY_IDS[103]}}, "same directory"),
    ({"config_path": "server.properties"}, "config_path"),
])
def test_bad_format_inputs_are_refused_by_name(split, change, match):
    arguments = {"cluster_id": CLUSTER_ID, "directory_ids": DIRECTORY_IDS, "config_path": CONFIG, **change}
    with pytest.raises(ValueError, match=match) as caught:
        storage.format_arguments(split, "ctl1", **arguments)
    assert ADMIN_PASSWORD not in str(caught.value)


def test_format_is_for_kraft_nodes_only(split):
    with pytest.raises(KeyError, match="neither"):
        storage.format_arguments(split, "nobody", CLUSTER_ID, DIRECTORY_IDS, CONFIG)
    with pytest.raises(ValueError, match="KRaft mode only"):
        storage.format_arguments(dataclasses.replace(split, mode="zookeeper"), "kafka1", CLUSTER_ID, {}, CONFIG)


@pytest.mark.parametrize("password", ["a,b", "admin,iterations=5000", 'say"hi"', '"quoted"', ""])
def test_a_password_kafkas_scram_parser_would_change_is_refused_without_showing_it(password):
    assert storage.scram_password_problem(password)
    with pytest.raises(ValueError) as caught:
        storage.scram_argument("SCRAM-SHA-512", "admin", password)
    assert password == "" or password not in str(caught.value)


@pytest.mark.parametrize("mechanism, name", [("SCRAM-SHA-1", "admin"), ("PLAIN", "admin"), ("SCRAM-SHA-512", "a,b"),
                                             ("SCRAM-SHA-512", "a]"), ("SCRAM-SHA-512", "")])
def test_scram_mechanism_and_name_are_checked(mechanism, name):
    with pytest.raises(ValueError):
        storage.scram_argument(mechanism, name, "secret")


# --- redaction ----------------------------------------------------------------------------------

def test_the_format_arguments_never_show_a_password(split, caplog):
    arguments = storage.format_arguments(split, "ctl1", CLUSTER_ID, DIRECTORY_IDS, CONFIG)
    shown = [repr(arguments), str(arguments), f"{arguments}", "%s" % (arguments,), " ".join(arguments.redacted())]
    with caplog.at_level(logging.INFO):
        logging.getLogger("kafkasalt.test").info("formatting: %s", arguments)
        logging.getLogger("kafkasalt.test").info("formatting: %r", arguments)
    shown += [record.getMessage() for record in caplog.records]
    for text in shown:
        assert ADMIN_PASSWORD not in text and BROKER_PASSWORD not in text
        assert "--initial-controllers" in text and CLUSTER_ID in text
    assert "SCRAM-SHA-512=[name=admin,password=***]" in str(arguments)
    assert arguments.holds_secrets and ADMIN_PASSWORD in " ".join(arguments.reveal())
    with pytest.raises(TypeError):
        pickle.dumps(arguments)


def test_an_argument_file_keeps_the_passwords_out_of_the_command_line(split):
    arguments = storage.format_arguments(split, "ctl1", CLUSTER_ID, DIRECTORY_IDS, CONFIG,
                                         storage_script="/opt/kafka/bin/kafka-storage.sh")
    argv, text = arguments.argument_file("/run/kafka/format.args")
    assert argv == ["/opt/kafka/bin/kafka-storage.sh", "@/run/kafka/format.args"]
    assert text.splitlines() == arguments.reveal()[1:] and text.endswith("\n")
    assert ADMIN_PASSWORD in text
    with pytest.raises(ValueError, match="absolute"):
        arguments.argument_file("format.args")
    with pytest.raises(ValueError, match="line break"):
        storage.FormatArguments(["kafka-storage.sh", "format", "a\nb"]).argument_file("/run/x")


def test_redaction_of_every_add_scram_form():
    argv = ["kafka-storage.sh", "format", "--add-scram", "SCRAM-SHA-256=[name=a,password=p1]",
            "-S", "SCRAM-SHA-512=[name=b,password=p2,with]tail]", "--add-scram=SCRAM-SHA-512=[name=c,password=p3]",
            "--add-scram", 'SCRAM-SHA-512=[name=d,iterations=8192,salt="N3E=",saltedpassword="YCE="]',
            "--cluster-id", "password=not-a-scram-value"]
    assert storage.redacted(argv) == [
        "kafka-storage.sh", "format", "--add-scram", "SCRAM-SHA-256=[name=a,password=***]",
        "-S", "SCRAM-SHA-512=[name=b,password=***]", "--add-scram=SCRAM-SHA-512=[name=c,password=***]",
        "--add-scram", 'SCRAM-SHA-512=[name=d,iterations=8192,salt="N3E=",saltedpassword=***]',
        "--cluster-id", "password=not-a-scram-value"]


# --- never format a directory that holds data ---------------------------------------------------

def meta(cluster=CLUSTER_ID, node=101, directory=DIRECTORY_IDS[101], version=1):
    """meta.properties as Kafka 4.3.1 writes it."""
    return (f"#\n#Wed Dec 02 15:33:38 UTC 2026\nnode.id={node}\ndirectory.id={directory}\nversion={version}\n"
            f"cluster.id={cluster}\n")


FORMATTED = storage.DirState(entries=("__cluster_metadata-0", "bootstrap.checkpoint", "meta.properties"),
                             meta_text=meta())
EMPTY = storage.DirState(entries=())


def plan(*states, node=101, directory=DIRECTORY_IDS[101]):
    return storage.plan_format({f"/data/{chr(97 + i)}": s for i, s in enumerate(states)}, CLUSTER_ID, node, directory)


def test_absent_and_empty_log_dirs_are_formatted():
    result = plan(storage.DirState(), EMPTY, storage.DirState(entries=("lost+found",)))
    assert (result.action, result.ignore_formatted, result.to_format) == ("format", False,
                                                                          ("/data/a", "/data/b", "/data/c"))


@pytest.mark.parametrize("entries", [("orders-0",), ("__cluster_metadata-0",), ("bootstrap.checkpoint",),
                                     ("lost+found", "orders-0", "orders-1", "payments-3", "recovery-point-offset-checkpoint")])
def test_a_log_dir_holding_data_without_meta_properties_is_never_formatted(entries):
    result = plan(EMPTY, storage.DirState(entries=entries))
    assert result.refused and result.action == "refuse"
    assert result.reason.startswith("/data/b holds data") and "never format over it" in result.reason
    assert sorted(e for e in entries if e != "lost+found")[0] in result.reason
    assert storage.format_refusal({"/data/b": storage.DirState(entries=entries)}, CLUSTER_ID, 101) == result.reason


def test_a_node_formatted_with_this_cluster_id_is_left_alone():
    result = plan(FORMATTED, dataclasses.replace(FORMATTED, entries=("meta.properties", "orders-0"),
                                                 meta_text=meta(directory="MvDxzVmcRsaTz33bUuRU6A")))
    assert result.action == "formatted" and not result.refused and CLUSTER_ID in result.reason
    assert storage.format_refusal({"/data/a": FORMATTED}, CLUSTER_ID, 101, DIRECTORY_IDS[101]) is None


@pytest.mark.parametrize("meta_text, words", [
    (meta(cluster="MvDxzVmcRsaTz33bUuRU6A"), ["another cluster", "MvDxzVmcRsaTz33bUuRU6A", CLUSTER_ID]),
    (meta(node=102), ["node id '102'", "another node"]),
    (meta(directory=DIRECTORY_IDS[102]), ["directory id", DIRECTORY_IDS[102], DIRECTORY_IDS[101]]),
    ("version=0\nbroker.id=1\ncluster.id=" + CLUSTER_ID + "\n", ["ZooKeeper-mode", "version '0'"]),
    ("", ["version None"]),
])
def test_a_log_dir_formatted_for_something_else_is_refused_with_the_reason(meta_text, words):
    result = plan(dataclasses.replace(FORMATTED, meta_text=meta_text), EMPTY)
    assert result.refused and "/data/a/meta.properties" in result.reason
    for word in words:
        assert word in result.reason


def test_a_brokers_directory_id_is_not_checked():
    """Only a controller's metadata log dir has a directory id the quorum expects."""
    result = storage.plan_format({"/data/a": storage.DirState(entries=("meta.properties",),
                                                              meta_text=meta(node=2, directory="x"))}, CLUSTER_ID, 2)
    assert result.action == "formatted"


def test_a_new_data_disk_is_formatted_beside_the_kept_ones():
    result = plan(FORMATTED, EMPTY)
    assert (result.action, result.ignore_formatted, result.to_format) == ("format", True, ("/data/b",))


def test_a_lost_metadata_disk_is_not_formatted_as_a_first_time_voter():
    result = plan(EMPTY, dataclasses.replace(FORMATTED, meta_text=meta(directory="MvDxzVmcRsaTz33bUuRU6A")))
    assert result.refused and "metadata log dir /data/a is empty" in result.reason
    assert "add-controller" in result.reason


def test_a_wiped_voter_is_not_formatted_again_as_a_first_time_voter():
    result = storage.plan_format({"/data/a": EMPTY, "/data/b": storage.DirState()}, CLUSTER_ID, 101,
                                 DIRECTORY_IDS[101], formatted_before=True)
    assert result.refused and "controller 101 was formatted as a voter before" in result.reason
    assert "remove-controller" in result.reason
    again = plan(FORMATTED, node=101)
    assert again.action == "formatted"
    assert storage.plan_format({"/data/a": FORMATTED}, CLUSTER_ID, 101, DIRECTORY_IDS[101],
                               formatted_before=True).action == "formatted"


def test_an_unreadable_log_dir_is_refused():
    result = plan(EMPTY, storage.DirState(error="exists but is not a directory"))
    assert result.refused and result.reason.startswith("/data/b: exists but is not a directory")


def test_plan_inputs_are_checked():
    with pytest.raises(ValueError, match="no log dirs"):
        storage.plan_format({}, CLUSTER_ID, 1)
    with pytest.raises(ValueError, match="cluster_id"):
        storage.plan_format({"/data/a": EMPTY}, "nope", 1)
    with pytest.raises(ValueError, match="metadata_log_dir"):
        storage.plan_format({"/data/a": EMPTY}, CLUSTER_ID, 1, metadata_log_dir="/data/z")


def test_read_log_dirs_sees_what_kafka_left(tmp_path):
    formatted, empty, data, a_file = (tmp_path / name for name in ("formatted", "empty", "data", "file"))
    formatted.mkdir()
    (formatted / "meta.properties").write_text(meta())
    (formatted / "__cluster_metadata-0").mkdir()
    empty.mkdir()
    data.mkdir()
    (data / "orders-0").mkdir()
    a_file.write_text("")
    states = storage.read_log_dirs([str(p) for p in (formatted, empty, data, a_file, tmp_path / "absent")])
    assert list(states) == [str(p) for p in (formatted, empty, data, a_file, tmp_path / "absent")]
    assert states[str(formatted)] == storage.DirState(entries=("__cluster_metadata-0", "meta.properties"),
                                                      meta_text=meta())
    assert states[str(empty)] == storage.DirState(entries=())
    assert states[str(data)] == storage.DirState(entries=("orders-0",))
    assert states[str(a_file)].error == "exists but is not a directory"
    assert states[str(tmp_path / "absent")] == storage.DirState()
    assert storage.plan_format({str(formatted): states[str(formatted)]}, CLUSTER_ID, 101,
                               DIRECTORY_IDS[101]).action == "formatted"


def test_meta_properties_is_read_as_java_properties():
    assert quoting.parse_properties("#c\n! also\n\n node.id = 3\ncluster.id:abc\nversion=1\n") == {
        "node.id": "3", "cluster.id": "abc", "version": "1"}


# --- server.properties per role -----------------------------------------------------------------

SUPER_USERS = ("User:admin;User:broker;User:CN=controller-ctl1;User:CN=controller-ctl2;User:CN=controller-ctl3;"
               "User:CN=broker-kafka1;User:CN=broker-kafka2;User:CN=broker-kafka3")
TLS_STORES = {
    "ssl.keystore.type": "PEM",
    "ssl.keystore.location": "/etc/kafka/tls/keystore.pem",
    "ssl.truststore.type": "PEM",
    "ssl.truststore.location": "/etc/kafka/tls/truststore.pem",
    "ssl.endpoint.identification.algorithm": "https",
}
REPLICATION = {
    "min.insync.replicas": "2",
    "offsets.topic.replication.factor": "3",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
}


def test_a_dedicated_controller_config_key_by_key(split):
    assert render.broker_effective_config(split, "ctl3") == dict(sorted({
        "process.roles": "controller",
        "node.id": "103",
        "listeners": "CONTROLLER://127.0.0.23:9096",
        "advertised.listeners": "CONTROLLER://127.0.0.23:9096",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:SSL",
        "listener.name.controller.ssl.client.auth": "required",
        "ssl.client.auth": "required",
        "controller.quorum.bootstrap.servers": "127.0.0.21:9095,127.0.0.22:9095,127.0.0.23:9096",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": SUPER_USERS,
        "allow.everyone.if.no.acl.found": "false",
        "log.dirs": "/data/a,/data/b",
        "default.replication.factor": "3",
        "auto.create.topics.enable": "false",
        **REPLICATION,
        **TLS_STORES,
    }.items()))


BROKER_LISTENERS = "BROKER://127.0.0.12:9094,CLIENT://127.0.0.12:9093"


def test_a_broker_config_key_by_key(split):
    assert render.broker_effective_config(split, "kafka2") == dict(sorted({
        "process.roles": "broker",
        "node.id": "2",
        "broker.rack": "r2",
        "listeners": BROKER_LISTENERS,
        "advertised.listeners": BROKER_LISTENERS,
        "inter.broker.listener.name": "BROKER",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "BROKER:SASL_SSL,CLIENT:SASL_SSL,CONTROLLER:SSL",
        "listener.name.controller.ssl.client.auth": "required",
        "listener.name.broker.ssl.client.auth": "none",
        "listener.name.client.ssl.client.auth": "none",
        "ssl.client.auth": "none",
        "controller.quorum.bootstrap.servers": "127.0.0.21:9095,127.0.0.22:9095,127.0.0.23:9096",
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": SUPER_USERS,
        "allow.everyone.if.no.acl.found": "false",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "log.dirs": "/data/a,/data/b",
        "auto.create.topics.enable": "false",
        "unclean.leader.election.enable": "false",
        "num.network.threads": "3",
        "num.io.threads": "8",
        "num.recovery.threads.per.data.dir": "1",
        "share.coordinator.state.topic.replication.factor": "3",
        "share.coordinator.state.topic.min.isr": "2",
        **REPLICATION,
        **TLS_STORES,
    }.items()))


def test_a_combined_node_binds_the_controller_listener_without_advertising_it(combined):
    config = render.broker_effective_config(combined, "kafka1")
    broker_only = render.broker_effective_config(combined, "kafka2")
    assert config["process.roles"] == "broker,controller" and config["node.id"] == "1"
    assert config["listeners"] == "BROKER://127.0.0.11:9094,CLIENT://127.0.0.11:9093,CONTROLLER://127.0.0.11:9095"
    assert config["advertised.listeners"] == "BROKER://127.0.0.11:9094,CLIENT://127.0.0.11:9093"
    assert config["controller.quorum.bootstrap.servers"] == "127.0.0.11:9095,127.0.0.22:9095,127.0.0.23:9096"
    assert config["default.replication.factor"] == "3"  # the controller role creates topics
    assert "User:CN=broker-kafka1" in config["super.users"].split(";")
    assert "User:CN=controller-kafka1" not in config["super.users"].split(";")
    differ = {k for k in set(config) | set(broker_only) if config.get(k) != broker_only.get(k)}
    assert differ == {"process.roles", "node.id", "listeners", "advertised.listeners", "broker.rack",
                      "default.replication.factor"}


def test_kafkas_own_role_rules_hold_for_every_node(split, combined):
    """What KafkaConfig checks at start: a controller listens on controller listeners only, a
    broker-only node never on one, a controller role on at least one; every listener is mapped."""
    for model in (split, combined):
        for minion in ("kafka1", "kafka2", "kafka3", "ctl2", "ctl3") + (("ctl1",) if model is split else ()):
            config = render.broker_effective_config(model, minion)
            names = [entry.split("://")[0] for entry in config["listeners"].split(",")]
            mapped = dict(entry.split(":") for entry in config["listener.security.protocol.map"].split(","))
            assert set(names) <= set(mapped) and mapped["CONTROLLER"] == "SSL"
            roles = config["process.roles"].split(",")
            if roles == ["controller"]:
                assert names == ["CONTROLLER"] and "inter.broker.listener.name" not in config
            elif roles == ["broker"]:
                assert "CONTROLLER" not in names and config["inter.broker.listener.name"] in names
            else:
                assert "CONTROLLER" in names and config["inter.broker.listener.name"] != "CONTROLLER"
            assert not [key for key in config if key.startswith("zookeeper.") or key in (
                "broker.id", "controller.quorum.voters", "zookeeper.connect")]
            assert config["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def test_a_broker_with_plaintext_listeners_still_has_its_stores_for_the_controllers():
    model = build(listeners={"CLIENT": {"port": 9093, "protocol": "PLAINTEXT"},
                             "BROKER": {"port": 9094, "protocol": "SASL_PLAINTEXT"}}, allow_insecure_listeners=True)
    config = render.broker_effective_config(model, "kafka1")
    assert {k: config[k] for k in TLS_STORES} == TLS_STORES
    assert config["listener.security.protocol.map"] == "BROKER:SASL_PLAINTEXT,CLIENT:PLAINTEXT,CONTROLLER:SSL"
    assert config["listener.name.controller.ssl.client.auth"] == "required"


def test_kafka_config_applies_to_controllers_and_brokers():
    model = build(config={"num.partitions": 6, "log.retention.hours": 72})
    for minion in ("ctl1", "kafka1"):
        config = render.broker_effective_config(model, minion)
        assert (config["num.partitions"], config["log.retention.hours"]) == ("6", "72")


def test_the_rendered_file_is_the_effective_config_under_a_header(split):
    for minion, what in (("ctl1", "KRaft controller node 101 (ctl1)"), ("kafka1", "KRaft broker node 1 (kafka1)")):
        text = render.render_server_properties(split, minion)
        assert f"# Kafka 4.3.1 {what} of cluster 'lab'." in text.splitlines()
        assert read_properties(text) == render.broker_effective_config(split, minion)
        assert ADMIN_PASSWORD not in text and BROKER_PASSWORD not in text


def test_the_service_of_a_kraft_node(split):
    controller_env = render.jvm_env(split, "ctl1")
    assert controller_env["KAFKA_OPTS"] == ""  # TLS only: no JAAS file
    assert controller_env["KAFKA_LOG4J_OPTS"] == "-Dlog4j2.configurationFile=/etc/kafka/log4j2.yaml"
    assert render.jvm_env(split, "kafka1")["KAFKA_OPTS"] == "-Djava.security.auth.login.config=/etc/kafka/kafka_server_jaas.conf"
    unit = render.render_systemd_unit(split, "ctl1").splitlines()
    assert "Description=Apache Kafka 4.3.1 KRaft controller node 101 (cluster lab)" in unit
    assert "After=network-online.target" in unit and "Documentation=https://kafka.apache.org/43/documentation.html" in unit
    jaas = render.render_jaas(split)
    assert "KafkaServer {" in jaas and "Client {" not in jaas


# --- log4j2 for 4.x -----------------------------------------------------------------------------

LOG4J2_LEVELS = {"OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "ALL"}
LOG4J2_SIZE = re.compile(r"([0-9]+([.,][0-9]+)?)\s*(|K|M|G|T)B?", re.IGNORECASE)  # log4j2 FileSize.parse


def test_log4j2_yaml_is_a_configuration_log4j2_reads():
    text = render.render_log4j2_yaml()
    assert text.startswith("# Managed by Salt")
    document = yaml.safe_load(text)
    assert list(document) == ["Configuration"]
    configuration = document["Configuration"]
    appenders = configuration["Appenders"]["RollingFile"]
    names = [appender["name"] for appender in appenders]
    assert len(set(names)) == len(names)
    files = set()
    for appender in appenders:
        assert appender["fileName"].startswith("${sys:kafka.logs.dir}/")
        assert appender["filePattern"].startswith("${sys:kafka.logs.dir}/") and "%i" in appender["filePattern"]
        assert LOG4J2_SIZE.fullmatch(appender["SizeBasedTriggeringPolicy"]["size"])
        assert isinstance(appender["DefaultRolloverStrategy"]["max"], int)
        assert appender["PatternLayout"]["pattern"] == "[%d] %p %m (%c)%n"
        files.add(appender["fileName"].rsplit("/", 1)[1])
    assert files == {"server.log", "state-change.log", "controller.log", "log-cleaner.log", "kafka-authorizer.log"}
    loggers = configuration["Loggers"]
    assert loggers["Root"]["level"] in LOG4J2_LEVELS
    refs = [ref["ref"] for ref in loggers["Root"]["AppenderRef"]]
    by_name = {}
    for logger in loggers["Logger"]:
        assert logger["name"] not in by_name and logger["level"] in LOG4J2_LEVELS
        by_name[logger["name"]] = logger
        if "AppenderRef" in logger:
            assert logger["additivity"] is False  # written as false: not logged twice through the root
            refs += [ref["ref"] for ref in logger["AppenderRef"]]
    assert set(refs) <= set(names)
    target = {name: logger.get("AppenderRef", [{"ref": None}])[0]["ref"] for name, logger in by_name.items()}
    appender_file = {appender["name"]: appender["fileName"].rsplit("/", 1)[1] for appender in appenders}
    assert appender_file[target["org.apache.kafka.storage.internals.log.LogCleaner"]] == "log-cleaner.log"  # 4.x
    assert appender_file[target["kafka.authorizer.logger"]] == "kafka-authorizer.log"  # StandardAuthorizer audit
    assert appender_file[target["org.apache.kafka.controller"]] == "controller.log"
    assert by_name["kafka.request.logger"]["level"] == "WARN"


def test_a_39_kraft_broker_gets_no_4x_only_keys():
    config = render.broker_effective_config(build(version="3.9.2", source="file:///x/kafka_2.13-3.9.2.tgz"), "kafka1")
    assert not [key for key in config if key.startswith("share.coordinator.")]
    assert config["process.roles"] == "broker" and config["node.id"] == "1"


def test_4x_logs_with_log4j2_and_3x_with_reload4j():
    assert render.uses_log4j2("4.0.0") and render.uses_log4j2("4.3.1")
    assert not render.uses_log4j2("3.9.2")

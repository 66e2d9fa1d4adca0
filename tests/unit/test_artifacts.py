"""Unit tests of the artifact builder's pure parts (no Maven, no Java, no network)."""

import hashlib
import json
import os
import re
import subprocess
import tarfile
import xml.etree.ElementTree as ET
import zipfile

import pytest

from lab import artifacts, kafka_release
from lab.artifacts import ArtifactError
from lab.kafka_release import KAFKA3, KAFKA4

POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def make_cache(cache_dir):
    """A cache dir with three small artifact files, their sidecars and a matching manifest."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    contents = {"kafka": ("kafka_2.13-9.9.9.tgz", b"kafka bytes", "kafka_2.13-9.9.9"),
                "kafka4": ("kafka_2.13-9.9.10.tgz", b"kafka4 bytes", "kafka_2.13-9.9.10"),
                "zookeeper": ("apache-zookeeper-9.9.9-bin.tar.gz", b"zk bytes", "apache-zookeeper-9.9.9-bin"),
                "jmx_exporter": ("jmx_prometheus_javaagent-9.9.9.jar", b"jar bytes", None)}
    manifest = {"format": artifacts.MANIFEST_FORMAT, "recipe": artifacts.recipe()}
    for name, (file_name, data, top_dir) in contents.items():
        path = cache_dir / file_name
        path.write_bytes(data)
        artifacts.write_sha512_sidecar(path)
        manifest[name] = artifacts.manifest_entry(path, "9.9.9", top_dir)
    (cache_dir / artifacts.MANIFEST_NAME).write_text(json.dumps(manifest))
    return manifest


# --------------------------------------------------------------------------- checksums
def test_sidecar_holds_the_hex_digest_only(tmp_path):
    path = tmp_path / "a.tgz"
    path.write_bytes(b"payload")
    digest = artifacts.write_sha512_sidecar(path)
    assert digest == hashlib.sha512(b"payload").hexdigest()
    assert (tmp_path / "a.tgz.sha512").read_text() == digest + "\n"
    assert artifacts.read_sha512_sidecar(path) == digest


def test_missing_sidecar_is_named(tmp_path):
    with pytest.raises(ArtifactError, match=r"a\.tgz\.sha512 is missing"):
        artifacts.read_sha512_sidecar(tmp_path / "a.tgz")


def test_malformed_sidecar_is_rejected(tmp_path):
    (tmp_path / "a.tgz.sha512").write_text("abc123  a.tgz\n")
    with pytest.raises(ArtifactError, match="does not hold a sha512 hex digest"):
        artifacts.read_sha512_sidecar(tmp_path / "a.tgz")


def test_manifest_entry_has_the_pillar_shape(tmp_path):
    path = tmp_path / "kafka_2.13-3.9.2.tgz"
    path.write_bytes(b"x")
    entry = artifacts.manifest_entry(path, "3.9.2", "kafka_2.13-3.9.2", scala_version="2.13")
    assert entry == {
        "version": "3.9.2",
        "file": "kafka_2.13-3.9.2.tgz",
        "source": f"file://{path}",
        "source_hash": "sha512=" + hashlib.sha512(b"x").hexdigest(),
        "top_dir": "kafka_2.13-3.9.2",
        "size": 1,
        "scala_version": "2.13",
    }


# --------------------------------------------------------------------------- cache verification
def test_intact_cache_verifies(tmp_path):
    manifest = make_cache(tmp_path)
    assert artifacts.verify_cache(tmp_path, manifest) == []


def test_tampered_file_is_reported_with_both_hashes(tmp_path):
    manifest = make_cache(tmp_path)
    (tmp_path / "kafka_2.13-9.9.9.tgz").write_bytes(b"tampered")
    problems = artifacts.verify_cache(tmp_path, manifest)
    assert len(problems) == 1
    message = problems[0]
    assert message.startswith("kafka: checksum mismatch for ")
    assert "kafka_2.13-9.9.9.tgz" in message
    assert hashlib.sha512(b"kafka bytes").hexdigest() in message
    assert hashlib.sha512(b"tampered").hexdigest() in message


def test_sidecar_disagreeing_with_the_file_is_reported(tmp_path):
    manifest = make_cache(tmp_path)
    (tmp_path / "jmx_prometheus_javaagent-9.9.9.jar.sha512").write_text("0" * 128 + "\n")
    (problem,) = artifacts.verify_cache(tmp_path, manifest)
    assert problem.startswith("jmx_exporter: checksum mismatch for ") and ".jar.sha512: it says 000" in problem


def test_missing_file_and_other_recipe_are_reported(tmp_path):
    manifest = make_cache(tmp_path)
    (tmp_path / "apache-zookeeper-9.9.9-bin.tar.gz").unlink()
    manifest["recipe"] = dict(manifest["recipe"], kafka_version="0.0.1")
    problems = artifacts.verify_cache(tmp_path, manifest)
    assert any(p.startswith("built from another recipe") for p in problems)
    assert any(p.startswith("zookeeper: file ") and p.endswith("is missing") for p in problems)


def test_load_manifest_absent_is_none(tmp_path):
    assert artifacts.load_manifest(tmp_path) is None


def test_load_manifest_default_dir_follows_kafkasalt_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KAFKASALT_CACHE", str(tmp_path))
    assert artifacts.default_cache_dir() == tmp_path / "artifacts"
    manifest = make_cache(tmp_path / "artifacts")
    assert artifacts.load_manifest() == json.loads(json.dumps(manifest))


def test_load_manifest_corrupt_is_a_clear_error(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="manifest .* is unreadable"):
        artifacts.load_manifest(tmp_path)


def test_load_manifest_verify_raises_on_mismatch(tmp_path):
    make_cache(tmp_path)
    (tmp_path / "kafka_2.13-9.9.9.tgz").write_bytes(b"tampered")
    with pytest.raises(ArtifactError, match="do not verify:\n  kafka: checksum mismatch"):
        artifacts.load_manifest(tmp_path, verify=True)


def test_cli_verify_exits_non_zero_on_a_bad_checksum(tmp_path, capsys):
    make_cache(tmp_path)
    (tmp_path / "kafka_2.13-9.9.9.tgz").write_bytes(b"tampered")
    assert artifacts.main(["verify", "--cache", str(tmp_path)]) == 1
    assert "checksum mismatch" in capsys.readouterr().err


def test_cli_verify_without_a_build_says_how_to_build(tmp_path, capsys):
    assert artifacts.main(["verify", "--cache", str(tmp_path)]) == 1
    assert "python -m lab.artifacts build" in capsys.readouterr().err


# --------------------------------------------------------------------------- build_all orchestration
def test_verified_cache_is_reused_without_any_tool(tmp_path, monkeypatch):
    manifest = make_cache(tmp_path)
    monkeypatch.setattr(artifacts, "find_tools", lambda: pytest.fail("must not look for java/mvn"))
    messages = []
    assert artifacts.build_all(tmp_path, log=messages.append) == json.loads(json.dumps(manifest))
    assert messages[0].startswith("cached: ")


def fake_steps(monkeypatch, fail_in=None):
    """Replace the Maven/Java steps by ones that write small files, optionally failing in one step."""
    monkeypatch.setattr(artifacts, "find_tools", lambda: {"java": "java", "mvn": "mvn"})

    def fake_file(stage, name, data):
        path = stage / name
        path.write_bytes(data)
        artifacts.write_sha512_sidecar(path)
        return path

    def build_kafka(stage, tools, line, offline=False):
        if fail_in == line.key:
            (stage / "half-built").write_text("x")
            raise ArtifactError(f"Maven could not resolve {line.key}")
        zookeeper_version = "3.8.4" if line.zookeeper_shell else None
        return fake_file(stage, f"{line.top_dir}.tgz", line.key.encode()), line.top_dir, zookeeper_version

    def build_zookeeper(stage, tools, zookeeper_version, offline=False):
        if fail_in == "zookeeper":
            raise ArtifactError("Maven could not resolve zookeeper")
        top = f"apache-zookeeper-{zookeeper_version}-bin"
        return fake_file(stage, f"{top}.tar.gz", b"z"), top

    def fetch_jmx_exporter(stage, tools, offline=False):
        return fake_file(stage, "jmx_prometheus_javaagent-1.0.1.jar", b"j")

    monkeypatch.setattr(artifacts, "build_kafka", build_kafka)
    monkeypatch.setattr(artifacts, "build_zookeeper", build_zookeeper)
    monkeypatch.setattr(artifacts, "fetch_jmx_exporter", fetch_jmx_exporter)


def test_build_moves_files_in_and_writes_the_manifest_last(tmp_path, monkeypatch):
    old = make_cache(tmp_path)  # other versions: must be pruned once the new manifest is in place
    fake_steps(monkeypatch)
    manifest = artifacts.build_all(tmp_path, force=True, log=lambda message: None)
    assert manifest["zookeeper"]["version"] == "3.8.4"
    assert manifest["kafka"]["top_dir"] == "kafka_2.13-3.9.2"
    assert (manifest["kafka4"]["version"], manifest["kafka4"]["top_dir"]) == ("4.3.1", "kafka_2.13-4.3.1")
    assert artifacts.load_manifest(tmp_path, verify=True) == manifest
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [".build.lock", "apache-zookeeper-3.8.4-bin.tar.gz", "apache-zookeeper-3.8.4-bin.tar.gz.sha512",
                     "jmx_prometheus_javaagent-1.0.1.jar", "jmx_prometheus_javaagent-1.0.1.jar.sha512",
                     "kafka_2.13-3.9.2.tgz", "kafka_2.13-3.9.2.tgz.sha512",
                     "kafka_2.13-4.3.1.tgz", "kafka_2.13-4.3.1.tgz.sha512", "manifest.json"]
    assert old["kafka"]["file"] not in names


@pytest.mark.parametrize("failing_step", ["kafka", "kafka4", "zookeeper"])
def test_failed_build_leaves_nothing_behind(tmp_path, monkeypatch, failing_step):
    before = make_cache(tmp_path)
    listing = sorted(p.name for p in tmp_path.iterdir())
    fake_steps(monkeypatch, fail_in=failing_step)
    with pytest.raises(ArtifactError, match=f"could not resolve {failing_step}"):
        artifacts.build_all(tmp_path, force=True, log=lambda message: None)
    # Only the build lock is new; no staging dir, no half-moved file, the old manifest untouched.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".build.lock") == listing
    assert artifacts.load_manifest(tmp_path, verify=True) == json.loads(json.dumps(before))


def test_missing_tools_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(ArtifactError) as caught:
        artifacts.find_tools()
    assert "java (" in str(caught.value) and "mvn (" in str(caught.value)


def test_java_home_without_java_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(ArtifactError, match=f"JAVA_HOME={tmp_path} has no executable bin/java"):
        artifacts.find_tools()


# --------------------------------------------------------------------------- Maven helpers
MAVEN_FAILURE = (
    "\x1b[0m\x1b[0m[ERROR] Failed to execute goal on project kafka-release-libs: Could not resolve dependencies "
    "for project kafkasalt.lab:kafka-release-libs:pom:1: Could not find artifact "
    "org.apache.kafka:kafka_2.13:jar:3.9.9 in central -> [Help 1]\n"
    "[ERROR] \n"
    "[ERROR] To see the full stack trace of the errors, re-run Maven with the -e switch.\n"
    "[ERROR] Re-run Maven using the -X switch to enable full debug logging.\n"
    "[ERROR] For more information about the errors and possible solutions, please read the following articles:\n"
    "[ERROR] [Help 1] http://cwiki.apache.org/confluence/display/MAVEN/DependencyResolutionException\n"
)


def test_maven_error_lines_keep_only_the_cause():
    assert artifacts.maven_error_lines(MAVEN_FAILURE) == [
        "Failed to execute goal on project kafka-release-libs: Could not resolve dependencies for project "
        "kafkasalt.lab:kafka-release-libs:pom:1: Could not find artifact org.apache.kafka:kafka_2.13:jar:3.9.9 "
        "in central"]


def test_maven_error_lines_fall_back_to_the_tail():
    output = "\n".join(f"line {n}" for n in range(30)) + "\n\n"
    assert artifacts.maven_error_lines(output, limit=3) == ["line 27", "line 28", "line 29"]


def dependencies_of(pom_text):
    root = ET.fromstring(pom_text)
    return [(d.findtext("m:groupId", namespaces=POM_NS), d.findtext("m:artifactId", namespaces=POM_NS),
             d.findtext("m:version", namespaces=POM_NS))
            for d in root.findall("m:dependencies/m:dependency", POM_NS)]


def test_kafka_pom_wants_broker_tools_and_one_slf4j_binding():
    deps = dependencies_of(artifacts.kafka_pom(KAFKA3))
    for artifact in ("kafka_2.13", "kafka-tools", "kafka-shell", "connect-runtime", "connect-mirror",
                     "connect-mirror-client"):
        assert ("org.apache.kafka", artifact, "3.9.2") in deps
    assert [d for d in deps if d[0] == "org.slf4j"] == [("org.slf4j", "slf4j-reload4j", artifacts.SLF4J_VERSION)]
    assert not [d for d in deps if d[1] in ("trogdor", "kafka-streams")]


def test_kafka4_pom_wants_the_kraft_jars_and_the_log4j2_binding():
    deps = dependencies_of(artifacts.kafka_pom(KAFKA4))
    for artifact in ("kafka_2.13", "kafka-tools", "kafka-storage", "kafka-metadata", "kafka-raft", "kafka-shell",
                     "connect-runtime", "connect-mirror", "connect-mirror-client", "trogdor"):
        assert ("org.apache.kafka", artifact, "4.3.1") in deps
    assert [d for d in deps if d[0] != "org.apache.kafka"] == [
        ("org.apache.logging.log4j", "log4j-slf4j-impl", artifacts.LOG4J2_VERSION)]
    # RocksDB's native libraries would double the tarball; no script needs Kafka Streams.
    assert "kafka-streams" not in {d[1] for d in deps}


def test_zookeeper_pom_takes_provided_versions_from_the_parent_bom():
    root = ET.fromstring(artifacts.zookeeper_pom("3.8.4"))
    (bom,) = root.findall("m:dependencyManagement/m:dependencies/m:dependency", POM_NS)
    assert [bom.findtext(f"m:{t}", namespaces=POM_NS) for t in ("artifactId", "version", "type", "scope")] == \
        ["parent", "3.8.4", "pom", "import"]
    deps = dependencies_of(artifacts.zookeeper_pom("3.8.4"))
    assert ("org.apache.zookeeper", "zookeeper", "3.8.4") in deps
    assert ("org.eclipse.jetty", "jetty-server", None) in deps


def test_jmx_exporter_pom_excludes_transitive_jars():
    text = artifacts.jmx_exporter_pom("1.0.1")
    assert dependencies_of(text) == [("io.prometheus.jmx", "jmx_prometheus_javaagent", "1.0.1")]
    assert "<exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion>" in text


def test_jar_version(tmp_path):
    for name in ("zookeeper-3.8.4.jar", "zookeeper-jute-3.8.4.jar", "kafka-clients-3.9.2.jar"):
        (tmp_path / name).write_bytes(b"")
    assert artifacts.jar_version(tmp_path, "zookeeper") == "3.8.4"
    (tmp_path / "zookeeper-3.8.3.jar").write_bytes(b"")
    with pytest.raises(ArtifactError, match=r"expected one zookeeper jar .* \['3.8.3', '3.8.4'\]"):
        artifacts.jar_version(tmp_path, "zookeeper")


# --------------------------------------------------------------------------- tarballs and scripts
def make_tree(root, mtime):
    (root / "bin").mkdir(parents=True)
    (root / "libs").mkdir()
    (root / "bin" / "run.sh").write_text("#!/bin/sh\n")
    (root / "bin" / "run.sh").chmod(0o700)
    (root / "libs" / "b.jar").write_bytes(b"b")
    (root / "libs" / "a.jar").write_bytes(b"a")
    for path in root.rglob("*"):
        os.utime(path, (mtime, mtime))


def test_tarball_is_reproducible_and_normalised(tmp_path):
    first, second = tmp_path / "one" / "pkg-1.0", tmp_path / "two" / "pkg-1.0"
    make_tree(first, 1_000_000)
    make_tree(second, 2_000_000)
    artifacts.write_reproducible_tarball(first, tmp_path / "one.tgz", mtime=1704067200)
    artifacts.write_reproducible_tarball(second, tmp_path / "two.tgz", mtime=1704067200)
    assert artifacts.sha512_file(tmp_path / "one.tgz") == artifacts.sha512_file(tmp_path / "two.tgz")
    with tarfile.open(tmp_path / "one.tgz") as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == ["pkg-1.0", "pkg-1.0/bin", "pkg-1.0/bin/run.sh", "pkg-1.0/libs",
                                         "pkg-1.0/libs/a.jar", "pkg-1.0/libs/b.jar"]
    assert {(m.uid, m.gid, m.uname, m.mtime) for m in members} == {(0, 0, "root", 1704067200)}
    assert {m.name: m.mode for m in members}["pkg-1.0/bin/run.sh"] == 0o755
    assert {m.name: m.mode for m in members}["pkg-1.0/libs/a.jar"] == 0o644


def test_bad_source_date_epoch_is_named(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(ArtifactError, match="SOURCE_DATE_EPOCH must be a whole number"):
        artifacts.source_date_epoch()


ALL_SCRIPTS = {f"{line.key}/{name}": text for line in kafka_release.LINES
               for name, text in artifacts.kafka_bin_scripts(line).items()}
ALL_SCRIPTS.update({f"zookeeper/{name}": text for name, text in artifacts.zookeeper_bin_scripts().items()})


@pytest.mark.parametrize("script", sorted(ALL_SCRIPTS))
def test_scripts_are_valid_bash(script):
    result = subprocess.run(["bash", "-n"], input=ALL_SCRIPTS[script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- the Kafka release lines
# bin/*.sh of the Apache release tarballs (bin/windows/ aside): 3.9 from the apache/kafka 3.9
# branch, 4.x from a 4.1.0 release listing; 4.3.1's jars hold every main class of it and no
# class of a newer script.
APACHE_BIN_39 = """
connect-distributed connect-mirror-maker connect-plugin-path connect-standalone kafka-acls
kafka-broker-api-versions kafka-client-metrics kafka-cluster kafka-configs kafka-console-consumer
kafka-console-producer kafka-consumer-groups kafka-consumer-perf-test kafka-delegation-tokens
kafka-delete-records kafka-dump-log kafka-e2e-latency kafka-features kafka-get-offsets kafka-jmx
kafka-leader-election kafka-log-dirs kafka-metadata-quorum kafka-metadata-shell kafka-mirror-maker
kafka-producer-perf-test kafka-reassign-partitions kafka-replica-verification kafka-run-class
kafka-server-start kafka-server-stop kafka-storage kafka-streams-application-reset kafka-topics
kafka-transactions kafka-verifiable-consumer kafka-verifiable-producer trogdor
zookeeper-security-migration zookeeper-server-start zookeeper-server-stop zookeeper-shell
"""
APACHE_BIN_4X = """
connect-distributed connect-mirror-maker connect-plugin-path connect-standalone kafka-acls
kafka-broker-api-versions kafka-client-metrics kafka-cluster kafka-configs kafka-console-consumer
kafka-console-producer kafka-console-share-consumer kafka-consumer-groups kafka-consumer-perf-test
kafka-delegation-tokens kafka-delete-records kafka-dump-log kafka-e2e-latency kafka-features
kafka-get-offsets kafka-groups kafka-jmx kafka-leader-election kafka-log-dirs kafka-metadata-quorum
kafka-metadata-shell kafka-producer-perf-test kafka-reassign-partitions kafka-replica-verification
kafka-run-class kafka-server-start kafka-server-stop kafka-share-consumer-perf-test kafka-share-groups
kafka-storage kafka-streams-application-reset kafka-streams-groups kafka-topics kafka-transactions
kafka-verifiable-consumer kafka-verifiable-producer kafka-verifiable-share-consumer trogdor
"""


def apache_scripts(listing):
    return {f"{name}.sh" for name in listing.split()}


@pytest.mark.parametrize("line, listing", [(KAFKA3, APACHE_BIN_39), (KAFKA4, APACHE_BIN_4X)], ids=["3.9", "4.x"])
def test_bin_has_every_apache_script_but_the_ones_said_to_be_left_out(line, listing):
    shipped = set(artifacts.kafka_bin_scripts(line))
    left_out = {name for name in line.left_out if name.endswith(".sh")}
    assert shipped == apache_scripts(listing) - left_out
    assert left_out <= apache_scripts(listing)
    assert all(reason for reason in line.left_out.values())


def test_script_counts_and_what_each_line_drops():
    assert len(artifacts.kafka_bin_scripts(KAFKA3)) == 41
    assert len(artifacts.kafka_bin_scripts(KAFKA4)) == 43
    assert set(KAFKA3.left_out) == {"trogdor.sh", "windows/"}
    assert set(KAFKA4.left_out) == {"windows/"}
    # 4.0 removed ZooKeeper and MirrorMaker 1 with their scripts.
    kafka4 = artifacts.kafka_bin_scripts(KAFKA4)
    assert not [name for name in kafka4 if name.startswith("zookeeper-")] and "kafka-mirror-maker.sh" not in kafka4


def runs(script_text):
    """The main class a wrapper hands to kafka-run-class.sh (last exec line)."""
    match = re.search(r'kafka-run-class\.sh"? (?:\$launcher_args )?(\S+) "\$@"\n$', script_text)
    return match.group(1) if match else None


@pytest.mark.parametrize("line", kafka_release.LINES, ids=lambda line: line.version)
def test_every_wrapper_runs_its_main_class(line):
    scripts = artifacts.kafka_bin_scripts(line)
    classes = kafka_release.main_classes(line)
    assert set(classes) == set(scripts) - {"kafka-run-class.sh"}
    for script, (main_class, *others) in classes.items():
        if script in line.tools or script in line.services:
            assert runs(scripts[script]) == main_class, script
            assert not others
        elif script in line.stoppers:
            assert f'[ "${{argv[i]}}" = "{main_class}" ]' in scripts[script]
    assert "@" not in "".join(scripts.values()).replace('"$@"', "").replace("[@]", "")


def test_main_classes_follow_the_4x_moves_out_of_the_core_jar():
    for script in ("kafka-acls.sh", "kafka-broker-api-versions.sh", "kafka-console-producer.sh", "kafka-dump-log.sh"):
        assert KAFKA3.tools[script].main_class.startswith("kafka.")
        assert KAFKA4.tools[script].main_class.startswith("org.apache.kafka.tools.")
    # Still Scala in the core jar in 4.x.
    assert KAFKA4.tools["kafka-configs.sh"].main_class == "kafka.admin.ConfigCommand"
    assert KAFKA4.tools["kafka-storage.sh"].main_class == "kafka.tools.StorageTool"
    assert kafka_release.main_classes(KAFKA4)["trogdor.sh"] == (
        "org.apache.kafka.trogdor.agent.Agent", "org.apache.kafka.trogdor.coordinator.Coordinator",
        "org.apache.kafka.trogdor.coordinator.CoordinatorClient", "org.apache.kafka.trogdor.agent.AgentClient")


def test_tool_heaps_follow_the_apache_defaults():
    scripts = artifacts.kafka_bin_scripts(KAFKA4)
    assert 'KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx512M}"' in scripts["kafka-console-share-consumer.sh"]
    assert 'KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256M -Xmx2G}"' in scripts["connect-plugin-path.sh"]
    assert "KAFKA_HEAP_OPTS" not in scripts["kafka-topics.sh"]
    assert 'KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"' in scripts["kafka-server-start.sh"]


@pytest.mark.parametrize("line, configs, option", [
    (KAFKA3, {"log4j.properties", "tools-log4j.properties", "connect-log4j.properties", "server.properties",
              "zookeeper.properties"}, "-Dlog4j.configuration=file:"),
    (KAFKA4, {"log4j2.yaml", "tools-log4j2.yaml", "connect-log4j2.yaml", "server.properties",
              "controller.properties", "broker.properties"}, "-Dlog4j2.configurationFile="),
], ids=["3.9", "4.x"])
def test_config_dir_and_the_log_config_each_launcher_uses(line, configs, option):
    assert set(line.configs) == configs
    scripts = artifacts.kafka_bin_scripts(line)
    uses = {"kafka-run-class.sh": line.logging.tools, "kafka-server-start.sh": line.logging.broker,
            "connect-distributed.sh": line.logging.connect, "connect-standalone.sh": line.logging.connect,
            "connect-mirror-maker.sh": line.logging.connect}
    for script, config in uses.items():
        assert f"{option}$" in scripts[script] and f"config/{config}}}" in scripts[script], script
        assert config in configs


def test_log4j2_configs_are_yaml_with_the_appenders_they_reference():
    yaml = pytest.importorskip("yaml")
    for name in ("log4j2.yaml", "tools-log4j2.yaml", "connect-log4j2.yaml"):
        config = yaml.safe_load(KAFKA4.configs[name])["Configuration"]
        appenders = config["Appenders"]
        names = {appenders["Console"]["name"]} | {rolling["name"] for rolling in appenders.get("RollingFile", [])}
        refs = config["Loggers"]["Root"]["AppenderRef"]
        refs = refs if isinstance(refs, list) else [refs]
        for logger in config["Loggers"].get("Logger", []):
            ref = logger.get("AppenderRef")
            refs += ([ref] if isinstance(ref, dict) else ref or [])
        assert {ref["ref"] for ref in refs} <= names, name
        for rolling in appenders.get("RollingFile", []):
            assert rolling["fileName"].startswith("${") and "kafka.logs.dir" in KAFKA4.configs[name]


def properties(text):
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_kraft_samples_bind_loopback_and_agree_on_the_controller():
    server, controller, broker = (properties(KAFKA4.configs[name])
                                  for name in ("server.properties", "controller.properties", "broker.properties"))
    assert server["process.roles"] == "broker,controller"
    assert (controller["process.roles"], broker["process.roles"]) == ("controller", "broker")
    assert controller["listeners"] == "CONTROLLER://" + broker["controller.quorum.bootstrap.servers"]
    assert controller["node.id"] != broker["node.id"]
    for config in (server, controller, broker):
        assert not [key for key in config if key.startswith("zookeeper.")]
        assert "0.0.0.0" not in config["listeners"] and "127.0.0.1" in config["listeners"]
    assert "zookeeper.connect" in properties(KAFKA3.configs["server.properties"])


def test_stop_script_filters_only_where_apache_has_them():
    kafka_stop = artifacts.kafka_bin_scripts(KAFKA4)["kafka-server-stop.sh"]
    zookeeper_stop = artifacts.kafka_bin_scripts(KAFKA3)["zookeeper-server-stop.sh"]
    assert "--node-id=*)" in kafka_stop and "--process-role=*)" in kafka_stop
    assert "--node-id" not in zookeeper_stop and 'echo "No zookeeper server to stop"' in zookeeper_stop
    assert 'kill -s "$signal"' in kafka_stop and "signal=${SIGNAL:-TERM}" in kafka_stop


def test_fill_refuses_a_placeholder_left_over():
    with pytest.raises(ValueError, match="@MISSING@"):
        kafka_release._fill("exec @MAIN_CLASS@ @MISSING@ \"$@\" ${a[@]}", MAIN_CLASS="x")


def test_line_lookup_and_layout_names():
    assert kafka_release.line_by_key("kafka4") is KAFKA4
    assert artifacts.kafka_top_dir(KAFKA4) == "kafka_2.13-4.3.1"
    with pytest.raises(KeyError):
        kafka_release.line_by_key("kafka5")
    assert [line.key for line in kafka_release.LINES] == ["kafka", "kafka4"]
    assert set(artifacts.ARTIFACT_NAMES) >= {line.key for line in kafka_release.LINES}


def test_recipe_names_both_lines_and_the_layout_revision():
    recipe = artifacts.recipe()
    assert (recipe["kafka_version"], recipe["kafka4_version"]) == (KAFKA3.version, KAFKA4.version)
    assert recipe["log4j2_version"] == artifacts.LOG4J2_VERSION
    # Revision 1 built 12 scripts and no 4.x tarball: those caches must rebuild.
    assert recipe["revision"] >= 2


def test_readme_names_the_coordinates_and_the_left_out_scripts():
    text = artifacts._kafka_readme(KAFKA3)
    assert "org.apache.kafka:connect-mirror:3.9.2" in text and "ch.qos.reload4j:reload4j:" in text
    assert "bin/ has 41 scripts" in text and "trogdor.sh: " in text


# --------------------------------------------------------------------------- checks on the resolved jars
def fake_jar(path, *classes):
    with zipfile.ZipFile(path, "w") as archive:
        for name in classes:
            archive.writestr(name.replace(".", "/") + ".class", b"")
        archive.writestr("META-INF/versions/9/module-info.class", b"")
        archive.writestr("org/example/Outer$Inner.class", b"")


def test_jar_classes_lists_top_level_classes(tmp_path):
    fake_jar(tmp_path / "a-1.0.jar", "org.example.Outer", "kafka.Kafka")
    assert artifacts.jar_classes(tmp_path) == {"org.example.Outer", "kafka.Kafka"}


def every_main_class(line):
    return {main_class for classes in kafka_release.main_classes(line).values() for main_class in classes}


def test_missing_main_class_is_named_with_its_script(tmp_path):
    classes = every_main_class(KAFKA4) - {"org.apache.kafka.tools.GroupsCommand"}
    assert artifacts.missing_main_classes(KAFKA4, classes) == {
        "kafka-groups.sh": ["org.apache.kafka.tools.GroupsCommand"]}
    fake_jar(tmp_path / "kafka-tools-4.3.1.jar", *classes)
    with pytest.raises(ArtifactError, match=r"lack the main class of kafka-groups\.sh "
                                            r"\(org\.apache\.kafka\.tools\.GroupsCommand\)"):
        artifacts.check_kafka_libs(KAFKA4, tmp_path)


def test_log4j2_binding_must_match_kafkas_log4j_core(tmp_path):
    fake_jar(tmp_path / "kafka-tools-4.3.1.jar", *every_main_class(KAFKA4))
    fake_jar(tmp_path / "log4j-core-2.99.0.jar")
    with pytest.raises(ArtifactError, match="log4j-core 2.99.0 .* set LOG4J2_VERSION to 2.99.0"):
        artifacts.check_kafka_libs(KAFKA4, tmp_path)
    (tmp_path / "log4j-core-2.99.0.jar").rename(tmp_path / f"log4j-core-{artifacts.LOG4J2_VERSION}.jar")
    artifacts.check_kafka_libs(KAFKA4, tmp_path)


@pytest.mark.parametrize("output, meaning", [
    ("SLF4J: Class path contains multiple SLF4J bindings.", "more than one SLF4J binding"),
    ('SLF4J: Failed to load class "org.slf4j.impl.StaticLoggerBinder".', "no SLF4J binding"),
    ("2026-01-01 ERROR StatusLogger Unable to parse configuration", "Log4j2 could not load"),
    ("log4j:WARN No appenders could be found for logger (kafka.Kafka).", "log4j found no configuration"),
])
def test_logging_trouble_is_recognised(output, meaning):
    assert artifacts.logging_trouble("3.9.2\n" + output).startswith(meaning)
    assert artifacts.logging_trouble("[2026-01-01] INFO Kafka version: 3.9.2") is None

"""Unit tests of the artifact builder's pure parts (no Maven, no Java, no network)."""

import hashlib
import json
import os
import subprocess
import tarfile
import xml.etree.ElementTree as ET

import pytest

from lab import artifacts
from lab.artifacts import ArtifactError

POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def make_cache(cache_dir):
    """A cache dir with three small artifact files, their sidecars and a matching manifest."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    contents = {"kafka": ("kafka_2.13-9.9.9.tgz", b"kafka bytes", "kafka_2.13-9.9.9"),
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

    def build_kafka(stage, tools, offline=False):
        if fail_in == "kafka":
            (stage / "half-built").write_text("x")
            raise ArtifactError("Maven could not resolve kafka")
        return fake_file(stage, "kafka_2.13-3.9.2.tgz", b"k"), "kafka_2.13-3.9.2", "3.8.4"

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
    assert artifacts.load_manifest(tmp_path, verify=True) == manifest
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [".build.lock", "apache-zookeeper-3.8.4-bin.tar.gz", "apache-zookeeper-3.8.4-bin.tar.gz.sha512",
                     "jmx_prometheus_javaagent-1.0.1.jar", "jmx_prometheus_javaagent-1.0.1.jar.sha512",
                     "kafka_2.13-3.9.2.tgz", "kafka_2.13-3.9.2.tgz.sha512", "manifest.json"]
    assert old["kafka"]["file"] not in names


@pytest.mark.parametrize("failing_step", ["kafka", "zookeeper"])
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
    deps = dependencies_of(artifacts.kafka_pom("3.9.2", "2.13"))
    assert ("org.apache.kafka", "kafka_2.13", "3.9.2") in deps
    assert ("org.apache.kafka", "kafka-tools", "3.9.2") in deps
    assert [d for d in deps if d[0] == "org.slf4j"] == [("org.slf4j", "slf4j-reload4j", artifacts.SLF4J_VERSION)]


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


def test_every_tool_script_runs_its_main_class():
    scripts = artifacts.kafka_bin_scripts()
    expected = {"kafka-run-class.sh", "kafka-server-start.sh", "zookeeper-shell.sh", *artifacts.KAFKA_TOOL_SCRIPTS}
    assert set(scripts) == expected
    for script, (main_class, _, _) in artifacts.KAFKA_TOOL_SCRIPTS.items():
        assert f'kafka-run-class.sh" {main_class} "$@"' in scripts[script]
    assert 'kafka-run-class.sh" $launcher_args kafka.Kafka "$@"' in scripts["kafka-server-start.sh"]
    assert "ZooKeeperMainWithTlsSupportForKafka -server" in scripts["zookeeper-shell.sh"]
    assert "@" not in "".join(scripts.values()).replace('"$@"', "")


@pytest.mark.parametrize("script", sorted({**artifacts.kafka_bin_scripts(), **artifacts.zookeeper_bin_scripts()}))
def test_scripts_are_valid_bash(script):
    content = {**artifacts.kafka_bin_scripts(), **artifacts.zookeeper_bin_scripts()}[script]
    result = subprocess.run(["bash", "-n"], input=content, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

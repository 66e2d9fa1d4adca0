"""Build the test bed's release artifacts from Maven Central.

No Apache download site is reachable from the test machines, but Maven Central is. This module
resolves the jars of Apache Kafka, Apache ZooKeeper and the Prometheus JMX exporter with Maven and
lays them out exactly like the official release tarballs, so the Salt states install them the way
they install the real releases: a ``source`` URL (here ``file://``) plus a ``source_hash``.

Artifacts (in the cache dir, default ``${KAFKASALT_CACHE:-~/.cache/kafkasalt}/artifacts``):

- ``kafka_2.13-<v>.tgz``: ``kafka_2.13-<v>/{libs,config,bin}`` for two release lines, each with
  our own equivalent of every ``bin/`` script the Apache release ships (see lab/kafka_release.py):
  manifest entry ``kafka`` is 3.9.2 (ZooKeeper or KRaft, log4j 1 configs), ``kafka4`` is 4.3.1
  (KRaft only, Log4j2 configs);
- ``apache-zookeeper-<v>-bin.tar.gz``: ``apache-zookeeper-<v>-bin/{lib,conf,bin}``; the ZooKeeper
  version is the one Kafka 3.9 itself depends on;
- ``jmx_prometheus_javaagent-<v>.jar``;
- ``<file>.sha512`` beside each (hex digest only) and ``manifest.json`` describing all of them.

Tarballs are reproducible (sorted entries, fixed mtime, owner root), so their sha512 stays the
same from one build to the next as long as Maven serves the same jars.

Command line (from the repository root)::

    .venv/bin/python -m lab.artifacts build [--cache DIR] [--force] [--offline]
    .venv/bin/python -m lab.artifacts verify [--cache DIR]
    .venv/bin/python -m lab.artifacts show [--cache DIR]
"""

import argparse
import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

from lab import kafka_release

# --------------------------------------------------------------------------- what we build
# The two Kafka release lines (versions, scripts, configs, Maven artifacts) are described in
# lab/kafka_release.py: 3.9.2, the last line that still runs with ZooKeeper, and 4.3.1, the newest
# 4.x (KRaft only) whose every jar the Maven repository serves.
KAFKA3 = kafka_release.KAFKA3
KAFKA4 = kafka_release.KAFKA4
KAFKA_LINES = kafka_release.LINES
KAFKA_VERSION = KAFKA3.version
KAFKA4_VERSION = KAFKA4.version
SCALA_VERSION = kafka_release.SCALA_VERSION
SLF4J_VERSION = kafka_release.SLF4J_VERSION
RELOAD4J_VERSION = kafka_release.RELOAD4J_VERSION
LOG4J2_VERSION = kafka_release.LOG4J2_VERSION
# The newest JMX exporter this Maven Central mirror serves (1.1+ is not there); runs on Java 17.
JMX_EXPORTER_VERSION = "1.0.1"
# Pinned so the resolution does not depend on the Maven installation's default plugin version.
MAVEN_DEPENDENCY_PLUGIN_VERSION = "3.6.1"
# Bump whenever the layout, scripts or configs change, so existing caches are rebuilt.
# 2: every bin/ script of the Apache release (3.9.2: 41, 4.3.1: 43), the Kafka 4.3.1 tarball.
RECIPE_REVISION = 2
# Fixed timestamp for every tarball entry (2024-01-01T00:00:00Z) unless SOURCE_DATE_EPOCH is set.
DEFAULT_SOURCE_DATE_EPOCH = 1704067200

ARTIFACT_NAMES = ("kafka", "kafka4", "zookeeper", "jmx_exporter")
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
SHA512_HEX = re.compile(r"^[0-9a-f]{128}$")

ZOOKEEPER_SERVER_MAIN_CLASS = kafka_release.ZOOKEEPER_SERVER_MAIN_CLASS
ZOOKEEPER_CLI_MAIN_CLASS = "org.apache.zookeeper.ZooKeeperMain"
ZOOKEEPER_VERSION_MAIN_CLASS = "org.apache.zookeeper.version.VersionInfoMain"

# How long one Maven resolution or one launcher check may take before we give up.
MAVEN_TIMEOUT_SECONDS = 900
LAUNCHER_CHECK_TIMEOUT_SECONDS = 120


class ArtifactError(Exception):
    """A build or verification failure, worded for the person running the build."""


# --------------------------------------------------------------------------- pure helpers
def default_cache_dir():
    """``${KAFKASALT_CACHE:-$HOME/.cache/kafkasalt}/artifacts`` (outside the git tree)."""
    base = os.environ.get("KAFKASALT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "kafkasalt")
    return Path(base) / "artifacts"


def recipe():
    """The inputs that decide what a build produces; a cache built from other inputs is rebuilt."""
    return {
        "revision": RECIPE_REVISION,
        "kafka_version": KAFKA_VERSION,
        "kafka4_version": KAFKA4_VERSION,
        "scala_version": SCALA_VERSION,
        "slf4j_version": SLF4J_VERSION,
        "reload4j_version": RELOAD4J_VERSION,
        "log4j2_version": LOG4J2_VERSION,
        "jmx_exporter_version": JMX_EXPORTER_VERSION,
    }


def source_date_epoch():
    """Timestamp stamped on every tarball entry: ``SOURCE_DATE_EPOCH`` if set, else a fixed date."""
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None:
        return DEFAULT_SOURCE_DATE_EPOCH
    if not raw.isdigit():
        raise ArtifactError(f"SOURCE_DATE_EPOCH must be a whole number of seconds, got {raw!r}")
    return int(raw)


def sha512_file(path):
    """Hex sha512 of a file, read in chunks."""
    digest = hashlib.sha512()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sidecar_path(path):
    """``<file>.sha512``, the checksum file written beside each artifact."""
    return Path(str(path) + ".sha512")


def write_sha512_sidecar(path):
    """Write ``<file>.sha512`` holding only the hex digest (plus newline); return the digest."""
    digest = sha512_file(path)
    sidecar_path(path).write_text(digest + "\n")
    return digest


def read_sha512_sidecar(path):
    """The hex digest stored in ``<file>.sha512``; ArtifactError if it is missing or malformed."""
    sidecar = sidecar_path(path)
    try:
        text = sidecar.read_text().strip().lower()
    except FileNotFoundError:
        raise ArtifactError(f"checksum file {sidecar} is missing") from None
    if not SHA512_HEX.match(text):
        raise ArtifactError(f"checksum file {sidecar} does not hold a sha512 hex digest (128 hex characters)")
    return text


def manifest_entry(path, version, top_dir, **extra):
    """Manifest record of one artifact file, in the shape the Salt pillar wants."""
    path = Path(path).resolve()
    digest = sha512_file(path)
    entry = {
        "version": version,
        "file": path.name,
        "source": path.as_uri(),
        "source_hash": f"sha512={digest}",
        "top_dir": top_dir,
        "size": path.stat().st_size,
    }
    entry.update(extra)
    return entry


def verify_cache(cache_dir, manifest):
    """Problems that stop ``manifest`` from describing ``cache_dir`` (empty list: all verified).

    Checks the recipe, that every artifact's file and ``.sha512`` exist, that the file's digest
    matches both the manifest and the sidecar, and that ``source`` points at the file.
    """
    cache_dir = Path(cache_dir)
    problems = []
    if manifest.get("recipe") != recipe():
        problems.append(f"built from another recipe ({manifest.get('recipe')}), wanted {recipe()}")
    for name in ARTIFACT_NAMES:
        entry = manifest.get(name)
        if not isinstance(entry, dict) or not entry.get("file"):
            problems.append(f"{name}: missing from the manifest")
            continue
        path = cache_dir / entry["file"]
        if not path.is_file():
            problems.append(f"{name}: file {path} is missing")
            continue
        if entry.get("source") != path.resolve().as_uri():
            problems.append(f"{name}: source {entry.get('source')} does not point at {path}")
        expected = str(entry.get("source_hash", "")).partition("sha512=")[2]
        actual = sha512_file(path)
        if actual != expected:
            problems.append(f"{name}: checksum mismatch for {path}: manifest says sha512={expected or '?'}, "
                            f"file has sha512={actual}")
            continue
        try:
            recorded = read_sha512_sidecar(path)
        except ArtifactError as exc:
            problems.append(f"{name}: {exc}")
        else:
            if recorded != actual:
                problems.append(f"{name}: checksum mismatch for {sidecar_path(path)}: it says {recorded}, "
                                f"{path.name} has {actual}")
    return problems


def load_manifest(cache_dir=None, verify=False):
    """The manifest of ``cache_dir`` (default: :func:`default_cache_dir`), or None if not built.

    With ``verify=True`` every checksum is checked too, and a mismatch raises ArtifactError.
    A manifest that exists but cannot be read raises ArtifactError.
    """
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    path = cache_dir / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"manifest {path} is unreadable: {exc}; rebuild with --force") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ArtifactError(f"manifest {path} has an unknown format; rebuild with --force")
    if verify:
        problems = verify_cache(cache_dir, manifest)
        if problems:
            raise ArtifactError(f"artifacts in {cache_dir} do not verify:\n  " + "\n  ".join(problems))
    return manifest


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
HELP_REFERENCE = re.compile(r"\s*->\s*\[Help \d+\]$")
MAVEN_BOILERPLATE = (
    "To see the full stack trace",
    "Re-run Maven using",
    "For more information about the errors",
    "[Help ",
    "After correcting the problems",
    "mvn <args> -rf",
)


def maven_error_lines(output, limit=15):
    """What Maven said went wrong: its ``[ERROR]`` lines without colours, help links and boilerplate.

    Falls back to the last non-empty lines when Maven printed no ``[ERROR]`` line at all.
    """
    lines = [ANSI_ESCAPE.sub("", line).rstrip() for line in output.splitlines()]
    errors = []
    for line in lines:
        if not line.startswith("[ERROR]"):
            continue
        text = HELP_REFERENCE.sub("", line[len("[ERROR]"):].strip())
        if text and not any(text.startswith(noise) for noise in MAVEN_BOILERPLATE):
            errors.append(text)
    if not errors:
        errors = [line for line in lines if line.strip()][-limit:]
    return errors[:limit]


def render_pom(artifact_id, dependencies, managed_boms=()):
    """A throw-away pom that only exists to resolve ``dependencies`` with maven-dependency-plugin.

    ``dependencies`` holds (groupId, artifactId, version or None, exclude_all_transitive) tuples;
    a None version is taken from the imported ``managed_boms`` ((groupId, artifactId, version)).
    """
    def dependency(group, artifact, version=None, scope=None, dep_type=None, exclude_all=False):
        parts = [f"<groupId>{xml_escape(group)}</groupId>", f"<artifactId>{xml_escape(artifact)}</artifactId>"]
        if version:
            parts.append(f"<version>{xml_escape(version)}</version>")
        if dep_type:
            parts.append(f"<type>{dep_type}</type>")
        if scope:
            parts.append(f"<scope>{scope}</scope>")
        if exclude_all:
            parts.append("<exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions>")
        return "      <dependency>" + "".join(parts) + "</dependency>"

    managed = "\n".join(dependency(g, a, v, scope="import", dep_type="pom") for g, a, v in managed_boms)
    wanted = "\n".join(dependency(g, a, v, exclude_all=ex) for g, a, v, ex in dependencies)
    management = (f"  <dependencyManagement>\n    <dependencies>\n{managed}\n    </dependencies>\n"
                  f"  </dependencyManagement>\n") if managed_boms else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafkasalt.lab</groupId>
  <artifactId>{xml_escape(artifact_id)}</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
{management}  <dependencies>
{wanted}
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>{MAVEN_DEPENDENCY_PLUGIN_VERSION}</version>
      </plugin>
    </plugins>
  </build>
</project>
"""


def kafka_pom(line=KAFKA3):
    """The jars of one Kafka release line: the broker (core jar, which brings clients, storage, raft,
    metadata, coordinators and, in 3.x, the ZooKeeper client with Kafka's own exclusions), the
    tools, the metadata shell, Connect with MirrorMaker 2, trogdor where it exists, and one SLF4J
    binding (reload4j for 3.x, Log4j2 for 4.x)."""
    dependencies = [("org.apache.kafka", artifact, line.version, False) for artifact in line.maven_artifacts]
    dependencies += [(group, artifact, version, False) for group, artifact, version in line.extra_dependencies]
    return render_pom(f"kafka-{line.version}-release-libs", dependencies)


def zookeeper_pom(zookeeper_version):
    """ZooKeeper server plus the jars its pom marks "provided" but the release's lib/ carries:
    Jetty and Jackson (AdminServer), Dropwizard metrics, jline, snappy, commons-cli. Their
    versions come from ZooKeeper's own parent pom, imported as a BOM."""
    return render_pom("zookeeper-release-libs", [
        ("org.apache.zookeeper", "zookeeper", zookeeper_version, False),
        ("org.eclipse.jetty", "jetty-server", None, False),
        ("org.eclipse.jetty", "jetty-servlet", None, False),
        ("org.eclipse.jetty", "jetty-client", None, False),
        ("com.fasterxml.jackson.core", "jackson-databind", None, False),
        ("io.dropwizard.metrics", "metrics-core", None, False),
        ("jline", "jline", None, False),
        ("org.xerial.snappy", "snappy-java", None, False),
        ("commons-cli", "commons-cli", None, False),
    ], managed_boms=[("org.apache.zookeeper", "parent", zookeeper_version)])


def jmx_exporter_pom(version=None):
    """The self-contained (shaded) javaagent jar alone."""
    version = version or JMX_EXPORTER_VERSION
    return render_pom("jmx-exporter", [("io.prometheus.jmx", "jmx_prometheus_javaagent", version, True)])


def jar_version(libs_dir, artifact_id):
    """Version of ``<artifact_id>-<version>.jar`` in ``libs_dir``; ArtifactError if absent or ambiguous."""
    pattern = re.compile(re.escape(artifact_id) + r"-(\d+(?:\.\d+)+)\.jar$")
    versions = sorted({m.group(1) for m in (pattern.match(p.name) for p in Path(libs_dir).iterdir()) if m})
    if len(versions) != 1:
        raise ArtifactError(f"expected one {artifact_id} jar in {libs_dir}, found versions {versions or 'none'}")
    return versions[0]


def _tree_entries(root_dir):
    """Every path under ``root_dir`` (itself included), parents before children, sorted by name."""
    root_dir = Path(root_dir)
    paths = [root_dir, *root_dir.rglob("*")]
    return sorted(paths, key=lambda p: p.relative_to(root_dir.parent).parts)


def write_reproducible_tarball(root_dir, out_path, mtime=None):
    """Pack ``root_dir`` into a gzip tarball whose top directory is ``root_dir``'s name.

    Entries are sorted, owned by root (uid/gid 0), stamped with one fixed mtime, modes normalised
    to 0755 (dirs, executables) or 0644, and the gzip header carries no name or time: packing the
    same tree twice gives the same bytes.
    """
    root_dir = Path(root_dir)
    mtime = source_date_epoch() if mtime is None else mtime
    with open(out_path, "wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=mtime, compresslevel=6) as compressed, \
            tarfile.open(fileobj=compressed, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path in _tree_entries(root_dir):
            info = tarfile.TarInfo(path.relative_to(root_dir.parent).as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = mtime
            if path.is_symlink():
                raise ArtifactError(f"refusing to pack symlink {path}: the release layout has none")
            if path.is_dir():
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.size = path.stat().st_size
                info.mode = 0o755 if path.stat().st_mode & 0o100 else 0o644
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)


# --------------------------------------------------------------------------- file contents
ZOOKEEPER_SERVER_SH = r"""#!/usr/bin/env bash
# Run a ZooKeeper server (main class @SERVER_CLASS@).
#
#   zkServer.sh start-foreground [zoo.cfg]   run in the foreground (for systemd/supervisord)
#   zkServer.sh print-cmd [zoo.cfg]          print the command start-foreground would run
#   zkServer.sh version                      print the ZooKeeper version
#
# Environment (Apache names): JAVA_HOME, ZOOCFGDIR (default <zk>/conf), ZOO_LOG_DIR (default
# <zk>/logs), ZK_SERVER_HEAP (MB, default 1000), SERVER_JVMFLAGS, JVMFLAGS, CLASSPATH.
set -u
set -f

zk_home=$(cd "$(dirname "$0")/.." && pwd)
ZOOCFGDIR=${ZOOCFGDIR:-$zk_home/conf}
ZOO_LOG_DIR=${ZOO_LOG_DIR:-$zk_home/logs}
if [ -n "${JAVA_HOME:-}" ]; then
  JAVA="$JAVA_HOME/bin/java"
else
  JAVA=java
fi
CLASSPATH="$ZOOCFGDIR:$zk_home/lib/*${CLASSPATH:+:$CLASSPATH}"

command=${1:-}
config=${2:-$ZOOCFGDIR/zoo.cfg}

# -Xmx from ZK_SERVER_HEAP comes first so an -Xmx in SERVER_JVMFLAGS wins; the flag variables
# are split into words on purpose.
server_command=("$JAVA" "-Dzookeeper.log.dir=$ZOO_LOG_DIR" "-Dzookeeper.log.file=zookeeper-server.log"
  "-Dlogback.configurationFile=$ZOOCFGDIR/logback.xml" "-Xmx${ZK_SERVER_HEAP:-1000}m" -XX:+ExitOnOutOfMemoryError
  ${SERVER_JVMFLAGS:-} ${JVMFLAGS:-} -cp "$CLASSPATH" @SERVER_CLASS@ "$config")

case "$command" in
  start-foreground)
    if [ ! -r "$config" ]; then
      echo "$0: cannot read config file $config" >&2
      exit 1
    fi
    mkdir -p "$ZOO_LOG_DIR" 2>/dev/null || true
    exec "${server_command[@]}"
    ;;
  print-cmd)
    printf '%q ' "${server_command[@]}"
    echo
    ;;
  version)
    exec "$JAVA" "-Dlogback.configurationFile=$ZOOCFGDIR/logback-cli.xml" -cp "$CLASSPATH" @VERSION_CLASS@
    ;;
  *)
    echo "usage: $0 {start-foreground|print-cmd} [zoo.cfg] | version" >&2
    echo "(start, stop and status are left to the service manager: run start-foreground under it)" >&2
    exit 1
    ;;
esac
"""

ZOOKEEPER_CLI_SH = r"""#!/usr/bin/env bash
# ZooKeeper command line client (main class @CLI_CLASS@).
#
#   zkCli.sh [-server HOST:PORT] [COMMAND ARGS...]
#
# Environment: JAVA_HOME, ZOOCFGDIR, ZK_CLIENT_HEAP (MB, default 256), CLIENT_JVMFLAGS, JVMFLAGS,
# CLASSPATH. Logs warnings to standard error only.
set -u
set -f

zk_home=$(cd "$(dirname "$0")/.." && pwd)
ZOOCFGDIR=${ZOOCFGDIR:-$zk_home/conf}
if [ -n "${JAVA_HOME:-}" ]; then
  JAVA="$JAVA_HOME/bin/java"
else
  JAVA=java
fi
CLASSPATH="$ZOOCFGDIR:$zk_home/lib/*${CLASSPATH:+:$CLASSPATH}"

exec "$JAVA" "-Dlogback.configurationFile=$ZOOCFGDIR/logback-cli.xml" "-Xmx${ZK_CLIENT_HEAP:-256}m" \
  ${CLIENT_JVMFLAGS:-} ${JVMFLAGS:-} -cp "$CLASSPATH" @CLI_CLASS@ "$@"
"""

ZOOKEEPER_LOGBACK_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<!-- ZooKeeper server logging (logback, the binding ZooKeeper 3.8 ships with).
     zkServer.sh sets zookeeper.log.dir and zookeeper.log.file; the console threshold can be
     raised with -Dzookeeper.console.threshold=WARN in SERVER_JVMFLAGS. -->
<configuration>
  <property name="zookeeper.log.dir" value="${zookeeper.log.dir:-.}"/>
  <property name="zookeeper.log.file" value="${zookeeper.log.file:-zookeeper.log}"/>

  <appender name="CONSOLE" class="ch.qos.logback.core.ConsoleAppender">
    <encoder>
      <pattern>%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n</pattern>
    </encoder>
    <filter class="ch.qos.logback.classic.filter.ThresholdFilter">
      <level>${zookeeper.console.threshold:-INFO}</level>
    </filter>
  </appender>

  <!-- At most 10 x 50 MB. -->
  <appender name="ROLLINGFILE" class="ch.qos.logback.core.rolling.RollingFileAppender">
    <file>${zookeeper.log.dir}/${zookeeper.log.file}</file>
    <encoder>
      <pattern>%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n</pattern>
    </encoder>
    <rollingPolicy class="ch.qos.logback.core.rolling.FixedWindowRollingPolicy">
      <fileNamePattern>${zookeeper.log.dir}/${zookeeper.log.file}.%i</fileNamePattern>
      <minIndex>1</minIndex>
      <maxIndex>10</maxIndex>
    </rollingPolicy>
    <triggeringPolicy class="ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy">
      <maxFileSize>50MB</maxFileSize>
    </triggeringPolicy>
  </appender>

  <root level="INFO">
    <appender-ref ref="CONSOLE"/>
    <appender-ref ref="ROLLINGFILE"/>
  </root>
</configuration>
"""

ZOOKEEPER_CLI_LOGBACK_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<!-- zkCli.sh and zkServer.sh version: warnings to standard error, no files. -->
<configuration>
  <appender name="STDERR" class="ch.qos.logback.core.ConsoleAppender">
    <target>System.err</target>
    <encoder>
      <pattern>%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n</pattern>
    </encoder>
  </appender>
  <root level="WARN">
    <appender-ref ref="STDERR"/>
  </root>
</configuration>
"""

ZOOKEEPER_ZOO_CFG = """\
# Sample standalone configuration. The Salt states write the real one.
tickTime=2000
initLimit=10
syncLimit=5
dataDir=/var/lib/zookeeper
clientPort=2181
clientPortAddress=127.0.0.1
# AdminServer (Jetty): bind an explicit address, never all interfaces.
admin.enableServer=true
admin.serverAddress=127.0.0.1
admin.serverPort=8080
4lw.commands.whitelist=srvr,ruok,mntr
autopurge.snapRetainCount=3
autopurge.purgeInterval=24
"""

TARBALL_README = """\
{title}

Assembled by lab/artifacts.py of the kafkasalt project from these Maven Central artifacts and
their runtime dependencies, laid out like the Apache release tarball:

{coordinates}

The scripts in bin/ and the files in {config_dir}/ are kafkasalt's own, not Apache's.
This is a test-bed build, not an Apache release.
{notes}"""


def _write(path, text, executable=False):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755 if executable else 0o644)


def kafka_bin_scripts(line=KAFKA3):
    """``{script name: content}`` for the bin/ directory of a Kafka line's tarball."""
    return kafka_release.bin_scripts(line)


def zookeeper_bin_scripts():
    """``{script name: content}`` for the ZooKeeper tarball's bin/ directory."""
    return {
        "zkServer.sh": ZOOKEEPER_SERVER_SH.replace("@SERVER_CLASS@", ZOOKEEPER_SERVER_MAIN_CLASS)
                                          .replace("@VERSION_CLASS@", ZOOKEEPER_VERSION_MAIN_CLASS),
        "zkCli.sh": ZOOKEEPER_CLI_SH.replace("@CLI_CLASS@", ZOOKEEPER_CLI_MAIN_CLASS),
    }


def kafka_top_dir(line=KAFKA3):
    """``kafka_<scala>-<kafka>``, the release tarball's top directory."""
    return line.top_dir


def zookeeper_top_dir(zookeeper_version):
    """``apache-zookeeper-<v>-bin``, the binary release tarball's top directory."""
    return f"apache-zookeeper-{zookeeper_version}-bin"


# --------------------------------------------------------------------------- impure steps
def find_tools():
    """Paths of ``java`` and ``mvn``; ArtifactError naming what is missing and how to get it."""
    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java")
    if java_home and not os.access(java, os.X_OK):
        raise ArtifactError(f"JAVA_HOME={java_home} has no executable bin/java")
    missing = []
    if not java:
        missing.append("java (a JDK/JRE 17, e.g. apt-get install openjdk-17-jre-headless)")
    mvn = shutil.which("mvn")
    if not mvn:
        missing.append("mvn (Apache Maven, e.g. apt-get install maven)")
    if missing:
        raise ArtifactError("required tools not found on PATH: " + "; ".join(missing))
    return {"java": java, "mvn": mvn}


def run_maven(tools, pom_text, work_dir, output_dir, what, offline=False):
    """Resolve the pom's dependencies into ``output_dir``; ArtifactError with Maven's own error lines."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / "pom.xml").write_text(pom_text)
    command = [tools["mvn"], "-B", "-q", "-Dstyle.color=never", "-f", str(work_dir / "pom.xml"),
               "dependency:copy-dependencies", f"-DoutputDirectory={output_dir}", "-DincludeScope=runtime"]
    if offline:
        command.insert(1, "-o")
    try:
        proc = subprocess.run(command, cwd=work_dir, capture_output=True, text=True, timeout=MAVEN_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise ArtifactError(f"Maven did not resolve {what} within {MAVEN_TIMEOUT_SECONDS}s "
                            f"(is Maven Central reachable?)") from None
    if proc.returncode != 0:
        lines = maven_error_lines(proc.stdout + "\n" + proc.stderr)
        hint = " (offline: is everything in the local Maven repository?)" if offline else \
            " (is Maven Central reachable, and does the artifact exist there?)"
        raise ArtifactError(f"Maven could not resolve {what}{hint}; mvn exited {proc.returncode}:\n  "
                            + "\n  ".join(lines))


# Launcher output that means a broken logging setup even when the tool itself worked.
LOGGING_TROUBLE = {
    "multiple SLF4J bindings": "more than one SLF4J binding on the classpath",
    "org.slf4j.impl.StaticLoggerBinder": "no SLF4J binding on the classpath",
    "No SLF4J providers were found": "no SLF4J binding on the classpath",
    "ERROR StatusLogger": "Log4j2 could not load its configuration",
    "log4j:ERROR": "log4j could not load its configuration",
    "log4j:WARN No appenders": "log4j found no configuration",
}


def logging_trouble(output):
    """What is wrong with the logging setup according to a launcher's ``output`` (None: nothing)."""
    for marker, meaning in LOGGING_TROUBLE.items():
        if marker in output:
            return meaning
    return None


def run_launcher_check(command, expect, what, env_extra=None):
    """Run a packaged launcher (e.g. ``--version``) and insist on ``expect`` in its output.

    Catches a broken classpath, a missing or second SLF4J binding, or a log config the logging
    framework rejects, before the tarball is published.
    """
    env = dict(os.environ, **(env_extra or {}))
    try:
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=LAUNCHER_CHECK_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise ArtifactError(f"{what}: {' '.join(map(str, command))} did not finish in "
                            f"{LAUNCHER_CHECK_TIMEOUT_SECONDS}s") from None
    output = proc.stdout + proc.stderr
    if proc.returncode != 0 or expect not in output:
        raise ArtifactError(f"{what}: {' '.join(map(str, command))} exited {proc.returncode} without "
                            f"printing {expect!r}:\n{output[-3000:]}")
    trouble = logging_trouble(output)
    if trouble:
        raise ArtifactError(f"{what}: {trouble}:\n{output[-3000:]}")


def jar_classes(libs_dir):
    """Names (``a.b.C``) of the top-level classes in the jars of ``libs_dir``."""
    classes = set()
    for jar in sorted(Path(libs_dir).glob("*.jar")):
        with zipfile.ZipFile(jar) as archive:
            for name in archive.namelist():
                if name.endswith(".class") and "$" not in name and not name.startswith("META-INF/"):
                    classes.add(name[:-len(".class")].replace("/", "."))
    return classes


def missing_main_classes(line, classes):
    """``{script: [main class, ...]}`` of the scripts whose main class is not in ``classes``."""
    missing = {}
    for script, wanted in kafka_release.main_classes(line).items():
        absent = [main_class for main_class in wanted if main_class not in classes]
        if absent:
            missing[script] = absent
    return missing


def check_kafka_libs(line, libs):
    """The resolved ``libs`` hold every main class the line's scripts run, and (4.x) the SLF4J
    binding matches Kafka's own log4j-core; ArtifactError naming what is wrong otherwise."""
    missing = missing_main_classes(line, jar_classes(libs))
    if missing:
        raise ArtifactError(f"Kafka {line.version}: the jars lack the main class of "
                            + "; ".join(f"{script} ({', '.join(classes)})" for script, classes in missing.items()))
    for group, artifact, version in line.extra_dependencies:
        if artifact == "log4j-slf4j-impl":
            core = jar_version(libs, "log4j-core")
            if core != version:
                raise ArtifactError(f"Kafka {line.version} brings log4j-core {core} but the SLF4J binding is "
                                    f"{group}:{artifact}:{version}: set LOG4J2_VERSION to {core}")


def _kafka_readme(line):
    left_out = "".join(f"  {script}: {why}\n" for script, why in line.left_out.items())
    notes = (f"\nbin/ has {len(kafka_release.bin_scripts(line))} scripts; left out of the Apache release's:\n"
             f"{left_out}Logging: {line.logging.framework} (config/{line.logging.broker}, "
             f"config/{line.logging.tools}, config/{line.logging.connect}).\n")
    return TARBALL_README.format(
        title=f"Apache Kafka {line.version} (Scala {line.scala_version}), {line.mode}",
        coordinates="\n".join(f"  {c}" for c in line.coordinates), config_dir="config", notes=notes)


def build_kafka(stage, tools, line=KAFKA3, offline=False):
    """Kafka release tree + tarball of ``line`` in ``stage``.

    Returns (tarball path, top dir, the version of the ZooKeeper client in libs/ or None).
    """
    top = line.top_dir
    tree = Path(stage) / "trees" / top
    libs = tree / "libs"
    libs.mkdir(parents=True)
    run_maven(tools, kafka_pom(line), Path(stage) / f"maven-{line.key}", libs,
              f"org.apache.kafka:kafka_{line.scala_version}:{line.version} with its tools, Connect and "
              f"MirrorMaker 2", offline)
    check_kafka_libs(line, libs)
    # The ZooKeeper tarball follows the ZooKeeper client Kafka was built against (3.x only).
    zookeeper_version = jar_version(libs, "zookeeper") if line.zookeeper_shell else None
    for script, content in kafka_bin_scripts(line).items():
        _write(tree / "bin" / script, content, executable=True)
    for name, content in line.configs.items():
        _write(tree / "config" / name, content)
    _write(tree / "README.kafkasalt", _kafka_readme(line))

    check_env = {"KAFKA_HEAP_OPTS": "-Xmx128m", "LOG_DIR": str(Path(stage) / f"check-logs-{line.key}")}
    run_launcher_check([tree / "bin" / "kafka-server-start.sh", "--version"], line.version,
                       f"Kafka {line.version} broker launcher", dict(check_env, EXTRA_ARGS=""))
    run_launcher_check([tree / "bin" / "kafka-topics.sh", "--version"], line.version,
                       f"Kafka {line.version} kafka-topics.sh", check_env)

    tarball = Path(stage) / f"{top}.tgz"
    write_reproducible_tarball(tree, tarball)
    write_sha512_sidecar(tarball)
    return tarball, top, zookeeper_version


def build_zookeeper(stage, tools, zookeeper_version, offline=False):
    """ZooKeeper release tree + tarball in ``stage``; returns (tarball path, top dir)."""
    top = zookeeper_top_dir(zookeeper_version)
    tree = Path(stage) / "trees" / top
    lib = tree / "lib"
    lib.mkdir(parents=True)
    run_maven(tools, zookeeper_pom(zookeeper_version), Path(stage) / "maven-zookeeper", lib,
              f"org.apache.zookeeper:zookeeper:{zookeeper_version} with its AdminServer and metrics jars", offline)
    for script, content in zookeeper_bin_scripts().items():
        _write(tree / "bin" / script, content, executable=True)
    _write(tree / "conf" / "logback.xml", ZOOKEEPER_LOGBACK_XML)
    _write(tree / "conf" / "logback-cli.xml", ZOOKEEPER_CLI_LOGBACK_XML)
    _write(tree / "conf" / "zoo_sample.cfg", ZOOKEEPER_ZOO_CFG)
    _write(tree / "README.kafkasalt", TARBALL_README.format(
        title=f"Apache ZooKeeper {zookeeper_version}",
        coordinates=f"  org.apache.zookeeper:zookeeper:{zookeeper_version} (+ Jetty, Jackson, metrics-core, "
                    f"jline, snappy-java, commons-cli at the versions of its parent pom)",
        config_dir="conf", notes=""))

    run_launcher_check([tree / "bin" / "zkServer.sh", "version"], f"version {zookeeper_version}",
                       "zkServer.sh version")

    tarball = Path(stage) / f"{top}.tar.gz"
    write_reproducible_tarball(tree, tarball)
    write_sha512_sidecar(tarball)
    return tarball, top


def fetch_jmx_exporter(stage, tools, offline=False):
    """The JMX exporter javaagent jar in ``stage``; returns its path."""
    download = Path(stage) / "jmx-download"
    run_maven(tools, jmx_exporter_pom(), Path(stage) / "maven-jmx", download,
              f"io.prometheus.jmx:jmx_prometheus_javaagent:{JMX_EXPORTER_VERSION}", offline)
    name = f"jmx_prometheus_javaagent-{JMX_EXPORTER_VERSION}.jar"
    jar = Path(stage) / name
    shutil.move(str(download / name), jar)
    with zipfile.ZipFile(jar) as archive:
        manifest = archive.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
    if "Premain-Class:" not in manifest:
        raise ArtifactError(f"{name} has no Premain-Class: it is not a javaagent jar")
    write_sha512_sidecar(jar)
    return jar


@contextlib.contextmanager
def _cache_lock(cache_dir):
    """Serialise builds that share a cache dir (tests and the lab may build at the same time)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _write_json_atomically(path, data):
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _describe(path):
    return f"{path.name} ({path.stat().st_size / 1e6:.1f} MB)"


def build_all(cache_dir=None, force=False, offline=False, log=print):
    """Build (or reuse) all artifacts in ``cache_dir``; return the manifest dict.

    Reuses the cache when its manifest matches the current recipe and every checksum verifies
    (prints "cached"). Otherwise builds everything in a temporary directory inside the cache dir,
    then moves the files into place and writes ``manifest.json`` last; on failure nothing of the
    new build is left behind and the previous artifacts stay as they were.
    """
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    with _cache_lock(cache_dir):
        if not force:
            try:
                manifest = load_manifest(cache_dir)
            except ArtifactError as exc:
                log(f"rebuilding: {exc}")
                manifest = None
            if manifest is not None:
                started = time.monotonic()
                problems = verify_cache(cache_dir, manifest)
                if not problems:
                    log(f"cached: {cache_dir} (verified in {time.monotonic() - started:.1f}s)")
                    return manifest
                log("rebuilding, the cache does not verify:\n  " + "\n  ".join(problems))

        tools = find_tools()
        stage = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
        try:
            built = _build_everything(stage, tools, offline, log)
            previous = _previous_files(cache_dir)
            manifest = {"format": MANIFEST_FORMAT, "recipe": recipe()}
            for name, (path, version, top, extra) in built.items():
                final = cache_dir / path.name
                os.replace(sidecar_path(path), sidecar_path(final))
                os.replace(path, final)
                manifest[name] = manifest_entry(final, version, top, **extra)
            # The manifest is the commit point: written last, atomically.
            _write_json_atomically(cache_dir / MANIFEST_NAME, manifest)
            for stale in previous - {cache_dir / entry["file"] for entry in _entries(manifest)}:
                for path in (stale, sidecar_path(stale)):
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
            log(f"artifacts in {cache_dir}")
            return manifest
        finally:
            shutil.rmtree(stage, ignore_errors=True)


def _build_everything(stage, tools, offline, log):
    """Every artifact in ``stage``: ``{name: (path, version, top dir, manifest extras)}``, one after
    the other (in parallel they only fought over two cores and Maven's local repository): each
    Kafka line, the ZooKeeper tarball of 3.9's ZooKeeper client, the JMX exporter."""
    def timed(what, step):
        started = time.monotonic()
        path, top, *rest = step()
        log(f"{what}: {_describe(path)} in {time.monotonic() - started:.1f}s")
        return path, top, rest

    built = {}
    zookeeper_version = None
    for line in KAFKA_LINES:
        what = f"kafka {line.version} ({len(kafka_bin_scripts(line))} bin/ scripts)"
        tarball, top, (zookeeper_client,) = timed(what, lambda: build_kafka(stage, tools, line, offline))
        built[line.key] = (tarball, line.version, top, {"scala_version": line.scala_version})
        zookeeper_version = zookeeper_version or zookeeper_client
    path, top, _ = timed(f"zookeeper {zookeeper_version}",
                         lambda: build_zookeeper(stage, tools, zookeeper_version, offline))
    built["zookeeper"] = (path, zookeeper_version, top, {})
    path, _, _ = timed(f"jmx_exporter {JMX_EXPORTER_VERSION}",
                       lambda: (fetch_jmx_exporter(stage, tools, offline), None))
    built["jmx_exporter"] = (path, JMX_EXPORTER_VERSION, None, {})
    return built


def _entries(manifest):
    return [manifest[name] for name in ARTIFACT_NAMES if isinstance(manifest.get(name), dict)]


def _previous_files(cache_dir):
    """Artifact files the current manifest names (to prune after a rebuild with new names)."""
    try:
        manifest = load_manifest(cache_dir)
    except ArtifactError:
        return set()
    if manifest is None:
        return set()
    return {cache_dir / entry["file"] for entry in _entries(manifest) if entry.get("file")}


# --------------------------------------------------------------------------- command line
def main(argv=None):
    """``python -m lab.artifacts {build,verify,show}``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m lab.artifacts",
                                     description="Kafka, ZooKeeper and JMX exporter artifacts from Maven Central")
    parser.add_argument("command", choices=("build", "verify", "show"),
                        help="build: build or reuse the cache; verify: check checksums only; show: print manifest")
    parser.add_argument("--cache", metavar="DIR", help=f"artifact cache dir (default {default_cache_dir()})")
    parser.add_argument("--force", action="store_true", help="build: rebuild even if the cache verifies")
    parser.add_argument("--offline", action="store_true", help="build: use only the local Maven repository")
    args = parser.parse_args(argv)
    cache_dir = Path(args.cache).expanduser() if args.cache else default_cache_dir()
    try:
        if args.command == "build":
            started = time.monotonic()
            build_all(cache_dir, force=args.force, offline=args.offline)
            print(f"done in {time.monotonic() - started:.1f}s")
        elif args.command == "verify":
            manifest = load_manifest(cache_dir, verify=True)
            if manifest is None:
                raise ArtifactError(f"no manifest in {cache_dir}: run `python -m lab.artifacts build`")
            print(f"verified: {', '.join(e['file'] for e in _entries(manifest))}")
        else:
            manifest = load_manifest(cache_dir)
            if manifest is None:
                raise ArtifactError(f"no manifest in {cache_dir}: run `python -m lab.artifacts build`")
            print(json.dumps(manifest, indent=2, sort_keys=True))
    except ArtifactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

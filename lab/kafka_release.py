"""What goes into the test bed's Kafka release tarballs besides ``libs/``: ``bin/`` and ``config/``.

The official Apache tarball ships some forty ``bin/*.sh`` scripts. Nearly all of them are thin
wrappers: an optional default heap, then ``kafka-run-class.sh <main class> "$@"``. The start
scripts (broker, Connect, MirrorMaker 2, 3.x's ZooKeeper) add ``-daemon``, a log config and a
service name; the stop scripts signal the JVMs that run a main class; ``trogdor.sh`` picks one of
four main classes. This module describes each release line (:data:`KAFKA3`, :data:`KAFKA4`):
which scripts it ships, the main class behind each (checked against the resolved jars by the
build), the Maven artifacts that hold them, and the ``config/`` samples. The scripts and configs
are kafkasalt's own, written from what the Apache ones do, not copies of them.

Pure data and string rendering only: no Maven, no Java, no files.
"""

import re
from dataclasses import dataclass

SCALA_VERSION = "2.13"


@dataclass(frozen=True)
class Tool:
    """``bin/<script>``: ``kafka-run-class.sh MAIN_CLASS "$@"``, with an optional default heap."""

    main_class: str
    description: str
    heap: str = ""


@dataclass(frozen=True)
class Service:
    """A start script: ``<script> [-daemon] USAGE``; refuses to run without an argument."""

    main_class: str
    description: str
    usage: str
    log_config: str  # "broker" or "connect": which of the line's log configs it defaults to
    heap: str
    name: str  # kafka-run-class.sh -name: $LOG_DIR/<name>.out under -daemon, <name>-gc.log
    gc_log: bool = False


@dataclass(frozen=True)
class Stopper:
    """A stop script: signal the local JVMs whose main class is ``main_class``."""

    main_class: str
    what: str
    by_node: bool  # accepts --node-id=ID / --process-role=ROLES (KRaft-aware, as Apache's)


@dataclass(frozen=True)
class Logging:
    """How a line configures logging: the JVM option and the three config file names."""

    framework: str
    jvm_option: str  # followed directly by the config file's path
    broker: str
    tools: str
    connect: str


@dataclass(frozen=True, eq=False)
class KafkaLine:
    """One Kafka release line as the tarball carries it."""

    key: str  # its entry in the artifact manifest
    version: str
    mode: str
    maven_artifacts: tuple  # org.apache.kafka artifactIds resolved with their dependencies
    extra_dependencies: tuple  # (groupId, artifactId, version): the SLF4J binding
    logging: Logging
    tools: dict
    services: dict
    stoppers: dict
    trogdor: bool
    zookeeper_shell: bool
    configs: dict  # config/<name> -> text
    left_out: dict  # scripts of the Apache release this tarball does not ship -> why

    @property
    def scala_version(self):
        return SCALA_VERSION

    @property
    def top_dir(self):
        """``kafka_<scala>-<version>``, the release tarball's top directory."""
        return f"kafka_{SCALA_VERSION}-{self.version}"

    @property
    def coordinates(self):
        """Every Maven coordinate the line's pom asks for, as ``group:artifact:version``."""
        kafka = [f"org.apache.kafka:{artifact}:{self.version}" for artifact in self.maven_artifacts]
        return kafka + [f"{g}:{a}:{v}" for g, a, v in self.extra_dependencies]


# --------------------------------------------------------------------------- main classes
KAFKA_BROKER_MAIN_CLASS = "kafka.Kafka"
# Kafka's ZooKeeper shell: ZooKeeperMain plus the TLS client options of Kafka's own configs.
ZOOKEEPER_SHELL_MAIN_CLASS = "org.apache.zookeeper.ZooKeeperMainWithTlsSupportForKafka"
ZOOKEEPER_SERVER_MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
TROGDOR_MAIN_CLASSES = {
    "agent": ("org.apache.kafka.trogdor.agent.Agent", "run an agent on a node under test"),
    "coordinator": ("org.apache.kafka.trogdor.coordinator.Coordinator", "run the coordinator that schedules tasks"),
    "client": ("org.apache.kafka.trogdor.coordinator.CoordinatorClient", "talk to a coordinator"),
    "agent-client": ("org.apache.kafka.trogdor.agent.AgentClient", "talk to an agent"),
}

HEAP_TOOL = "-Xmx512M"
HEAP_CONNECT = "-Xms256M -Xmx2G"

# Tools whose script and main class are the same in 3.9 and 4.x.
COMMON_TOOLS = {
    "kafka-topics.sh": Tool("org.apache.kafka.tools.TopicCommand", "create, alter, list and describe topics"),
    "kafka-configs.sh": Tool("kafka.admin.ConfigCommand",
                             "describe and alter broker, topic, client and user configs (incl. SCRAM)"),
    "kafka-consumer-groups.sh": Tool("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                                     "list, describe, reset and delete consumer groups"),
    "kafka-reassign-partitions.sh": Tool("org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
                                         "move partition replicas between brokers and log dirs"),
    "kafka-leader-election.sh": Tool("org.apache.kafka.tools.LeaderElectionCommand",
                                     "run preferred or unclean leader elections"),
    "kafka-console-consumer.sh": Tool("org.apache.kafka.tools.consumer.ConsoleConsumer",
                                      "print consumed records to standard output", HEAP_TOOL),
    "kafka-client-metrics.sh": Tool("org.apache.kafka.tools.ClientMetricsCommand",
                                    "manage client metrics subscriptions (KIP-714)"),
    "kafka-cluster.sh": Tool("org.apache.kafka.tools.ClusterTool", "print the cluster id, unregister a broker"),
    "kafka-consumer-perf-test.sh": Tool("org.apache.kafka.tools.ConsumerPerformance",
                                        "measure consumer throughput", HEAP_TOOL),
    "kafka-producer-perf-test.sh": Tool("org.apache.kafka.tools.ProducerPerformance",
                                        "measure producer throughput and latency", HEAP_TOOL),
    "kafka-delegation-tokens.sh": Tool("org.apache.kafka.tools.DelegationTokenCommand",
                                       "create, renew, expire and describe delegation tokens"),
    "kafka-delete-records.sh": Tool("org.apache.kafka.tools.DeleteRecordsCommand",
                                    "delete records up to an offset (JSON plan)"),
    "kafka-e2e-latency.sh": Tool("org.apache.kafka.tools.EndToEndLatency", "measure produce-to-consume latency"),
    "kafka-features.sh": Tool("org.apache.kafka.tools.FeatureCommand",
                              "describe, upgrade and downgrade feature levels (metadata.version, ...)"),
    "kafka-get-offsets.sh": Tool("org.apache.kafka.tools.GetOffsetShell", "print partition offsets by time"),
    "kafka-jmx.sh": Tool("org.apache.kafka.tools.JmxTool", "poll JMX attributes and print them"),
    "kafka-log-dirs.sh": Tool("org.apache.kafka.tools.LogDirsCommand", "describe brokers' log dirs and sizes"),
    "kafka-metadata-quorum.sh": Tool("org.apache.kafka.tools.MetadataQuorumCommand",
                                     "describe the KRaft quorum, add and remove controllers"),
    "kafka-metadata-shell.sh": Tool("org.apache.kafka.shell.MetadataShell",
                                    "browse a KRaft metadata log or snapshot"),
    "kafka-replica-verification.sh": Tool("org.apache.kafka.tools.ReplicaVerificationTool",
                                          "check that replicas hold the same data (deprecated upstream)"),
    "kafka-storage.sh": Tool("kafka.tools.StorageTool", "format KRaft log dirs, print random cluster ids"),
    "kafka-streams-application-reset.sh": Tool("org.apache.kafka.tools.StreamsResetter",
                                               "reset a Kafka Streams application's offsets", HEAP_TOOL),
    "kafka-transactions.sh": Tool("org.apache.kafka.tools.TransactionsCommand",
                                  "list, describe and abort transactions"),
    "kafka-verifiable-consumer.sh": Tool("org.apache.kafka.tools.VerifiableConsumer",
                                         "consume and report every event as JSON (system tests)", HEAP_TOOL),
    "kafka-verifiable-producer.sh": Tool("org.apache.kafka.tools.VerifiableProducer",
                                         "produce and report every ack as JSON (system tests)", HEAP_TOOL),
    "connect-plugin-path.sh": Tool("org.apache.kafka.tools.ConnectPluginPath",
                                   "list and sync Connect plugin manifests", HEAP_CONNECT),
}

# 3.9: a few tools still live in the core jar, under kafka.*.
KAFKA3_TOOLS = {
    **COMMON_TOOLS,
    "kafka-acls.sh": Tool("kafka.admin.AclCommand", "add, remove and list ACLs"),
    "kafka-broker-api-versions.sh": Tool("kafka.admin.BrokerApiVersionsCommand",
                                         "show the API versions each broker supports"),
    "kafka-console-producer.sh": Tool("kafka.tools.ConsoleProducer",
                                      "produce records read from standard input", HEAP_TOOL),
    "kafka-dump-log.sh": Tool("kafka.tools.DumpLogSegments", "print log segments, indexes and metadata logs"),
    "kafka-mirror-maker.sh": Tool("kafka.tools.MirrorMaker", "MirrorMaker 1 (deprecated; removed in 4.0)"),
    "zookeeper-security-migration.sh": Tool("kafka.admin.ZkSecurityMigrator",
                                            "set or unset ZooKeeper ACLs on Kafka's znodes"),
}

# 4.x: those tools moved to kafka-tools; share groups (KIP-932), groups of every type (KIP-1043)
# and Streams groups (KIP-1071) got their own commands.
KAFKA4_TOOLS = {
    **COMMON_TOOLS,
    "kafka-acls.sh": Tool("org.apache.kafka.tools.AclCommand", "add, remove and list ACLs"),
    "kafka-broker-api-versions.sh": Tool("org.apache.kafka.tools.BrokerApiVersionsCommand",
                                         "show the API versions each broker supports"),
    "kafka-console-producer.sh": Tool("org.apache.kafka.tools.ConsoleProducer",
                                      "produce records read from standard input", HEAP_TOOL),
    "kafka-dump-log.sh": Tool("org.apache.kafka.tools.DumpLogSegments",
                              "print log segments, indexes and metadata logs"),
    "kafka-groups.sh": Tool("org.apache.kafka.tools.GroupsCommand", "list groups of every type"),
    "kafka-share-groups.sh": Tool("org.apache.kafka.tools.consumer.group.ShareGroupCommand",
                                  "list, describe, reset and delete share groups"),
    "kafka-console-share-consumer.sh": Tool("org.apache.kafka.tools.consumer.ConsoleShareConsumer",
                                            "print records consumed through a share group", HEAP_TOOL),
    "kafka-share-consumer-perf-test.sh": Tool("org.apache.kafka.tools.ShareConsumerPerformance",
                                              "measure share consumer throughput", HEAP_TOOL),
    "kafka-verifiable-share-consumer.sh": Tool("org.apache.kafka.tools.VerifiableShareConsumer",
                                               "share-group consumer reporting JSON events (system tests)",
                                               HEAP_TOOL),
    "kafka-streams-groups.sh": Tool("org.apache.kafka.tools.streams.StreamsGroupCommand",
                                    "list, describe, reset and delete Streams groups"),
}

BROKER_SERVICE = Service(KAFKA_BROKER_MAIN_CLASS, "start a Kafka server (broker and/or controller)",
                         "server.properties [--override property=value]*", "broker", "-Xmx1G -Xms1G",
                         "kafkaServer", gc_log=True)
CONNECT_SERVICES = {
    "connect-distributed.sh": Service("org.apache.kafka.connect.cli.ConnectDistributed",
                                      "start a Kafka Connect worker in distributed mode",
                                      "connect-distributed.properties", "connect", HEAP_CONNECT,
                                      "connectDistributed"),
    "connect-standalone.sh": Service("org.apache.kafka.connect.cli.ConnectStandalone",
                                     "start a standalone Kafka Connect worker with its connectors",
                                     "connect-standalone.properties [connector1.properties connector2.json ...]",
                                     "connect", HEAP_CONNECT, "connectStandalone"),
    "connect-mirror-maker.sh": Service("org.apache.kafka.connect.mirror.MirrorMaker",
                                       "start MirrorMaker 2 (dedicated mode) between the clusters of mm2.properties",
                                       "mm2.properties", "connect", HEAP_CONNECT, "mirrorMaker"),
}
ZOOKEEPER_SERVICE = Service(ZOOKEEPER_SERVER_MAIN_CLASS, "start the ZooKeeper server bundled with Kafka",
                            "zookeeper.properties", "broker", "-Xmx512M -Xms512M", "zookeeper", gc_log=True)

KAFKA_STOPPER = Stopper(KAFKA_BROKER_MAIN_CLASS, "kafka server", by_node=True)
ZOOKEEPER_STOPPER = Stopper(ZOOKEEPER_SERVER_MAIN_CLASS, "zookeeper server", by_node=False)

# The Maven artifacts behind the scripts, beyond what kafka_2.13 and kafka-tools pull in:
# kafka-shell (metadata shell), Connect's runtime/mirror/file/json/transforms (connect-*.sh,
# MirrorMaker 2), and in 4.x trogdor. kafka-streams is left out: no script needs it (the Streams
# tools live in kafka-tools), and it would add RocksDB's 70 MB of native libraries.
COMMON_MAVEN_ARTIFACTS = (
    f"kafka_{SCALA_VERSION}", "kafka-tools", "kafka-shell",
    "connect-runtime", "connect-mirror", "connect-mirror-client", "connect-json", "connect-transforms",
    "connect-file",
)


# --------------------------------------------------------------------------- launcher templates
KAFKA_RUN_CLASS_SH = r"""#!/usr/bin/env bash
# Run a Java main class with the Kafka jars (libs/*) on the classpath.
#
#   kafka-run-class.sh [-daemon] [-name NAME] [-loggc] CLASS [ARGS...]
#
# Environment (same names and defaults as the Apache launcher):
#   JAVA_HOME                   java from $JAVA_HOME/bin, else from PATH
#   KAFKA_HEAP_OPTS             default -Xmx256M
#   KAFKA_JVM_PERFORMANCE_OPTS  default G1 settings below
#   KAFKA_GC_LOG_OPTS           set by -loggc (needs -name)
#   KAFKA_JMX_OPTS              default: local JMX only; JMX_PORT [JMX_RMI_PORT] [JMX_HOST] open a port
#   KAFKA_LOG4J_OPTS            default: config/@TOOLS_LOG_CONFIG@ (@LOG_FRAMEWORK@)
#   KAFKA_OPTS                  anything else (JAAS, javaagents, ...)
#   LOG_DIR                     default <kafka>/logs, passed as -Dkafka.logs.dir
#   CLASSPATH                   prepended to libs/*
set -u
# Option variables are split into words on purpose; never expand globs inside them.
set -f

if [ $# -lt 1 ]; then
  echo "usage: $0 [-daemon] [-name NAME] [-loggc] CLASS [ARGS...]" >&2
  exit 1
fi

kafka_home=$(cd "$(dirname "$0")/.." && pwd)

run_as_daemon=false
service_name=""
write_gc_log=false
while [ $# -gt 0 ]; do
  case "$1" in
    -daemon) run_as_daemon=true; shift ;;
    -name) service_name=${2:?-name needs a value}; shift 2 ;;
    -loggc) write_gc_log=true; shift ;;
    *) break ;;
  esac
done
if [ $# -lt 1 ]; then
  echo "$0: no class to run" >&2
  exit 1
fi

LOG_DIR=${LOG_DIR:-$kafka_home/logs}
# Only the broker's log config writes files; a tool run by a user without rights must still work.
mkdir -p "$LOG_DIR" 2>/dev/null || true

CLASSPATH="${CLASSPATH:+$CLASSPATH:}$kafka_home/libs/*"

if [ -n "${JAVA_HOME:-}" ]; then
  JAVA="$JAVA_HOME/bin/java"
else
  JAVA=java
fi

if [ -z "${KAFKA_JMX_OPTS:-}" ]; then
  KAFKA_JMX_OPTS="-Dcom.sun.management.jmxremote -Dcom.sun.management.jmxremote.authenticate=false -Dcom.sun.management.jmxremote.ssl=false"
fi
if [ -n "${JMX_PORT:-}" ]; then
  KAFKA_JMX_OPTS="$KAFKA_JMX_OPTS -Dcom.sun.management.jmxremote.port=$JMX_PORT -Dcom.sun.management.jmxremote.rmi.port=${JMX_RMI_PORT:-$JMX_PORT}"
  if [ -n "${JMX_HOST:-}" ]; then
    KAFKA_JMX_OPTS="$KAFKA_JMX_OPTS -Dcom.sun.management.jmxremote.host=$JMX_HOST -Djava.rmi.server.hostname=$JMX_HOST"
  fi
fi

KAFKA_LOG4J_OPTS="-Dkafka.logs.dir=$LOG_DIR ${KAFKA_LOG4J_OPTS:-@LOG_OPTION@$kafka_home/config/@TOOLS_LOG_CONFIG@}"
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx256M}
KAFKA_JVM_PERFORMANCE_OPTS=${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}

KAFKA_GC_LOG_OPTS=${KAFKA_GC_LOG_OPTS:-}
if [ "$write_gc_log" = true ] && [ -n "$service_name" ] && [ -z "$KAFKA_GC_LOG_OPTS" ]; then
  KAFKA_GC_LOG_OPTS="-Xlog:gc*:file=$LOG_DIR/$service_name-gc.log:time,tags:filecount=10,filesize=100M"
fi

KAFKA_OPTS=${KAFKA_OPTS:-}

if [ "$run_as_daemon" = true ]; then
  console_log="$LOG_DIR/${service_name:-kafka}.out"
  nohup "$JAVA" $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS $KAFKA_GC_LOG_OPTS $KAFKA_JMX_OPTS \
    $KAFKA_LOG4J_OPTS -cp "$CLASSPATH" $KAFKA_OPTS "$@" >"$console_log" 2>&1 </dev/null &
  exit 0
fi
exec "$JAVA" $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS $KAFKA_GC_LOG_OPTS $KAFKA_JMX_OPTS \
  $KAFKA_LOG4J_OPTS -cp "$CLASSPATH" $KAFKA_OPTS "$@"
"""

SERVICE_START_SH = r"""#!/usr/bin/env bash
# @SCRIPT@: @DESCRIPTION@.
# Main class @MAIN_CLASS@.
#
#   @SCRIPT@ [-daemon] @USAGE@
#
# Defaults: KAFKA_HEAP_OPTS="@HEAP@", KAFKA_LOG4J_OPTS from config/@LOG_CONFIG@,
# EXTRA_ARGS="@EXTRA_ARGS@" (kafka-run-class.sh options; -daemon detaches and writes the
# console to $LOG_DIR/@NAME@.out). See kafka-run-class.sh for the rest.
if [ $# -lt 1 ]; then
  echo "usage: $0 [-daemon] @USAGE@" >&2
  exit 1
fi
bin_dir=$(cd "$(dirname "$0")" && pwd)

export KAFKA_LOG4J_OPTS="${KAFKA_LOG4J_OPTS:-@LOG_OPTION@$bin_dir/../config/@LOG_CONFIG@}"
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:-@HEAP@}"

launcher_args=${EXTRA_ARGS-@EXTRA_ARGS@}
if [ "$1" = "-daemon" ]; then
  launcher_args="-daemon $launcher_args"
  shift
fi
# launcher_args is a word list on purpose.
exec "$bin_dir/kafka-run-class.sh" $launcher_args @MAIN_CLASS@ "$@"
"""

TOOL_SH = r"""#!/usr/bin/env bash
# @SCRIPT@: @DESCRIPTION@ (main class @MAIN_CLASS@).
# Pass --help for the options. Environment as for kafka-run-class.sh.
@HEAP_DEFAULT@exec "$(dirname "$0")/kafka-run-class.sh" @MAIN_CLASS@ "$@"
"""

STOP_SH = r"""#!/usr/bin/env bash
# @SCRIPT@: stop the @WHAT@s running on this machine.
# Sends SIGNAL (default TERM) to every java process whose main class is
# @MAIN_CLASS@.
#
#   @SCRIPT@@STOP_USAGE@
#@STOP_DOC@
# Exits 1 when no process matched. Reads /proc (Linux).
set -u
signal=${SIGNAL:-TERM}
@STOP_OPTIONS@
matching=()
for proc in /proc/[0-9]*; do
  argv=()
  mapfile -d '' -t argv <"$proc/cmdline" 2>/dev/null || continue
  [ ${#argv[@]} -gt 1 ] && [ "${argv[0]##*/}" = java ] || continue
  for ((i = 1; i < ${#argv[@]}; i++)); do
    [ "${argv[i]}" = "@MAIN_CLASS@" ] || continue
@STOP_FILTER@    matching+=("${proc#/proc/}")
    break
  done
done

if [ ${#matching[@]} -eq 0 ]; then
  echo "No @WHAT@ to stop"
  exit 1
fi
kill -s "$signal" "${matching[@]}"
"""

STOP_BY_NODE_USAGE = " [--node-id=ID | --process-role=ROLES]"
STOP_BY_NODE_DOC = """
# --node-id=ID / --process-role=ROLES (broker, controller or broker,controller) stop only the
# servers whose node.id / process.roles has that value: the last --override on their command line,
# else their properties file (the argument after the main class). --node-id wins over both."""
STOP_BY_NODE_OPTIONS = r"""want_node=""
want_roles=""
for arg in "$@"; do
  case "$arg" in
    --node-id=*) want_node=${arg#--node-id=} ;;
    --process-role=*) want_roles=${arg#--process-role=} ;;
    *) echo "usage: $0 [--node-id=ID | --process-role=ROLES]" >&2; exit 2 ;;
  esac
done
if [ -n "$want_node" ] && [ -n "$want_roles" ]; then
  echo "$0: --node-id and --process-role both given: selecting by node id only" >&2
  want_roles=""
fi

# setting KEY CONFIG [ARGS...]: the last "--override KEY=V" among ARGS, else the last KEY=V of CONFIG.
setting() {
  local key=$1 config=$2 value="" overridden=false
  shift 2
  while [ $# -gt 0 ]; do
    if [ "$1" = "--override" ] && [ $# -gt 1 ] && [ "${2%%=*}" = "$key" ]; then
      value=${2#*=}
      overridden=true
      shift
    fi
    shift
  done
  if [ "$overridden" = false ] && [ -r "$config" ]; then
    value=$(sed -n "s/^[[:space:]]*${key//./\\.}[[:space:]]*[=:][[:space:]]*//p" "$config" | tail -n 1)
  fi
  printf '%s' "$value" | sed 's/[[:space:]]*$//'
}
"""
STOP_BY_NODE_FILTER = r"""    if [ -n "$want_node$want_roles" ]; then
      # The properties file follows the main class; a relative path is relative to the process.
      config=${argv[i + 1]:-}
      if [ -n "$config" ] && [ "${config#/}" = "$config" ]; then
        config="$(readlink "$proc/cwd" 2>/dev/null)/$config"
      fi
      if [ -n "$want_node" ]; then
        [ "$(setting node.id "$config" "${argv[@]:i+2}")" = "$want_node" ] || break
      else
        [ "$(setting process.roles "$config" "${argv[@]:i+2}")" = "$want_roles" ] || break
      fi
    fi
"""
STOP_ANY_OPTIONS = r"""if [ $# -gt 0 ]; then
  echo "usage: $0" >&2
  exit 2
fi
"""

TROGDOR_SH = r"""#!/usr/bin/env bash
# trogdor.sh: Trogdor, Kafka's fault injection and workload framework (system tests).
#
#   trogdor.sh ACTION [OPTIONS]    trogdor.sh ACTION --help lists an action's options
#
# Environment as for kafka-run-class.sh.
usage() {
  echo "usage: $0 ACTION [OPTIONS]"
  echo "Trogdor, Kafka's fault injection and workload framework. Actions:"
@TROGDOR_USAGE@}

if [ $# -lt 1 ]; then
  usage
  exit 0
fi
action=$1
shift
case "$action" in
@TROGDOR_CASES@  help) usage; exit 0 ;;
  *) echo "$0: unknown action '$action'; try '$0 help'" >&2; exit 1 ;;
esac
exec "$(dirname "$0")/kafka-run-class.sh" "$main_class" "$@"
"""

ZOOKEEPER_SHELL_SH = r"""#!/usr/bin/env bash
# zookeeper-shell.sh: ZooKeeper command line with Kafka's TLS client support
# (main class @MAIN_CLASS@).
#
#   zookeeper-shell.sh HOST:PORT[/CHROOT] [-zk-tls-config-file FILE] [COMMAND ARGS...]
if [ $# -lt 1 ]; then
  echo "usage: $0 zookeeper_host:port[/path] [-zk-tls-config-file file] [args...]" >&2
  exit 1
fi
exec "$(dirname "$0")/kafka-run-class.sh" @MAIN_CLASS@ -server "$@"
"""


# --------------------------------------------------------------------------- config/ (3.9: log4j 1)
KAFKA3_LOG4J_PROPERTIES = """\
# Broker logging (reload4j, log4j 1.2 syntax). ${kafka.logs.dir} is set by kafka-run-class.sh from LOG_DIR.
log4j.rootLogger=INFO, stdout, server

log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n

# Size-based rolling keeps disk use bounded: at most 10 x 100 MB per file family.
log4j.appender.server=org.apache.log4j.RollingFileAppender
log4j.appender.server.File=${kafka.logs.dir}/server.log
log4j.appender.server.MaxFileSize=100MB
log4j.appender.server.MaxBackupIndex=10
log4j.appender.server.layout=org.apache.log4j.PatternLayout
log4j.appender.server.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.appender.stateChange=org.apache.log4j.RollingFileAppender
log4j.appender.stateChange.File=${kafka.logs.dir}/state-change.log
log4j.appender.stateChange.MaxFileSize=100MB
log4j.appender.stateChange.MaxBackupIndex=10
log4j.appender.stateChange.layout=org.apache.log4j.PatternLayout
log4j.appender.stateChange.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.appender.controller=org.apache.log4j.RollingFileAppender
log4j.appender.controller.File=${kafka.logs.dir}/controller.log
log4j.appender.controller.MaxFileSize=100MB
log4j.appender.controller.MaxBackupIndex=10
log4j.appender.controller.layout=org.apache.log4j.PatternLayout
log4j.appender.controller.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.appender.authorizer=org.apache.log4j.RollingFileAppender
log4j.appender.authorizer.File=${kafka.logs.dir}/kafka-authorizer.log
log4j.appender.authorizer.MaxFileSize=100MB
log4j.appender.authorizer.MaxBackupIndex=10
log4j.appender.authorizer.layout=org.apache.log4j.PatternLayout
log4j.appender.authorizer.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.appender.cleaner=org.apache.log4j.RollingFileAppender
log4j.appender.cleaner.File=${kafka.logs.dir}/log-cleaner.log
log4j.appender.cleaner.MaxFileSize=100MB
log4j.appender.cleaner.MaxBackupIndex=10
log4j.appender.cleaner.layout=org.apache.log4j.PatternLayout
log4j.appender.cleaner.layout.ConversionPattern=[%d] %p %m (%c)%n

# The ZooKeeper client and the request log are chatty at INFO.
log4j.logger.org.apache.zookeeper=INFO
log4j.logger.kafka.request.logger=WARN, server
log4j.additivity.kafka.request.logger=false

log4j.logger.kafka.controller=TRACE, controller
log4j.additivity.kafka.controller=false
log4j.logger.state.change.logger=INFO, stateChange
log4j.additivity.state.change.logger=false
# Denied operations at INFO, allowed ones only at DEBUG.
log4j.logger.kafka.authorizer.logger=INFO, authorizer
log4j.additivity.kafka.authorizer.logger=false
log4j.logger.kafka.log.LogCleaner=INFO, cleaner
log4j.additivity.kafka.log.LogCleaner=false
"""

KAFKA3_TOOLS_LOG4J_PROPERTIES = """\
# Command-line tools: warnings and errors to standard error, nothing to files.
log4j.rootLogger=WARN, stderr

log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.appender.stderr.Target=System.err
"""

KAFKA3_CONNECT_LOG4J_PROPERTIES = """\
# Kafka Connect and MirrorMaker 2 logging (reload4j): the console plus ${kafka.logs.dir}/connect.log.
log4j.rootLogger=INFO, stdout, connect

# %X{connector.context} names the connector and task a line comes from.
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %X{connector.context}%m (%c:%L)%n

log4j.appender.connect=org.apache.log4j.RollingFileAppender
log4j.appender.connect.File=${kafka.logs.dir}/connect.log
log4j.appender.connect.MaxFileSize=100MB
log4j.appender.connect.MaxBackupIndex=10
log4j.appender.connect.layout=org.apache.log4j.PatternLayout
log4j.appender.connect.layout.ConversionPattern=[%d] %p %X{connector.context}%m (%c:%L)%n

# Plugin scanning warns about every jar it cannot read.
log4j.logger.org.reflections=ERROR
log4j.logger.org.apache.zookeeper=ERROR
"""

KAFKA3_SERVER_PROPERTIES = """\
# Sample single-broker configuration in ZooKeeper mode. The Salt states write the real one.
broker.id=0
listeners=PLAINTEXT://127.0.0.1:9092
advertised.listeners=PLAINTEXT://127.0.0.1:9092
listener.security.protocol.map=PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT

zookeeper.connect=127.0.0.1:2181
zookeeper.connection.timeout.ms=18000

log.dirs=/tmp/kafka-logs
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false

# Internal topics: raise to 3 on any cluster with three or more brokers.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1

log.retention.hours=168
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000

num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600

group.initial.rebalance.delay.ms=3000
"""

KAFKA3_ZOOKEEPER_PROPERTIES = """\
# Sample configuration of the single ZooKeeper server zookeeper-server-start.sh runs (test use
# only; the Salt states run ZooKeeper from its own tarball).
dataDir=/tmp/zookeeper
clientPort=2181
clientPortAddress=127.0.0.1
# No per-IP connection limit on a test box; the AdminServer stays off.
maxClientCnxns=0
admin.enableServer=false
"""

# --------------------------------------------------------------------------- config/ (4.x: Log4j2)
KAFKA4_LOG4J2_YAML = """\
# Broker and controller logging (Log4j2). kafka-run-class.sh sets the kafka.logs.dir system
# property from LOG_DIR. Size-based rolling keeps disk use bounded: at most 10 x 100 MB per file.
Configuration:
  Properties:
    Property:
      - name: "logs"
        value: "${sys:kafka.logs.dir:-.}"
      - name: "pattern"
        value: "[%d] %p %m (%c)%n"
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "${pattern}"
    RollingFile:
      - name: Server
        fileName: "${logs}/server.log"
        filePattern: "${logs}/server.log.%i"
        PatternLayout:
          pattern: "${pattern}"
        SizeBasedTriggeringPolicy:
          size: "100 MB"
        DefaultRolloverStrategy:
          max: 10
      - name: StateChange
        fileName: "${logs}/state-change.log"
        filePattern: "${logs}/state-change.log.%i"
        PatternLayout:
          pattern: "${pattern}"
        SizeBasedTriggeringPolicy:
          size: "100 MB"
        DefaultRolloverStrategy:
          max: 10
      - name: Controller
        fileName: "${logs}/controller.log"
        filePattern: "${logs}/controller.log.%i"
        PatternLayout:
          pattern: "${pattern}"
        SizeBasedTriggeringPolicy:
          size: "100 MB"
        DefaultRolloverStrategy:
          max: 10
      - name: Authorizer
        fileName: "${logs}/kafka-authorizer.log"
        filePattern: "${logs}/kafka-authorizer.log.%i"
        PatternLayout:
          pattern: "${pattern}"
        SizeBasedTriggeringPolicy:
          size: "100 MB"
        DefaultRolloverStrategy:
          max: 10
      - name: Cleaner
        fileName: "${logs}/log-cleaner.log"
        filePattern: "${logs}/log-cleaner.log.%i"
        PatternLayout:
          pattern: "${pattern}"
        SizeBasedTriggeringPolicy:
          size: "100 MB"
        DefaultRolloverStrategy:
          max: 10
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
        - ref: Server
    Logger:
      # The request log is chatty at INFO.
      - name: kafka.request.logger
        level: WARN
        additivity: false
        AppenderRef:
          ref: Server
      - name: kafka.controller
        level: INFO
        additivity: false
        AppenderRef:
          ref: Controller
      - name: org.apache.kafka.controller
        level: INFO
        additivity: false
        AppenderRef:
          ref: Controller
      - name: state.change.logger
        level: INFO
        additivity: false
        AppenderRef:
          ref: StateChange
      # Denied operations at INFO, allowed ones only at DEBUG.
      - name: kafka.authorizer.logger
        level: INFO
        additivity: false
        AppenderRef:
          ref: Authorizer
      - name: kafka.log.LogCleaner
        level: INFO
        additivity: false
        AppenderRef:
          ref: Cleaner
      - name: org.apache.kafka.storage.internals.log.LogCleaner
        level: INFO
        additivity: false
        AppenderRef:
          ref: Cleaner
"""

KAFKA4_TOOLS_LOG4J2_YAML = """\
# Command-line tools (Log4j2): warnings and errors to standard error, nothing to files.
Configuration:
  Appenders:
    Console:
      name: STDERR
      target: SYSTEM_ERR
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        ref: STDERR
"""

KAFKA4_CONNECT_LOG4J2_YAML = """\
# Kafka Connect and MirrorMaker 2 logging (Log4j2): the console plus ${kafka.logs.dir}/connect.log,
# at most 10 x 100 MB. %X{connector.context} names the connector and task a line comes from.
Configuration:
  Properties:
    Property:
      - name: "pattern"
        value: "[%d] %p %X{connector.context}%m (%c:%L)%n"
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "${pattern}"
    RollingFile:
      - name: Connect
        fileName: "${sys:kafka.logs.dir:-.}/connect.log"
        filePattern: "${sys:kafka.logs.dir:-.}/connect.log.%i"
        PatternLayout:
          pattern: "${pattern}"
        SizeBasedTriggeringPolicy:
          size: "100 MB"
        DefaultRolloverStrategy:
          max: 10
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
        - ref: Connect
    Logger:
      # Plugin scanning warns about every jar it cannot read.
      - name: org.reflections
        level: ERROR
"""

KRAFT_COMMON_PROPERTIES = """\
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false

# Internal topics: raise to 3 on any cluster with three or more brokers.
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1

log.retention.hours=168
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000

num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600

group.initial.rebalance.delay.ms=3000
"""

KAFKA4_SERVER_PROPERTIES = """\
# Sample single-node KRaft configuration: one process is both broker and controller ("combined"
# mode; fine for a laptop, production runs the controllers apart). The Salt states write the real
# one. Format the log dir first, e.g.:
#   bin/kafka-storage.sh format --standalone -t "$(bin/kafka-storage.sh random-uuid)" -c config/server.properties
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:9093
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093
advertised.listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT

log.dirs=/tmp/kraft-combined-logs
""" + KRAFT_COMMON_PROPERTIES

KAFKA4_CONTROLLER_PROPERTIES = """\
# Sample KRaft controller (process.roles=controller), the quorum member brokers/broker.properties
# points at. The Salt states write the real one. Format its log dir with kafka-storage.sh format
# (--standalone for a one-controller quorum, --initial-controllers for several).
process.roles=controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:9093
controller.listener.names=CONTROLLER
listeners=CONTROLLER://127.0.0.1:9093
advertised.listeners=CONTROLLER://127.0.0.1:9093
listener.security.protocol.map=CONTROLLER:PLAINTEXT

log.dirs=/tmp/kraft-controller-logs
num.io.threads=8
"""

KAFKA4_BROKER_PROPERTIES = """\
# Sample KRaft broker (process.roles=broker) using the controller of controller.properties.
# The Salt states write the real one. Format its log dir with
# kafka-storage.sh format --no-initial-controllers and the cluster id of the controllers.
process.roles=broker
node.id=2
controller.quorum.bootstrap.servers=127.0.0.1:9093
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:9092
advertised.listeners=PLAINTEXT://127.0.0.1:9092
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT

log.dirs=/tmp/kraft-broker-logs
""" + KRAFT_COMMON_PROPERTIES

WINDOWS_SCRIPTS = "the .bat launchers; the test bed and the Salt states target Linux only"

# --------------------------------------------------------------------------- the two lines
# Kafka 3.9.x is the last line that still runs with ZooKeeper; 3.9.2 is the newest on Maven.
# Kafka 3.9 logs through SLF4J 1.7; upstream ships the reload4j binding and reload4j 1.2.25.
SLF4J_VERSION = "1.7.36"
RELOAD4J_VERSION = "1.2.25"

KAFKA3 = KafkaLine(
    key="kafka",
    version="3.9.2",
    mode="ZooKeeper or KRaft mode",
    maven_artifacts=COMMON_MAVEN_ARTIFACTS,
    extra_dependencies=(("org.slf4j", "slf4j-reload4j", SLF4J_VERSION),
                        # Newer than the 1.2.19 slf4j-reload4j asks for; the version Kafka 3.9 ships.
                        ("ch.qos.reload4j", "reload4j", RELOAD4J_VERSION)),
    logging=Logging("log4j 1.2 (reload4j)", "-Dlog4j.configuration=file:",
                    "log4j.properties", "tools-log4j.properties", "connect-log4j.properties"),
    tools=KAFKA3_TOOLS,
    services={"kafka-server-start.sh": BROKER_SERVICE, **CONNECT_SERVICES,
              "zookeeper-server-start.sh": ZOOKEEPER_SERVICE},
    stoppers={"kafka-server-stop.sh": KAFKA_STOPPER, "zookeeper-server-stop.sh": ZOOKEEPER_STOPPER},
    trogdor=False,
    zookeeper_shell=True,
    configs={"log4j.properties": KAFKA3_LOG4J_PROPERTIES,
             "tools-log4j.properties": KAFKA3_TOOLS_LOG4J_PROPERTIES,
             "connect-log4j.properties": KAFKA3_CONNECT_LOG4J_PROPERTIES,
             "server.properties": KAFKA3_SERVER_PROPERTIES,
             "zookeeper.properties": KAFKA3_ZOOKEEPER_PROPERTIES},
    left_out={"trogdor.sh": "the Maven repository serves no org.apache.kafka:trogdor:3.9.2 "
                            "(trogdor jars start again at 4.0.0 there)",
              "windows/": WINDOWS_SCRIPTS},
)

# The newest 4.x whose every jar the Maven repository here serves: it has kafka_2.13 up to 4.4.0,
# but no connect-mirror, connect-mirror-client, kafka-shell, trogdor or connect-file 4.4.0, and no
# connect-mirror or kafka-shell 4.3.2.
# Kafka 4.x logs through Log4j2 behind SLF4J 1.7; the binding must match Kafka's log4j-core.
LOG4J2_VERSION = "2.25.4"

KAFKA4 = KafkaLine(
    key="kafka4",
    version="4.3.1",
    mode="KRaft mode",
    maven_artifacts=COMMON_MAVEN_ARTIFACTS + ("kafka-storage", "kafka-metadata", "kafka-raft", "trogdor"),
    extra_dependencies=(("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J2_VERSION),),
    logging=Logging("Log4j2", "-Dlog4j2.configurationFile=",
                    "log4j2.yaml", "tools-log4j2.yaml", "connect-log4j2.yaml"),
    tools=KAFKA4_TOOLS,
    services={"kafka-server-start.sh": BROKER_SERVICE, **CONNECT_SERVICES},
    stoppers={"kafka-server-stop.sh": KAFKA_STOPPER},
    trogdor=True,
    zookeeper_shell=False,
    configs={"log4j2.yaml": KAFKA4_LOG4J2_YAML,
             "tools-log4j2.yaml": KAFKA4_TOOLS_LOG4J2_YAML,
             "connect-log4j2.yaml": KAFKA4_CONNECT_LOG4J2_YAML,
             "server.properties": KAFKA4_SERVER_PROPERTIES,
             "controller.properties": KAFKA4_CONTROLLER_PROPERTIES,
             "broker.properties": KAFKA4_BROKER_PROPERTIES},
    left_out={"windows/": WINDOWS_SCRIPTS},
)

LINES = (KAFKA3, KAFKA4)


# --------------------------------------------------------------------------- rendering
PLACEHOLDER = re.compile(r"@[A-Z][A-Z_]*@")


def _fill(template, **values):
    """Replace each ``@NAME@`` of ``template``; a placeholder left over is a bug."""
    for name, value in values.items():
        template = template.replace(f"@{name}@", value)
    leftover = PLACEHOLDER.findall(template)
    if leftover:
        raise ValueError(f"unfilled placeholders {leftover}")
    return template


def bin_scripts(line):
    """``{script name: content}`` for the ``bin/`` directory of ``line``'s tarball."""
    scripts = {"kafka-run-class.sh": _fill(KAFKA_RUN_CLASS_SH, TOOLS_LOG_CONFIG=line.logging.tools,
                                           LOG_FRAMEWORK=line.logging.framework,
                                           LOG_OPTION=line.logging.jvm_option)}
    for script, tool in line.tools.items():
        heap_default = f'export KAFKA_HEAP_OPTS="${{KAFKA_HEAP_OPTS:-{tool.heap}}}"\n' if tool.heap else ""
        scripts[script] = _fill(TOOL_SH, SCRIPT=script, DESCRIPTION=tool.description, MAIN_CLASS=tool.main_class,
                                HEAP_DEFAULT=heap_default)
    for script, service in line.services.items():
        option, config = line.logging.jvm_option, getattr(line.logging, service.log_config)
        extra_args = f"-name {service.name}" + (" -loggc" if service.gc_log else "")
        scripts[script] = _fill(SERVICE_START_SH, SCRIPT=script, DESCRIPTION=service.description,
                                MAIN_CLASS=service.main_class, USAGE=service.usage, HEAP=service.heap,
                                LOG_OPTION=option, LOG_CONFIG=config, EXTRA_ARGS=extra_args, NAME=service.name)
    for script, stopper in line.stoppers.items():
        by_node = stopper.by_node
        scripts[script] = _fill(STOP_SH, SCRIPT=script, WHAT=stopper.what, MAIN_CLASS=stopper.main_class,
                                STOP_USAGE=STOP_BY_NODE_USAGE if by_node else "",
                                STOP_DOC=STOP_BY_NODE_DOC if by_node else "",
                                STOP_OPTIONS=STOP_BY_NODE_OPTIONS if by_node else STOP_ANY_OPTIONS,
                                STOP_FILTER=STOP_BY_NODE_FILTER if by_node else "")
    if line.trogdor:
        actions = {action: what for action, (_, what) in TROGDOR_MAIN_CLASSES.items()}
        actions["help"] = "print this text"
        width = max(map(len, actions)) + 2
        usage = "".join(f'  echo "  {action:<{width}}{what}"\n' for action, what in actions.items())
        cases = "".join(f"  {action}) main_class={main_class} ;;\n"
                        for action, (main_class, _) in TROGDOR_MAIN_CLASSES.items())
        scripts["trogdor.sh"] = _fill(TROGDOR_SH, TROGDOR_USAGE=usage, TROGDOR_CASES=cases)
    if line.zookeeper_shell:
        scripts["zookeeper-shell.sh"] = _fill(ZOOKEEPER_SHELL_SH, MAIN_CLASS=ZOOKEEPER_SHELL_MAIN_CLASS)
    return dict(sorted(scripts.items()))


def main_classes(line):
    """``{script: (main class, ...)}``: every class a script of ``line`` may run."""
    classes = {script: (tool.main_class,) for script, tool in line.tools.items()}
    classes.update({script: (service.main_class,) for script, service in line.services.items()})
    classes.update({script: (stopper.main_class,) for script, stopper in line.stoppers.items()})
    if line.trogdor:
        classes["trogdor.sh"] = tuple(main_class for main_class, _ in TROGDOR_MAIN_CLASSES.values())
    if line.zookeeper_shell:
        classes["zookeeper-shell.sh"] = (ZOOKEEPER_SHELL_MAIN_CLASS,)
    return dict(sorted(classes.items()))


def line_by_key(key):
    """The :class:`KafkaLine` whose manifest entry is ``key``; KeyError otherwise."""
    for line in LINES:
        if line.key == key:
            return line
    raise KeyError(key)

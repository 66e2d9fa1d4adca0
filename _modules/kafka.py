"""Execution module ``kafka``: Kafka broker operations, as thin wrappers over the kafkasalt core.

The logic lives in the ``kafkasalt`` package (no Salt imports there); functions here only
bind it to the minion's grains and pillar.
"""

import logging
import os

import salt.utils.data
from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from kafkasalt.kafka import kraft as _kraft
    from kafkasalt.kafka import model as _broker
    from kafkasalt.kafka import render as _broker_render
    from kafkasalt.kafka import hostplan as _hostplan
    from kafkasalt.common import cache as _cache
    from kafkasalt.common import files as _files
    from kafkasalt.common import quoting as _quoting
    from kafkasalt.ops import hardware as _hardware
    from kafkasalt.ops import host as _host
    from kafkasalt.ops import service as _service
    from kafkasalt.ops import sizing as _sizing
    from kafkasalt.zookeeper import client as _zkclient
    from kafkasalt.kafka import zk_users as _zk_users
    from kafkasalt.zookeeper import model as _zookeeper
    from kafkasalt.common.errors import PillarError, PillarErrors
    from kafkasalt.security import rotation as _rotation

    _CORE_IMPORT_ERROR = None
except ImportError as _exc:  # pylint: disable=invalid-name
    _CORE_IMPORT_ERROR = str(_exc)

log = logging.getLogger(__name__)

__virtualname__ = "kafka"

def __virtual__():
    if _CORE_IMPORT_ERROR is not None:
        return (
            False,
            f"kafka: the kafkasalt core package cannot be imported ({_CORE_IMPORT_ERROR}); "
            "pip install the extension, or run saltutil.sync_all so that "
            "<extension_modules>/utils/kafkasalt exists",
        )
    return __virtualname__


def _hardware_facts():
    """The kafka_hardware grain, or a fresh collection when the grain is absent."""
    return __grains__.get("kafka_hardware") or _hardware.collect()


def _pillar_expected_partitions():
    # __pillar__, not pillar.get: Salt 3008's pillar.get returns masked values ("**********")
    # to callers outside templates unless unmask=True, which Salt 3006 does not know.
    value = (__pillar__.get("kafka") or {}).get("expected_partitions")
    if value is None:
        return _broker.DEFAULTS["expected_partitions"]
    problem = _sizing.expected_partitions_problem(value)
    if problem is None:
        return value
    raise SaltInvocationError(str(PillarError("kafka:expected_partitions", problem)))


def sizing(expected_partitions=None, role="broker"):
    """Recommend heaps, threads, log.dirs, limits and kernel settings for this host.

    Each recommendation carries a value and a one-line ``why``; ``sysctl``,
    ``server_properties`` and ``limits`` are flat views for the states. Hardware comes
    from the ``kafka_hardware`` grain (collected on the spot when absent).

    expected_partitions
        Partition replicas this broker may host; defaults to pillar
        ``kafka:expected_partitions``, else 1000.

    role
        ``broker``, ``zookeeper`` or ``both`` (a host running ZooKeeper and a broker).

    CLI Example:

    .. code-block:: bash

        salt '*' kafka.sizing
        salt 'kafka1' kafka.sizing expected_partitions=20000 role=both
    """
    if expected_partitions is None:
        expected_partitions = _pillar_expected_partitions()
    try:
        return _sizing.recommend(_hardware_facts(), expected_partitions=expected_partitions, role=role)
    except ValueError as exc:  # bad argument: the message names it
        raise SaltInvocationError(str(exc)) from None


# --- the cluster model as this minion sees it -------------------------------------------------

def _role():
    zk_members = ((__pillar__.get("zookeeper") or {}).get("members") or {})
    brokers = ((__pillar__.get("kafka") or {}).get("brokers") or {})
    minion_id = __opts__["id"]
    if minion_id in zk_members and minion_id in brokers:
        return "both"
    return "zookeeper" if minion_id in zk_members else "broker"


def _cached(name, build):
    """``build()`` once per Salt job (see :mod:`kafkasalt.common.cache`)."""
    key = _cache.digest(__pillar__, ("kafka", "zookeeper", "kafka_host", "kafka_tls"))
    return _cache.per_job(__context__, "kafkasalt.kafka", key, name, build)


def _recommendations():
    return _cached("recommendations", _build_recommendations)


def _build_recommendations():
    """Sizing for this host with the pillar's explicit choices applied (null keeps the computed value)."""
    kafka = __pillar__.get("kafka") or {}
    overrides = _host_settings().sizing_overrides()
    mine = ((kafka.get("brokers") or {}).get(__opts__["id"]) or {})
    overrides["log.dirs"] = (mine.get("log_dirs") if isinstance(mine, dict) else None) or kafka.get("log_dirs")
    try:
        return _sizing.recommend(_hardware_facts(), expected_partitions=_pillar_expected_partitions(),
                                 role=_role(), overrides=overrides)
    except ValueError as exc:
        raise CommandExecutionError(f"sizing from pillar kafka_host/kafka failed: {exc}") from None


def _zookeeper_model():
    try:
        return _zookeeper.EnsembleModel.from_pillar(__pillar__.get("zookeeper") or {})
    except (PillarError, PillarErrors) as exc:
        raise CommandExecutionError(str(exc)) from None


def _model():
    return _cached("model", _build_model)


def _build_model():
    refusal = _kraft.deploy_refusal(__pillar__.get("kafka"))
    if refusal is not None:
        raise CommandExecutionError(str(refusal))
    try:
        return _broker.ClusterModel.from_pillar(
            __pillar__.get("kafka") or {},
            zookeeper_model=_zookeeper_model(),
            sizing_by_minion={__opts__["id"]: _hardware_facts()},
        )
    except (PillarError, PillarErrors) as exc:
        raise CommandExecutionError(str(exc)) from None


def _this_broker(model):
    try:
        return model.broker(__opts__["id"])
    except KeyError as exc:
        raise CommandExecutionError(str(exc.args[0])) from None


def _host_settings():
    """The validated ``kafka_host`` pillar (:mod:`kafkasalt.ops.host`)."""
    try:
        return _host.HostSettings.from_pillar(__pillar__)
    except (PillarError, PillarErrors) as exc:
        raise CommandExecutionError(str(exc)) from None


def _service_manager():
    return _host_settings().service_manager


def _tls_material():
    """This host's TLS material; during a CA rotation for the phase its files hold (or the one
    ``kafka_tls.apply`` asks for), never an earlier one."""
    tls = __pillar__.get("kafka_tls") or {}
    if tls.get("error"):
        raise CommandExecutionError(tls["error"])
    if not tls.get("ca_cert"):
        raise CommandExecutionError("pillar kafka_tls:ca_cert is missing: enable the kafka_pki ext_pillar on the master")
    return _rotation.host_material(tls, __context__.get("kafkasalt.ca_phase"))


def _tls_pillar(part):
    material = _tls_material()
    value = material.trust() if part == "ca_cert" else material.leaf(part)
    if not value:
        raise CommandExecutionError(f"pillar kafka_tls:{part} is missing: enable the kafka_pki ext_pillar on the master")
    return value


def _host_plan():
    """This broker host's plan (heap, log.dirs, threads, files, unit), built once per job."""
    def build():
        try:
            return _hostplan.BrokerHostPlan(_model(), __opts__["id"], _recommendations(), _service_manager(),
                                            tls=_tls_pillar)
        except KeyError as exc:
            raise CommandExecutionError(str(exc.args[0])) from None

    return _cached("host_plan", build)


def host_plan():
    """
    Non-secret facts the SLS lays out for this broker: paths, version, source, files, service.

    CLI Example:

    .. code-block:: bash

        salt 'kafka*' kafka.host_plan
    """
    return _host_plan().facts()


def config_files():
    """
    Files whose change needs a broker restart (their mtime drives restart detection).

    CLI Example:

    .. code-block:: bash

        salt 'kafka*' kafka.config_files
    """
    return _host_plan().config_files()


def effective_config():
    """
    The key/value configuration this broker's server.properties holds (or will hold).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.effective_config
    """
    return _host_plan().effective_config()


def render(name, **kwargs):
    """
    Render one managed file of this broker. Secret files (JAAS, keystores, admin client
    properties) are written by the SLS through a template with ``show_changes: False``; asked
    for as a job of their own (``salt ... kafka.render jaas.conf``) they are refused, because a
    job's return is kept in the master's job cache.

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.render server.properties
    """
    plan = _host_plan()
    if kwargs.get("__pub_fun") == "kafka.render" and name in {f.name for f in plan.files if f.secret}:
        raise SaltInvocationError(f"{name} holds secrets: it is written by the kafka.config state and never "
                                  "returned by a job (a job's return is kept in the master's job cache)")
    try:
        return plan.render(name)
    except ValueError as exc:
        raise SaltInvocationError(str(exc)) from None


def host_tuning():
    """
    Kernel and limits files for this host (seed list, sized from grains; pillar
    ``kafka_host:kernel_tuning:sysctl`` overrides, ``kafka_host:nofile`` sets the file limit).

    CLI Example:

    .. code-block:: bash

        salt '*' kafka.host_tuning
    """
    rec = _recommendations()
    sysctl_lines = [f"# {_broker.MANAGED_HEADER}"] + [f"{k} = {v}" for k, v in sorted(rec["sysctl"].items())]
    nofile = rec["nofile"]["value"]
    limits_lines = [f"# {_broker.MANAGED_HEADER}"]
    for user in ("kafka", "zookeeper"):
        limits_lines += [f"{user} soft nofile {nofile}", f"{user} hard nofile {nofile}"]
    return {
        "sysctl_conf": "\n".join(sysctl_lines) + "\n",
        "limits_conf": "\n".join(limits_lines) + "\n",
        "apply_live": _host_settings().apply_live,
        "sysctl": rec["sysctl"],
        "nofile": nofile,
    }


# --- SCRAM users before any broker runs ---------------------------------------------------------

def _pillar_secret(key):
    value = salt.utils.data.traverse_dict_and_list(__pillar__, key, None, delimiter=":")
    if not isinstance(value, str) or not value:
        raise CommandExecutionError(f"pillar key '{key}' is missing or empty")
    return value


def bootstrap_plan():
    """
    What must exist in ZooKeeper before the first broker starts: Kafka's chroot (owned by the
    brokers' ZooKeeper user) and the super and inter-broker SCRAM users (pillar keys, never
    passwords).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.bootstrap_plan
    """
    model = _model()
    return {
        "chroot": model.zookeeper_chroot or "/",
        "chroot_acl": [f"sasl:{model.zookeeper_user}:cdrwa", "sasl:super:cdrwa"],
        "sasl_mechanism": model.sasl_mechanism,
        "bootstrap_users": [
            {"name": model.super_user.name, "password_pillar": "kafka:super_user:password"},
            {"name": model.inter_broker_user.name, "password_pillar": "kafka:inter_broker_user:password"},
        ],
    }


def _zk_super_session():
    zk = _zookeeper_model()
    tls = None
    if zk.tls.enabled:  # the files come from the zookeeper.tls SLS, included by kafka
        tls = _zkclient.TlsFiles(ca=_zookeeper.TRUSTSTORE_PATH, keystore=_zookeeper.CLIENT_KEYSTORE_PATH)
    return _zkclient.session(zk.connect_string, "super", zk.super_password.reveal(), tls=tls)


def _zk_acl(model):
    return [_zkclient.parse_acl(entry) for entry in (f"sasl:{model.zookeeper_user}:cdrwa", "sasl:super:cdrwa")]


def _user_via_zookeeper(model, name, password, mechanism, iterations, dry_run):
    with _zk_super_session() as client:
        return _zk_users.upsert_user(client, model.zookeeper_chroot, name, password, mechanism=mechanism,
                                     iterations=iterations, acl=_zk_acl(model), dry_run=dry_run)


def user_ensure(name, password_pillar, mechanism=None, iterations=4096, via="auto", dry_run=False):
    """
    Create or update SCRAM user ``name`` with the password found at pillar key
    ``password_pillar`` (the password itself never travels on the command line or in returns).

    via
        ``admin`` (AdminClient, brokers running), ``zookeeper`` (straight into ZooKeeper, for
        the bootstrap users before any broker runs) or ``auto`` (admin, falling back to
        ZooKeeper when no broker answers). Both write the same credential.

    Returns ``{"changed": bool, "reason": "...", "via": "..."}``; ``dry_run`` only reports.

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.user_ensure alice password_pillar=kafka:users:alice:password
    """
    if via not in ("auto", "admin", "zookeeper"):
        raise SaltInvocationError(f"via: must be auto, admin or zookeeper, not {via!r}")
    model = _model()
    password = _pillar_secret(password_pillar)
    mechanism = mechanism or model.sasl_mechanism
    if via in ("auto", "admin"):
        try:
            return _admin_user_ensure(model, name, password, mechanism, iterations, dry_run)
        except CommandExecutionError:
            if via == "admin":
                raise
    try:
        changed, reason = _user_via_zookeeper(model, name, password, mechanism, iterations, dry_run)
    except (_zkclient.ZkUnavailable, ValueError) as exc:
        raise CommandExecutionError(f"SCRAM user {name}: {exc}") from None
    return {"changed": changed, "reason": reason, "via": "zookeeper"}


# --- the admin client, with the cluster's SASL_SSL credentials from pillar -----------------------

def _private_file(name, text):
    """A 0600 file under the minion cache (for hosts that are not brokers and have no /etc/kafka)."""
    directory = os.path.join(__opts__["cachedir"], "kafkasalt")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, name)
    try:
        with open(path) as fh:
            if fh.read() == text:
                return path
    except FileNotFoundError:
        pass
    _files.write_private(path, text)
    return path


def _settings(model):
    from kafkasalt.security import pki
    from kafkasalt.kafka.admin import connection as admin_connection

    listener = model.admin_listener
    ca_file = cert_file = None
    if listener.uses_tls:
        ca_file = _private_file("ca.pem", _tls_pillar("ca_cert"))
        # Always present the client certificate: harmless when mTLS is off, and a roll that turns
        # mTLS on or off must reach brokers in both states.
        client = _tls_pillar("client")
        cert_file = _private_file("admin-client.pem", pki.pem_keystore(client["key"], client["cert"], client["issuer"]))
    try:
        return admin_connection.ConnectionSettings(
            bootstrap_servers=model.bootstrap_servers(),
            security_protocol=listener.protocol,
            sasl_mechanism=model.sasl_mechanism,
            username=model.super_user.name,
            password=model.super_user.password.reveal(),
            ca_file=ca_file, cert_file=cert_file, key_file=cert_file,
            client_id=f"salt-{__opts__['id']}",
        )
    except admin_connection.KafkaInputError as exc:
        raise CommandExecutionError(str(exc)) from None


def _admin_call(method, *args, **kwargs):
    """Run one KafkaAdmin method; map its errors onto Salt's (messages never carry passwords)."""
    from kafkasalt.kafka import admin
    from kafkasalt.kafka.admin import connection as admin_connection

    model = _model()
    try:
        with admin.KafkaAdmin(_settings(model)) as client:
            return getattr(client, method)(*args, **kwargs)
    except admin_connection.KafkaInputError as exc:
        raise SaltInvocationError(str(exc)) from None
    except admin_connection.KafkaAdminError as exc:
        raise CommandExecutionError(str(exc)) from None


def _admin_user_ensure(model, name, password, mechanism, iterations, dry_run):
    # The AdminClient cannot compare a password with a stored credential (brokers never reveal
    # stored keys), so the check reads ZooKeeper; the write goes through the brokers.
    try:
        needed, reason = _user_via_zookeeper(model, name, password, mechanism, iterations, dry_run=True)
    except (_zkclient.ZkUnavailable, ValueError) as exc:
        raise CommandExecutionError(f"SCRAM user {name}: {exc}") from None
    if needed and not dry_run:
        _admin_call("upsert_scram_user", name, password, mechanism=mechanism, iterations=iterations)
    if needed and reason == "password changed":
        reason = "password rotated"
    return {"changed": needed, "reason": reason, "via": "admin"}


def list_topics(include_internal=False):
    """
    Topic names of the cluster (one metadata request).

    CLI Example:

    .. code-block:: bash

        salt '*' kafka.list_topics
    """
    return _admin_call("list_topics", include_internal=include_internal)


def describe_topics(names=None):
    """
    Partitions, leaders, replicas and ISR of the given topics (default: all).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.describe_topics '[orders]'
    """
    return _admin_call("describe_topics", names)


def topic_configs(name):
    """
    Non-default configs of topic ``name``.

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.topic_configs orders
    """
    return _admin_call("topic_configs", name)


def create_topic(name, partitions, replication_factor=None, config=None):
    """
    Create a topic (replication factor defaults to the cluster's ``default_replication_factor``).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.create_topic orders 6 3 '{"retention.ms": "86400000"}'
    """
    replication_factor = replication_factor or _model().default_replication_factor
    return _admin_call("create_topic", name, partitions, replication_factor, config=config)


def delete_topic(name, allow_internal=False):
    """
    Delete a topic; internal topics need ``allow_internal=True``.

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.delete_topic orders
    """
    return _admin_call("delete_topic", name, allow_internal=allow_internal)


def alter_topic_config(name, set_configs=None, delete_keys=None):
    """
    Incrementally set and delete topic configs (IncrementalAlterConfigs).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.alter_topic_config orders '{"retention.ms": "3600000"}'
    """
    return _admin_call("alter_topic_config", name, set_configs=set_configs, delete_keys=delete_keys)


def add_partitions(name, total):
    """
    Grow topic ``name`` to ``total`` partitions (partitions never shrink).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.add_partitions orders 12
    """
    return _admin_call("create_partitions", name, total)


def describe_cluster():
    """
    Cluster id, controller and registered brokers.

    CLI Example:

    .. code-block:: bash

        salt '*' kafka.describe_cluster
    """
    return _admin_call("describe_cluster")


def health():
    """
    Health verdict with reasons: brokers registered versus pillar, controller, offline,
    under-replicated and under-min-ISR partitions.

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.health
    """
    model = _model()
    return _admin_call("health", expected_brokers=[b.broker_id for b in model.serving_brokers])


def broker_configs(broker_id=None):
    """
    Dynamic configs of one broker (or the cluster-wide defaults when ``broker_id`` is omitted).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.broker_configs 1
    """
    return _admin_call("broker_configs", broker_id)


def alter_broker_config(broker_id=None, set_configs=None, delete_keys=None):
    """
    Change dynamic broker configs live (per broker, or cluster-wide without ``broker_id``).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.alter_broker_config set_configs='{"log.cleaner.threads": "2"}'
    """
    return _admin_call("alter_broker_config", broker_id, set_configs=set_configs, delete_keys=delete_keys)


def list_groups():
    """
    Consumer groups of the cluster.

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.list_groups
    """
    return _admin_call("list_groups")


def describe_group(group_id):
    """
    A consumer group's state, members and per-partition lag.

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.describe_group billing
    """
    return _admin_call("describe_group", group_id)


def list_users():
    """
    SCRAM users and their mechanisms (no key material).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.list_users
    """
    try:
        return _admin_call("list_scram_users")
    except CommandExecutionError:
        model = _model()
        with _zk_super_session() as client:
            return _zk_users.list_users(client, model.zookeeper_chroot)


def user_delete(name, mechanism=None):
    """
    Remove a SCRAM user's credential (one mechanism, or all).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.user_delete old-app
    """
    return _admin_call("delete_scram_user", name, mechanism=mechanism)


def _bindings(entries, argument):
    from kafkasalt.security import acl

    if isinstance(entries, dict):
        entries = [entries]
    try:
        return acl.parse_bindings(entries, key=argument)
    except (PillarError, PillarErrors) as exc:
        raise SaltInvocationError(str(exc)) from None


def list_acls(principal=None, resource_type=None, resource_name=None):
    """
    ACL bindings, optionally filtered.

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.list_acls principal=User:alice
    """
    return [b.as_dict() for b in _admin_call("list_acls", principal=principal, resource_type=resource_type,
                                             resource_name=resource_name)]


def add_acls(bindings):
    """
    Add ACL bindings (each a dict: resource_type, resource_name, pattern_type, principal, host,
    operation, permission — or a role entry: role, principal, topic, group_prefix).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.add_acls '[{"resource_type": "TOPIC", "resource_name": "orders", "principal": "User:alice", "operation": "READ"}]'
    """
    return _admin_call("add_acls", _bindings(bindings, "bindings"))


def remove_acls(bindings):
    """
    Remove exactly these ACL bindings (never a wider filter).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.remove_acls '[{"resource_type": "TOPIC", "resource_name": "orders", "principal": "User:alice", "operation": "READ"}]'
    """
    return _admin_call("remove_acls", _bindings(bindings, "bindings"))


def _plan(plan):
    # CLI/JSON form {"topic:partition": [ids]} or [{"topic", "partition", "replicas"}] -> {(t, p): [ids]}
    if isinstance(plan, list):
        return {(p["topic"], int(p["partition"])): list(p["replicas"]) for p in plan}
    out = {}
    for key, replicas in (plan or {}).items():
        topic, _, partition = str(key).rpartition(":") if isinstance(key, str) else key
        out[(topic, int(partition))] = list(replicas)
    return out


def list_reassignments():
    """
    Partition reassignments in flight.

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.list_reassignments
    """
    return _admin_call("list_reassignments")


def execute_reassignment(plan, throttle_bytes=None):
    """
    Start a reassignment (``{"topic:partition": [broker ids]}``) with a replication throttle
    (bytes/s; default from sizing: a share of the slowest NIC).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.execute_reassignment '{"orders:0": [2, 3]}' throttle_bytes=10000000
    """
    if throttle_bytes is None:
        throttle_bytes = _recommendations()["replication_throttle_bytes_per_sec"]["value"]
    return _admin_call("execute_reassignment", _plan(plan), throttle_bytes=throttle_bytes)


def verify_reassignment(plan):
    """
    Whether a reassignment finished; clears every throttle once it has.

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.verify_reassignment '{"orders:0": [2, 3]}'
    """
    return _admin_call("verify_reassignment", _plan(plan))


def cancel_reassignment(partitions):
    """
    Cancel in-flight reassignments of ``["topic:partition", ...]`` and clear throttles.

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.cancel_reassignment '["orders:0"]'
    """
    return _admin_call("cancel_reassignment", list(_plan({p: [] for p in partitions})))


def clear_throttles(broker_ids=None, topics=None):
    """
    Remove replication throttles: the rates of ``broker_ids`` (all when omitted) and the
    throttled-replica lists of ``topics`` (every topic that has one when omitted).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.clear_throttles
    """
    return _admin_call("clear_throttles", broker_ids, topics)


def disk_plan(evacuate_only=False):
    """
    This broker's log directories as it runs now, the ones the pillar wants (``kafka:log_dirs``
    or one per data disk), and the moves between them (:mod:`kafkasalt.rebalance.disks`):
    replicas leave directories no longer wanted, then counts are evened out. With
    ``evacuate_only`` only the moves off unwanted directories (before the roll that drops them).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.disk_plan
    """
    from kafkasalt.rebalance import disks

    model = _model()
    broker = _this_broker(model)
    live = _admin_call("log_dirs", broker.broker_id)
    wanted = list(_host_plan().log_dirs)
    layout = {d: entry["replicas"] for d, entry in live.items()}
    try:
        moves = disks.plan(layout, wanted)
    except ValueError as exc:
        raise CommandExecutionError(str(exc)) from None
    leaving = [d for d in live if d not in wanted]
    if evacuate_only:
        moves = {k: v for k, v in moves.items() if any(k in layout[d] for d in leaving)}
    return {
        "broker_id": broker.broker_id, "live": sorted(live), "wanted": wanted, "leaving": leaving,
        "offline": sorted(d for d, entry in live.items() if entry["error"]),
        "future": sorted(f"{t}-{p}" for entry in live.values() for t, p in entry["future"]),
        "left_behind": sorted(f"{t}-{p}" for d in leaving for t, p in layout[d]),
        "moves": {f"{t}:{p}": target for (t, p), target in sorted(moves.items())},
        "before": disks.spread(layout, sorted(set(live) | set(wanted))),
        "after": disks.spread(disks.apply(layout, moves), sorted(set(live) | set(wanted))),
    }


def move_between_log_dirs(moves, throttle_bytes=None):
    """
    Start moving this broker's replicas between its log directories: ``moves`` maps
    ``"topic:partition"`` to the target directory; ``throttle_bytes`` caps the copy rate
    (``replica.alter.log.dirs.io.max.bytes.per.second``; removed by ``kafka.clear_throttles``).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.move_between_log_dirs '{"orders:0": /var/lib/kafka/data2}'
    """
    model = _model()
    broker = _this_broker(model)
    parsed = {}
    for key, target in (moves or {}).items():
        topic, _, partition = str(key).rpartition(":")
        if not topic or not partition.isdigit() or not isinstance(target, str) or not target.startswith("/"):
            raise SaltInvocationError(f"moves: expected 'topic:partition' -> absolute directory, got {key!r}: {target!r}")
        parsed[(topic, int(partition))] = target
    return _admin_call("move_between_log_dirs", broker.broker_id, parsed, throttle_bytes=throttle_bytes)


# --- restarts (driven one broker at a time by the kafka.rolling_restart runner) -----------------

def restart_pending():
    """
    Files changed since this broker's process started (a restart is needed to apply them).

    CLI Example:

    .. code-block:: bash

        salt 'kafka*' kafka.restart_pending
    """
    pending = pending_changes()
    changed = list(pending["other_files"])
    plan = pending["plan"]
    if plan and plan["restart_needed"]:
        keys = sorted(set(plan["static"]) | set(plan["removed"]))
        changed.append(f"{_broker.SERVER_PROPERTIES_PATH} (static: {', '.join(keys)})")
    return {"running": pending["running"], "broker_id": _this_broker(_model()).broker_id, "changed_files": changed}


def retire():
    """
    Retire this host's broker after ``kafka.scale`` emptied it (``drain: true``): refuse while it
    still holds a replica, else stop it and remove it from its service manager so nothing starts
    it again. Its data directories are kept. Returns whether anything changed.

    CLI Example:

    .. code-block:: bash

        salt 'kafka4' kafka.retire
    """
    model = _model()
    broker = _this_broker(model)
    if not broker.drain:
        raise CommandExecutionError(f"kafka:brokers:{broker.minion_id}:drain is not true: only a drained broker retires")
    svc = _service.Service(_broker.SERVICE_NAME, _service_manager())
    if svc.running():
        held = sum(broker.broker_id in p["replicas"] for topic in _admin_call("describe_topics").values()
                   for p in topic["partitions"])
        if held:
            raise CommandExecutionError(f"broker {broker.broker_id} still holds {held} replica(s): drain it first")
    unit = _hostplan.unit_path(_service_manager())
    was_known = svc.registered() or os.path.exists(unit)
    try:
        svc.unregister(unit)
    except _service.ServiceError as exc:
        raise CommandExecutionError(str(exc)) from None
    return {"retired": was_known, "broker_id": broker.broker_id, "data_kept": list(_host_plan().log_dirs)}


def restart():
    """
    Restart this broker (SIGTERM: a controlled shutdown moves its leaderships away first).

    CLI Example:

    .. code-block:: bash

        salt 'kafka2' kafka.restart
    """
    svc = _service.Service(_broker.SERVICE_NAME, _service_manager())
    try:
        svc.restart()
    except _service.ServiceError as exc:
        raise CommandExecutionError(str(exc)) from None
    snapshot_started_config()
    return {"restarted": True, "pid": svc.main_pid()}


def kill():
    """
    SIGKILL this broker's process (failure drills only).

    CLI Example:

    .. code-block:: bash

        salt 'kafka3' kafka.kill
    """
    _service.Service(_broker.SERVICE_NAME, _service_manager()).kill()
    return True


def data_bytes():
    """
    Bytes of log data on this broker (sizes the restart timeout: log recovery scans segments).

    CLI Example:

    .. code-block:: bash

        salt 'kafka*' kafka.data_bytes
    """
    total = 0
    for log_dir in host_plan()["log_dirs"]:
        for root, _, files in os.walk(log_dir):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_size
                except OSError:
                    continue
    return total


def restart_gate(broker_id, phase="before", force=False):
    """
    Check whether broker ``broker_id`` may restart (``phase=before``) or came back
    (``phase=after``). Returns ``{"passed": bool, "checks": [{name, passed, reason}]}``.

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.restart_gate 2
    """
    from kafkasalt.ops import gates as gate
    from kafkasalt.kafka import admin
    from kafkasalt.kafka.admin import connection as admin_connection

    broker_id = int(broker_id)
    model = _model()
    try:
        with admin.KafkaAdmin(_settings(model)) as client:
            topics = client.describe_topics(None)  # every topic, internal ones included
            if phase == "before":
                hosted = [t for t, info in topics.items() if any(broker_id in p["replicas"] for p in info["partitions"])]
                min_isr = {}
                for topic in hosted:
                    value = client.topic_configs(topic).get("min.insync.replicas")
                    if value is not None:
                        min_isr[topic] = int(value)
                checks = gate.before_restart(broker_id, topics, min_isr, client.list_reassignments(),
                                             default_min_isr=model.min_insync_replicas, force=force)
            elif phase == "after":
                registered = [b["id"] for b in client.describe_cluster()["brokers"]]
                checks = gate.after_restart(broker_id, registered, topics)
            else:
                raise SaltInvocationError(f"phase: must be 'before' or 'after', not {phase!r}")
    except admin_connection.KafkaAdminError as exc:
        return {"passed": False, "checks": [{"name": "cluster_reachable", "passed": False, "reason": str(exc)}]}
    return {"passed": gate.passed(checks), "checks": [c.as_dict() for c in checks]}


def elect_preferred_leaders():
    """
    Move leadership back to preferred replicas (after a roll).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.elect_preferred_leaders
    """
    return _admin_call("elect_preferred_leaders")


def content_plan():
    """
    Users (by pillar key), topics and ACL bindings the pillar asks for — no secrets.

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.content_plan
    """
    model = _model()
    return {
        "users": [{"name": u.name, "password_pillar": f"kafka:users:{u.name}:password"} for u in model.users],
        "topics": [{"name": t.name, "partitions": t.partitions, "replication_factor": t.replication_factor,
                    "config": dict(t.config)} for t in model.topics],
        "acls": [b.as_dict() for b in _bindings(model.acls, "kafka:acls")] if model.acls else [],
    }


def topic_state(name):
    """
    One topic as a state sees it: exists, partitions, replication factor, replica assignment
    and non-default configs (one admin session).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.topic_state orders
    """
    from kafkasalt.kafka import admin
    from kafkasalt.kafka.admin import connection as admin_connection

    model = _model()
    try:
        with admin.KafkaAdmin(_settings(model)) as client:
            described = client.describe_topics([name], missing_ok=True)
            if name not in described:
                return {"exists": False, "broker_ids": [b["id"] for b in client.describe_cluster()["brokers"]]}
            info = described[name]
            return {
                "exists": True,
                "internal": info["internal"],
                "partitions": len(info["partitions"]),
                "replication_factor": info["replication_factor"],
                "assignment": {p["partition"]: p["replicas"] for p in info["partitions"]},
                "config": client.topic_configs(name),
                "broker_ids": [b["id"] for b in client.describe_cluster()["brokers"]],
                "reassigning": [str(r) for r in client.list_reassignments() if str(r).startswith(f"{name}-")
                                or (isinstance(r, (tuple, list)) and r[0] == name)],
            }
    except admin_connection.KafkaInputError as exc:
        raise SaltInvocationError(str(exc)) from None
    except admin_connection.KafkaAdminError as exc:
        raise CommandExecutionError(str(exc)) from None


def plan_replication_factor(name, replication_factor):
    """
    The reassignment plan that brings topic ``name`` to ``replication_factor``.

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.plan_replication_factor orders 3
    """
    from kafkasalt.kafka import reassign

    state = topic_state(name)
    if not state["exists"]:
        raise CommandExecutionError(f"topic {name} does not exist")
    model = _model()
    racks = {b.broker_id: b.rack for b in model.brokers}
    try:
        plan = reassign.replication_factor_plan(state["assignment"], state["broker_ids"], int(replication_factor), racks)
    except ValueError as exc:
        raise SaltInvocationError(str(exc)) from None
    return {f"{name}:{partition}": replicas for partition, replicas in plan.items()}


def write_client_properties(path, username, password_pillar, owner="root", dry_run=False):
    """
    Write a 0600 client.properties for ``username`` (SASL_SSL + SCRAM, the cluster CA next to
    it as ``<path>.ca.pem``) with the password from pillar key ``password_pillar``. Returns only
    whether the file changed — never its content.

    CLI Example:

    .. code-block:: bash

        salt app1 kafka.write_client_properties /etc/orders/kafka.properties orders-app kafka:users:orders-app:password
    """
    import pwd

    model = _model()
    password = _pillar_secret(password_pillar)
    ca_path = f"{path}.ca.pem"
    wanted = {
        ca_path: _tls_pillar("ca_cert"),
        path: _broker_render.render_client_properties(model, username, password, truststore_path=ca_path),
    }
    changed = []
    for file_path, text in wanted.items():
        try:
            with open(file_path) as fh:
                same = fh.read() == text
            st = os.stat(file_path)
            same = same and (st.st_mode & 0o777) == 0o600
        except FileNotFoundError:
            same = False
        if same:
            continue
        changed.append(file_path)
        if dry_run:
            continue
        try:
            entry = pwd.getpwnam(owner)
        except KeyError:
            raise SaltInvocationError(f"owner: no such user {owner!r}") from None
        os.makedirs(os.path.dirname(file_path), exist_ok=True)
        _files.write_private(file_path, text, 0o600, owner=(entry.pw_uid, entry.pw_gid))
    return {"changed": changed}


# --- pillar-driven config changes: dynamic keys live, static keys by rolling restart ------------

STARTED_CONFIG_PATH = "/var/lib/kafka/server.properties.started"
# Changed by rolling restart even where Kafka could update them live: a listener change that
# goes wrong live is harder to undo than a gated restart.
ROLL_ONLY_KEYS = ("listeners", "advertised.listeners", "listener.security.protocol.map")


def _read_properties(path):
    try:
        with open(path) as fh:
            return _quoting.parse_properties(fh.read())
    except FileNotFoundError:
        return None


def _write_properties(path, props):
    _files.write_private(path, "".join(f"{k}={v}\n" for k, v in sorted(props.items())), 0o640)


def snapshot_started_config():
    """
    Record the server.properties the running broker started with (called on start and restart).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.snapshot_started_config
    """
    props = _read_properties(_broker.SERVER_PROPERTIES_PATH)
    if props is None:
        raise CommandExecutionError(f"{_broker.SERVER_PROPERTIES_PATH} does not exist")
    _write_properties(STARTED_CONFIG_PATH, props)
    return True


def pending_changes():
    """
    What differs between the config this broker started with and the files now on disk,
    classified by Kafka 3.9's dynamic-config rules (per-broker, cluster-wide, static), plus
    other changed files (JAAS, keystores, unit) that always need a restart.

    CLI Example:

    .. code-block:: bash

        salt 'kafka*' kafka.pending_changes
    """
    from kafkasalt.kafka import dynamic_config

    svc = _service.Service(_broker.SERVICE_NAME, _service_manager())
    started = _read_properties(STARTED_CONFIG_PATH)
    current = _read_properties(_broker.SERVER_PROPERTIES_PATH) or {}
    by_mtime = svc.restart_pending(config_files())
    if started is None or not svc.running():
        # No record of what the process loaded: fall back to file times (the safe side).
        return {"running": svc.running(), "plan": None, "other_files": by_mtime, "restart_needed": bool(by_mtime)}
    other = [f for f in by_mtime if f != _broker.SERVER_PROPERTIES_PATH]
    roll_only = set(ROLL_ONLY_KEYS) | {k for k in set(started) | set(current)
                                       if dynamic_config.static_for_existing_listeners(k)}
    plan = dynamic_config.plan_changes(started, current, treat_as_static=roll_only)
    return {"running": True, "plan": plan, "other_files": other, "restart_needed": plan["restart_needed"] or bool(other)}


def apply_dynamic_changes(cluster_defaults_applied=()):
    """
    Apply this broker's dynamic config changes live (IncrementalAlterConfigs on its own entity),
    except keys the runner already set as cluster-wide defaults, and record them as applied.

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.apply_dynamic_changes
    """
    pending = pending_changes()
    plan = pending["plan"]
    if not plan:
        return {"applied": {}}
    model = _model()
    broker_id = _this_broker(model).broker_id
    per_broker = {k: v["new"] for k, v in plan["dynamic_per_broker"].items()}
    per_broker.update({k: v["new"] for k, v in plan["dynamic_cluster"].items() if k not in cluster_defaults_applied})
    if per_broker:
        _admin_call("alter_broker_config", broker_id, set_configs=per_broker)
    applied = dict(per_broker)
    applied.update({k: plan["dynamic_cluster"][k]["new"] for k in cluster_defaults_applied if k in plan["dynamic_cluster"]})
    if applied:
        started = _read_properties(STARTED_CONFIG_PATH)
        started.update(applied)
        _write_properties(STARTED_CONFIG_PATH, started)
    return {"applied": applied, "broker_id": broker_id}


CLI_TOOLS = ("kafka-topics", "kafka-configs", "kafka-acls", "kafka-consumer-groups", "kafka-reassign-partitions",
             "kafka-leader-election", "kafka-broker-api-versions", "kafka-console-producer", "kafka-console-consumer")


def cli(tool, args=None, timeout=120):
    """
    Run one of Kafka's own tools against this cluster as the admin user, with the generated
    0600 admin client.properties (``--bootstrap-server`` and ``--command-config`` are added).

    tool
        One of kafka-topics, kafka-configs, kafka-acls, kafka-consumer-groups,
        kafka-reassign-partitions, kafka-leader-election, kafka-broker-api-versions,
        kafka-console-producer, kafka-console-consumer (``.sh`` optional).

    CLI Example:

    .. code-block:: bash

        salt kafka1 kafka.cli kafka-topics '["--list"]'
        salt kafka1 kafka.cli kafka-acls '["--list", "--principal", "User:alice"]'
    """
    import subprocess

    name = tool[:-3] if tool.endswith(".sh") else tool
    if name not in CLI_TOOLS:
        raise SaltInvocationError(f"tool: must be one of {', '.join(CLI_TOOLS)}, not {tool!r}")
    if isinstance(args, str):
        args = args.split()
    model = _model()
    script = os.path.join(model.install_dir, "bin", f"{name}.sh")
    if not os.path.exists(script):
        raise CommandExecutionError(f"{script} does not exist: is Kafka installed on this host?")
    config_flag = {"kafka-console-producer": "--producer.config", "kafka-console-consumer": "--consumer.config"}.get(
        name, "--command-config")
    cmd = [script, "--bootstrap-server", model.bootstrap_servers(), config_flag, _broker.CLIENT_PROPERTIES_PATH,
           *[str(a) for a in (args or [])]]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return {"retcode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr[-4000:]}


# --- what the step engine's gates read (kafka.rolling_restart and later changes) ---------------

def gate_view():
    """
    The cluster as the roll's gates read it, through one admin connection: every topic's
    partitions (leader, replicas, ISR), each topic's ``min.insync.replicas``, in-flight
    reassignments, registered brokers, the controller, and the pillar's broker ids. An
    unreachable cluster gives ``{"error": ...}`` (the gates then halt with it).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.gate_view
    """
    model = _model()
    try:
        view = _admin_call("gate_view")
    except CommandExecutionError as exc:
        return {"error": str(exc)}
    view["expected"] = sorted(b.broker_id for b in model.serving_brokers)
    view["default_min_isr"] = model.min_insync_replicas
    return view


def process_running():
    """
    Whether this host's broker process runs, as its service manager says (a killed broker shows
    here at once, long before its ZooKeeper session expires).

    CLI Example:

    .. code-block:: bash

        salt 'kafka*' kafka.process_running
    """
    svc = _service.Service(_broker.SERVICE_NAME, _service_manager())
    pid = svc.main_pid()
    return {"running": pid is not None, "pid": pid}


def ever_started():
    """
    Whether a broker ever ran on this host (a broker writes ``meta.properties`` into each of its
    log directories on its first start) and whether it runs now. The deploy converges all
    brokers at once when none ever ran (nothing to lose) or when all run (the state never
    restarts a running broker); otherwise one at a time.

    CLI Example:

    .. code-block:: bash

        salt 'kafka*' kafka.ever_started
    """
    found = [d for d in host_plan()["log_dirs"] if os.path.exists(os.path.join(d, "meta.properties"))]
    running = _service.Service(_broker.SERVICE_NAME, _service_manager()).main_pid() is not None
    return {"ever_started": bool(found), "running": running, "log_dirs_with_data": found}


def _tls_listeners(model):
    return [listener for listener in model.listeners if listener.uses_tls]


_TLS_STAMP = f"{_broker.TLS_DIR}/.reloaded.json"


def tls_status():
    """
    What this host's broker serves and trusts compared with its TLS files: whether the process
    runs, whether every TLS listener presents the certificate in ``keystore.pem`` and whether
    the process loaded ``truststore.pem`` as it is on disk. Fingerprints only, never a key.

    CLI Example:

    .. code-block:: bash

        salt 'kafka*' kafka.tls_status
    """
    from kafkasalt.kafka import tls_reload
    from kafkasalt.security import pki

    model = _model()
    broker = _this_broker(model)
    svc = _service.Service(_broker.SERVICE_NAME, _service_manager())
    pid = svc.main_pid()
    listeners = _tls_listeners(model)
    status = {"running": pid is not None, "pid": pid, "tls_listeners": [l.name for l in listeners],
              "keystore_loaded": True, "truststore_loaded": True, "presented": {}}
    if not listeners:
        return status
    leaf = pki.keystore_leaf(_rotation.read_text(_broker.KEYSTORE_PATH))
    status["keystore"] = leaf["fingerprint"] if leaf else None
    if pid is None:
        status.update(keystore_loaded=False, truststore_loaded=False)
        return status
    started = svc.started_at()
    try:
        fresh = started is not None and os.stat(_broker.KEYSTORE_PATH).st_mtime < started
    except OSError:
        fresh = True
    if fresh:  # the process read the file at start
        status["keystore_loaded"] = True
    else:
        for listener in listeners:
            try:
                status["presented"][listener.name] = tls_reload.presented_fingerprint(
                    broker.address, listener.port, _hostplan.ADMIN_KEYSTORE_PATH)
            except OSError as exc:  # ssl.SSLError is an OSError
                status["presented"][listener.name] = f"no answer: {exc}"
        status["keystore_loaded"] = bool(leaf) and all(fp == leaf["fingerprint"] for fp in status["presented"].values())
    status["truststore_loaded"] = tls_reload.truststore_loaded(
        _broker.TRUSTSTORE_PATH, pid, started, tls_reload.read_stamp(_TLS_STAMP))
    return status


def reload_tls(force=False):
    """
    Make the running broker load its key and trust stores from disk, without a restart, when
    it does not serve or trust what the files hold (``force``: reload anyway). Every TLS
    listener's ``ssl.keystore.location`` and ``ssl.truststore.location`` are altered for this
    broker (see :mod:`kafkasalt.kafka.tls_reload`); afterwards the listeners must present the
    file's certificate.

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.reload_tls
    """
    from kafkasalt.kafka import tls_reload

    before = tls_status()
    if not before["running"]:
        return {"reloaded": False, "reason": "the broker does not run (it reads its files at start)", "status": before}
    if not before["tls_listeners"]:
        return {"reloaded": False, "reason": "the broker has no TLS listener", "status": before}
    if before["keystore_loaded"] and before["truststore_loaded"] and not force:
        return {"reloaded": False, "reason": "the broker already serves and trusts what its files hold", "status": before}
    model = _model()
    broker = _this_broker(model)
    current = _admin_call("broker_configs", broker.broker_id)
    operations = tls_reload.reload_operations(_tls_listeners(model), _broker.KEYSTORE_PATH, _broker.TRUSTSTORE_PATH,
                                              current)
    _admin_call("incremental_alter_configs", "BROKER", str(broker.broker_id), operations)
    tls_reload.write_stamp(_TLS_STAMP, before["pid"], _broker.TRUSTSTORE_PATH, _broker.KEYSTORE_PATH)
    after = tls_status()
    if after["presented"] and not after["keystore_loaded"]:
        raise CommandExecutionError(f"broker {broker.broker_id} reloaded its TLS stores but still presents "
                                    f"{after['presented']}, not the certificate in {_broker.KEYSTORE_PATH}")
    return {"reloaded": True, "listeners": after["tls_listeners"], "status": after}

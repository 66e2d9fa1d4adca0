"""Execution module ``kafka``: Kafka broker operations, as thin wrappers over the kafkasalt core.

The logic lives in the ``kafkasalt`` package (no Salt imports there); functions here only
bind it to the minion's grains and pillar.
"""

import logging
import os

import salt.utils.data
from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from kafkasalt import broker as _broker
    from kafkasalt import hardware as _hardware
    from kafkasalt import service as _service
    from kafkasalt import sizing as _sizing
    from kafkasalt import zkclient as _zkclient
    from kafkasalt import zk_users as _zk_users
    from kafkasalt import zookeeper as _zookeeper
    from kafkasalt.errors import PillarError, PillarErrors

    _CORE_IMPORT_ERROR = None
except ImportError as _exc:  # pylint: disable=invalid-name
    _CORE_IMPORT_ERROR = str(_exc)

log = logging.getLogger(__name__)

__virtualname__ = "kafka"

DEFAULT_EXPECTED_PARTITIONS = 1000


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
        return DEFAULT_EXPECTED_PARTITIONS
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    problem = f"expected an integer >= 0, got {value!r}"
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


def _recommendations():
    """Sizing for this host with the pillar's explicit choices applied (null keeps the computed value)."""
    kafka = __pillar__.get("kafka") or {}
    host = __pillar__.get("kafka_host") or {}
    overrides = dict((host.get("kernel_tuning") or {}).get("sysctl") or {})
    overrides["nofile"] = host.get("nofile")
    overrides["log.dirs"] = kafka.get("log_dirs")
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


def _service_manager():
    return (__pillar__.get("kafka_host") or {}).get("service_manager", "systemd")


def _jmx_path(model):
    source = model.jmx_exporter.source or ""
    return f"{_broker.INSTALL_ROOT}/{os.path.basename(source)}" if source else None


def _tls_pillar(part):
    tls = __pillar__.get("kafka_tls") or {}
    if tls.get("error"):
        raise CommandExecutionError(tls["error"])
    value = tls.get(part) if part == "ca_cert" else (tls.get(part) or {})
    if not value:
        raise CommandExecutionError(f"pillar kafka_tls:{part} is missing: enable the kafka_pki ext_pillar on the master")
    return value


def _mtls(model):
    return model.tls_client_auth == "required"


def host_plan():
    """
    Non-secret facts the SLS lays out for this broker: paths, version, source, files, service.

    CLI Example:

    .. code-block:: bash

        salt 'kafka*' kafka.host_plan
    """
    model = _model()
    broker = _this_broker(model)
    rec = _recommendations()
    secret_files = ["kafka_server_jaas.conf", "tls/keystore.pem", "admin-client.properties"]
    if _mtls(model):
        secret_files.append("tls/admin-keystore.pem")
    return {
        "broker_id": broker.broker_id,
        "address": broker.address,
        "version": model.version,
        "source": model.source,
        "source_hash": model.source_hash,
        "install_root": _broker.INSTALL_ROOT,
        "install_dir": model.install_dir,
        "config_dir": _broker.CONFIG_DIR,
        "tls_dir": _broker.TLS_DIR,
        "log_dirs": list(model.log_dirs or rec["log.dirs"]["value"]),
        "log_dir": _broker.LOG_DIR,
        "user": _broker.RUN_USER,
        "service": _broker.SERVICE_NAME,
        "service_manager": _service_manager(),
        "jmx": {
            "enabled": model.jmx_exporter.enabled and bool(model.jmx_exporter.source),
            "source": model.jmx_exporter.source,
            "source_hash": model.jmx_exporter.source_hash,
            "path": _jmx_path(model),
        },
        "plain_files": ["server.properties", "log4j.properties", "jmx_exporter.yml", "tls/truststore.pem"],
        "secret_files": secret_files,
    }


def config_files():
    """
    Files whose change needs a broker restart (their mtime drives restart detection).

    CLI Example:

    .. code-block:: bash

        salt 'kafka*' kafka.config_files
    """
    unit = (f"/etc/systemd/system/{_broker.SERVICE_NAME}.service" if _service_manager() == "systemd"
            else f"/etc/supervisor/conf.d/{_broker.SERVICE_NAME}.conf")
    return [_broker.SERVER_PROPERTIES_PATH, _broker.JAAS_PATH, _broker.LOG4J_PATH, _broker.KEYSTORE_PATH,
            _broker.TRUSTSTORE_PATH, _broker.JMX_EXPORTER_CONFIG_PATH, unit]


def effective_config():
    """
    The key/value configuration this broker's server.properties holds (or will hold).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.effective_config
    """
    model = _model()
    rec = _recommendations()
    return _broker.broker_effective_config(
        model, __opts__["id"],
        log_dirs=list(model.log_dirs or rec["log.dirs"]["value"]),
        num_network_threads=rec["num.network.threads"]["value"],
        num_io_threads=rec["num.io.threads"]["value"],
        num_recovery_threads_per_data_dir=rec["num.recovery.threads.per.data.dir"]["value"],
    )


def _heap_mb(model, rec):
    return model.heap_mb or rec["broker_heap_mb"]["value"]


def _unit_kwargs(model, rec):
    jmx = model.jmx_exporter.enabled and bool(model.jmx_exporter.source)
    return {"heap_mb": _heap_mb(model, rec), "nofile": rec["nofile"]["value"],
            "jmx_agent_path": _jmx_path(model) if jmx else None}


def render(name):
    """
    Render one managed file of this broker. Secret files (JAAS, keystores, admin client
    properties) are written by the SLS through a template with ``show_changes: False``.

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka.render server.properties
    """
    model = _model()
    minion_id = _this_broker(model).minion_id
    rec = _recommendations()

    def admin_properties():
        keystore = f"{_broker.TLS_DIR}/admin-keystore.pem" if _mtls(model) else None
        return _broker.render_client_properties(model, model.super_user.name, model.super_user.password.reveal(),
                                                keystore_path=keystore)

    def keystore(part):
        from kafkasalt import pki  # cryptography is only needed on hosts that write keystores

        material = _tls_pillar(part)
        return pki.pem_keystore(material["key"], material["cert"], _tls_pillar("ca_cert"))

    renderers = {
        "server.properties": lambda: _broker.render_server_properties(
            model, minion_id,
            log_dirs=list(model.log_dirs or rec["log.dirs"]["value"]),
            num_network_threads=rec["num.network.threads"]["value"],
            num_io_threads=rec["num.io.threads"]["value"],
            num_recovery_threads_per_data_dir=rec["num.recovery.threads.per.data.dir"]["value"]),
        "log4j.properties": _broker.render_log4j_properties,
        "jmx_exporter.yml": _broker.render_jmx_exporter_config,
        "tls/truststore.pem": lambda: _tls_pillar("ca_cert"),
        "kafka_server_jaas.conf": lambda: _broker.render_jaas(model),
        "tls/keystore.pem": lambda: keystore("broker"),
        "tls/admin-keystore.pem": lambda: keystore("client"),
        "admin-client.properties": admin_properties,
        "systemd": lambda: _broker.render_systemd_unit(model, minion_id, **_unit_kwargs(model, rec)),
        "supervisord": lambda: _broker.render_supervisord_program(model, minion_id, **_unit_kwargs(model, rec)),
    }
    if name not in renderers:
        raise SaltInvocationError(f"unknown file {name!r}; one of {', '.join(renderers)}")
    return renderers[name]()


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
    tuning = (__pillar__.get("kafka_host") or {}).get("kernel_tuning") or {}
    return {
        "sysctl_conf": "\n".join(sysctl_lines) + "\n",
        "limits_conf": "\n".join(limits_lines) + "\n",
        "apply_live": bool(tuning.get("apply_live", True)),
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
    return _zkclient.session(zk.connect_string, "super", zk.super_password.reveal())


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

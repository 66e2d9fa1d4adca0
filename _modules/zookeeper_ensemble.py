"""Operate a ZooKeeper ensemble member: status, health, restarts and SASL-authenticated znodes.

The model, validation and rendering live in :mod:`kafkasalt.zookeeper`; this module only binds
them to the minion's pillar, grains and service manager.

Pillar: ``zookeeper`` (see ``pillar/kafka.sls.example``) and ``kafka_host:service_manager``.
"""

import logging
import os

from salt.exceptions import CommandExecutionError

try:
    from kafkasalt.common import cache
    from kafkasalt.ops import hardware, service, sizing
    from kafkasalt.ops import host as hostmodel
    from kafkasalt.zookeeper import client as zkclient
    from kafkasalt.zookeeper import model as zkmodel
    from kafkasalt.zookeeper import hostplan as zkhostplan
    from kafkasalt.zookeeper import status as zkstatus
    from kafkasalt.common.errors import PillarError, PillarErrors

    HAS_CORE = True
    CORE_ERROR = ""
except ImportError as exc:  # kazoo is imported lazily by zkclient; this is the core itself
    HAS_CORE = False
    CORE_ERROR = str(exc)

log = logging.getLogger(__name__)

__virtualname__ = "zookeeper_ensemble"



def __virtual__():
    if not HAS_CORE:
        return (False, f"zookeeper_ensemble: the kafkasalt core package cannot be imported ({CORE_ERROR}); "
                       "install the extension with pip or run saltutil.sync_all")
    return __virtualname__


def _model():
    """The ensemble model with this host's sized heap, built once per Salt job."""
    key = cache.digest(__pillar__, ("zookeeper", "kafka_host"))
    return cache.per_job(__context__, "kafkasalt.zookeeper", key, "model", _build_model)


def _build_model():
    try:
        heap_default = None
        hw = __grains__.get("kafka_hardware") or hardware.collect()
        heap_default = sizing.recommend(hw, role="zookeeper")["zookeeper_heap_mb"]["value"]
    except Exception as exc:  # sizing is advice; a pillar heap or the model default still applies
        log.debug("zookeeper sizing unavailable: %s", exc)
    try:
        return zkmodel.EnsembleModel.from_pillar(__pillar__.get("zookeeper", {}), heap_mb_default=heap_default)
    except (PillarError, PillarErrors) as exc:
        raise CommandExecutionError(str(exc)) from None


def _manager():
    try:
        return hostmodel.HostSettings.from_pillar(__pillar__).service_manager
    except (PillarError, PillarErrors) as exc:
        raise CommandExecutionError(str(exc)) from None


def _service():
    return service.Service(zkmodel.SERVICE_NAME, _manager())


def _member(model, minion_id=None):
    minion_id = minion_id or __opts__["id"]
    try:
        return model.member(minion_id)
    except zkmodel.NotAMember:
        raise CommandExecutionError(f"minion {minion_id} is not in pillar zookeeper:members") from None


def _tls_files(model):
    """The formula's own TLS client files when the ensemble's clients use TLS."""
    if not model.tls.enabled:
        return None
    return zkclient.TlsFiles(ca=zkmodel.TRUSTSTORE_PATH, keystore=zkmodel.CLIENT_KEYSTORE_PATH)


def _tls_pillar(part):
    """One part of this minion's ZooKeeper TLS material; during a CA rotation for the phase its
    files hold (or the one ``kafka_tls.apply`` asks for), never an earlier one."""
    from kafkasalt.security import rotation

    tls = __pillar__.get("zookeeper_tls") or {}
    if tls.get("error"):
        raise CommandExecutionError(tls["error"])
    value = None
    if tls.get("ca_cert"):
        material = rotation.host_material(tls, __context__.get("kafkasalt.ca_phase"))
        value = material.trust() if part == "ca_cert" else material.leaf(part)
    if not value:
        raise CommandExecutionError(
            f"pillar zookeeper_tls:{part} is missing: zookeeper:tls:enabled needs the kafka_pki ext_pillar on the master")
    return value


def _keystore(part):
    from kafkasalt.security import pki  # cryptography is only needed where TLS files are written

    material = _tls_pillar(part)
    return pki.pem_keystore(material["key"], material["cert"], material["issuer"])


def _transition():
    """An intermediate quorum-TLS step passed by the runner as pillar (never kept in pillar files)."""
    transition = __pillar__.get("zookeeper_transition")
    if transition is None:
        return None
    if not isinstance(transition, dict) or not isinstance(transition.get("ssl_quorum"), bool):
        raise CommandExecutionError("pillar zookeeper_transition must be {ssl_quorum: true|false}")
    return {"ssl_quorum": transition["ssl_quorum"]}


def tls_plan():
    """
    Which ZooKeeper TLS files this minion needs: the CA and the formula's client keystore on
    every minion that talks to the ensemble, the member keystore on members. Non-secret.

    CLI Example:

    .. code-block:: bash

        salt '*' zookeeper_ensemble.tls_plan
    """
    model = _model()
    return {
        "enabled": model.tls.enabled,
        "member": model.is_member(__opts__["id"]),
        "dir": zkmodel.TLS_DIR,
        "user": zkmodel.SERVICE_USER,
    }


def validate():
    """
    Validate the ``zookeeper`` pillar as this minion sees it; raise with every problem found.

    CLI Example:

    .. code-block:: bash

        salt 'zk*' zookeeper_ensemble.validate
    """
    model = _model()
    return {"valid": True, "members": [m.minion_id for m in model.members], "quorum_size": model.quorum_size}


def _host_plan(model=None):
    """This member's host plan (paths, files, unit, renderers)."""
    model = model or _model()
    _member(model)
    return zkhostplan.MemberHostPlan(model, __opts__["id"], _manager(), tls=_tls_pillar, transition=_transition())


def host_plan():
    """
    Non-secret facts the SLS lays out for this member: paths, version, source, service manager.

    CLI Example:

    .. code-block:: bash

        salt 'zk*' zookeeper_ensemble.host_plan
    """
    return _host_plan().facts()


def config_files():
    """
    The files whose change needs a restart of this member (their mtime drives ``restart_pending``).

    CLI Example:

    .. code-block:: bash

        salt 'zk*' zookeeper_ensemble.config_files
    """
    return _host_plan().config_files()


def _unit_path():
    return zkhostplan.unit_path(_manager())


def render(name):
    """
    Render one managed file for this member. ``name`` is one of zoo.cfg, myid, jaas.conf,
    java.args, systemd, supervisord, tls/ca.pem, tls/member.pem, tls/client.pem. jaas.conf,
    java.args and the keystores carry secrets: the SLS writes them through a template with
    ``show_changes: False``.

    CLI Example:

    .. code-block:: bash

        salt 'zk1' zookeeper_ensemble.render zoo.cfg
    """
    if name == "tls/client.pem" or name == "tls/ca.pem":
        # Every minion that talks to the ensemble needs these, members or not.
        return _tls_pillar("ca_cert") if name == "tls/ca.pem" else _keystore("client")
    try:
        return _host_plan().render(name)
    except ValueError as exc:
        raise CommandExecutionError(str(exc)) from None


def _probe(address, port, tls=None):
    try:
        srvr = zkstatus.parse_srvr(zkclient.four_letter_word(address, port, "srvr", tls=tls))
        mntr = zkstatus.parse_mntr(zkclient.four_letter_word(address, port, "mntr", tls=tls))
    except (zkclient.ZkUnavailable, zkstatus.StatusParseError) as exc:
        return {"serving": False, "error": str(exc)}
    return {"serving": True, **srvr, "mntr": mntr}


def _member_status(model, member):
    # The plaintext port while it is open: it answers throughout a switch to TLS, before the
    # member has restarted with its TLS port.
    if model.tls.plaintext_clients:
        return _probe(member.address, member.client_port)
    return _probe(member.address, member.secure_client_port, _tls_files(model))


def status(member=None):
    """
    Status of one member (default: this minion's): mode, zxid, latency, outstanding requests,
    and for the leader the synced followers.

    CLI Example:

    .. code-block:: bash

        salt 'zk1' zookeeper_ensemble.status
    """
    model = _model()
    target = _member(model, member)
    result = _member_status(model, target)
    result.update({"member": target.minion_id, "myid": target.myid, "address": target.address})
    return result


def health():
    """
    Ensemble health verdict (healthy / degraded / down) with reasons, asking every member.

    CLI Example:

    .. code-block:: bash

        salt 'zk1' zookeeper_ensemble.health
    """
    model = _model()
    statuses = {m.minion_id: _member_status(model, m) for m in model.members}
    verdict = zkstatus.ensemble_health(model, statuses)
    verdict["members"] = statuses
    if __opts__["id"] in {m.minion_id for m in model.members}:
        # This host's own word on its member (a stopped one shows here; the network cannot
        # tell stopped from slow): the roll halts on it at once instead of waiting.
        verdict["local"] = {"member": __opts__["id"], "running": _service().main_pid() is not None}
    return verdict


def restart_pending():
    """
    Config files changed since this member's process started (empty when none, or not running).

    CLI Example:

    .. code-block:: bash

        salt 'zk*' zookeeper_ensemble.restart_pending
    """
    svc = _service()
    return {"running": svc.running(), "changed_files": svc.restart_pending(config_files())}


def restart():
    """
    Restart this member's service (the orchestration calls this one member at a time).

    CLI Example:

    .. code-block:: bash

        salt 'zk2' zookeeper_ensemble.restart
    """
    svc = _service()
    try:
        svc.restart()
    except service.ServiceError as exc:
        raise CommandExecutionError(str(exc)) from None
    return {"restarted": True, "pid": svc.main_pid()}


def start():
    """
    Start this member's service with the files it has (no state run, no file change).

    CLI Example:

    .. code-block:: bash

        salt 'zk2' zookeeper_ensemble.start
    """
    svc = _service()
    try:
        if not svc.running():
            svc.start()
        if not svc.wait_running(timeout=30):
            raise service.ServiceError(f"{zkmodel.SERVICE_NAME} did not stay running after start")
    except service.ServiceError as exc:
        raise CommandExecutionError(str(exc)) from None
    return {"started": True, "pid": svc.main_pid()}


def stop():
    """
    Stop this member's service.

    CLI Example:

    .. code-block:: bash

        salt 'zk2' zookeeper_ensemble.stop
    """
    try:
        _service().stop()
    except service.ServiceError as exc:
        raise CommandExecutionError(str(exc)) from None
    return True


def kill():
    """
    SIGKILL this member's process (failure drills; the supervisor restarts it unless stopped).

    CLI Example:

    .. code-block:: bash

        salt 'zk3' zookeeper_ensemble.kill
    """
    _service().kill()
    return True


def _super_session(model):
    return zkclient.session(model.connect_string, zkmodel.SUPER_USER, model.super_password.reveal(), tls=_tls_files(model))


def znode_get(path):
    """
    Read a znode as the ZooKeeper super user: data (text), version and ACL.

    CLI Example:

    .. code-block:: bash

        salt 'zk1' zookeeper_ensemble.znode_get /kafka/lab/brokers/ids/1
    """
    model = _model()
    with _super_session(model) as client:
        if not client.exists(path):
            return None
        data, stat = client.get(path)
        acls, _ = client.get_acls(path)
    return {"data": data.decode(errors="replace") if data else "", "version": stat.version,
            "acl": [zkclient.acl_to_text(a) for a in acls]}


def znode_children(path):
    """
    List a znode's children as the super user.

    CLI Example:

    .. code-block:: bash

        salt 'zk1' zookeeper_ensemble.znode_children /kafka/lab/brokers/ids
    """
    model = _model()
    with _super_session(model) as client:
        return sorted(client.get_children(path)) if client.exists(path) else None


def znode_ensure(path, acl, data=None, dry_run=False):
    """
    Make ``path`` exist with exactly ``acl`` (list of ``scheme:id:perms``) and, when given,
    ``data``; returns what changed (or would change with ``dry_run``). Missing parents are
    created with the same ACL.

    CLI Example:

    .. code-block:: bash

        salt 'zk1' zookeeper_ensemble.znode_ensure /kafka '["sasl:kafka:cdrwa","sasl:super:cdrwa"]'
    """
    try:
        wanted = [zkclient.parse_acl(text) for text in acl]
    except ValueError as exc:
        raise CommandExecutionError(str(exc)) from None
    wanted_text = sorted(zkclient.acl_to_text(a) for a in wanted)
    model = _model()
    changes = {}
    with _super_session(model) as client:
        exists = path == "/" or client.exists(path)
        if not exists:
            changes["created"] = path
            if not dry_run:
                client.ensure_path(path, acl=wanted)
        current_text = wanted_text
        if exists:
            current, _ = client.get_acls(path)
            current_text = sorted(zkclient.acl_to_text(a) for a in current)
        if current_text != wanted_text:
            changes["acl"] = {"old": current_text, "new": wanted_text}
            if not dry_run:
                client.set_acls(path, wanted)
        if data is not None:
            old = client.get(path)[0] if exists else b""
            if old != data.encode():
                changes["data"] = "updated"
                if not dry_run:
                    client.set(path, data.encode())
    return changes


def _deployed_config():
    """The keys of this host's zoo.cfg that say which member it is; None without a zoo.cfg."""
    config = zkmodel.ZOO_CFG_PATH
    if not os.path.exists(config):
        return None
    keys, servers = {}, {}
    with open(config) as fh:
        for line in fh:
            key, _, value = line.strip().partition("=")
            if key.startswith("server.") and key[7:].isdigit():
                servers[int(key[7:])] = value.split(";")[0]
            elif key in ("dataDir", "clientPort", "clientPortAddress", "secureClientPort", "secureClientPortAddress",
                         "sslQuorum", "portUnification"):
                keys[key] = value
    myid = None
    if keys.get("dataDir"):
        try:
            with open(os.path.join(keys["dataDir"], "myid")) as fh:
                myid = int(fh.read().strip())
        except (OSError, ValueError):
            pass
    port, secure_port = keys.get("clientPort", ""), keys.get("secureClientPort", "")
    return {
        "myid": myid,
        "servers": servers,
        "client_address": keys.get("clientPortAddress") or keys.get("secureClientPortAddress", "127.0.0.1"),
        "client_port": int(port) if port.isdigit() else None,
        "secure_client_port": int(secure_port) if secure_port.isdigit() else None,
        "ssl_quorum": keys.get("sslQuorum") == "true",
        "port_unification": keys.get("portUnification") == "true",
    }


def deployed():
    """
    What this host runs as a ZooKeeper member according to its files (not pillar): its myid,
    the server list in zoo.cfg and its client endpoint. ``None`` when the host is not a member
    (never deployed, or decommissioned).

    CLI Example:

    .. code-block:: bash

        salt '*' zookeeper_ensemble.deployed
    """
    return _deployed_config()


def local_status():
    """
    Status of the ZooKeeper process on this host, found through its own zoo.cfg rather than
    pillar, so it also answers for a member that pillar no longer lists (membership changes).

    CLI Example:

    .. code-block:: bash

        salt '*' zookeeper_ensemble.local_status
    """
    files = _deployed_config()
    if not files or not (files["client_port"] or files["secure_client_port"]):
        return {"serving": False, "error": "no ZooKeeper member deployed on this host"}
    if files["client_port"]:
        reply = _probe(files["client_address"], files["client_port"])
    else:
        tls = zkclient.TlsFiles(ca=zkmodel.TRUSTSTORE_PATH, keystore=zkmodel.CLIENT_KEYSTORE_PATH)
        reply = _probe(files["client_address"], files["secure_client_port"], tls)
    return dict(reply, myid=files["myid"])


def decommission():
    """
    Take this host out of the ensemble for good, after the others no longer list it: stop the
    service, remove its systemd unit or supervisord program, and move zoo.cfg aside (to
    ``zoo.cfg.decommissioned``) so neither a reboot nor a state run brings the member back with a
    stale server list. The data and transaction-log directories are kept. The membership
    orchestration calls this as a removed member's last step.

    CLI Example:

    .. code-block:: bash

        salt 'zk5' zookeeper_ensemble.decommission
    """
    changes = {}
    try:
        if _service().unregister(_unit_path()):
            changes["service"] = f"removed {_unit_path()}"
    except service.ServiceError as exc:
        raise CommandExecutionError(str(exc)) from None
    config = zkmodel.ZOO_CFG_PATH
    if os.path.exists(config):
        os.replace(config, config + ".decommissioned")
        changes["zoo.cfg"] = f"moved to {config}.decommissioned"
    return changes

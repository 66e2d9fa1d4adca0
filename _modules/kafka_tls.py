"""Execution module ``kafka_tls``: what a host holds of the cluster CA, and moving it to a phase
of a CA rotation (``salt-run kafka.rotate_ca`` drives it; see :mod:`kafkasalt.security.rotation`).

Covers every TLS file the formula writes on a host: the broker's key and trust stores and the
admin client key store (``/etc/kafka/tls``), ZooKeeper's CA, client and member key stores
(``/etc/zookeeper/tls``). Answers carry fingerprints and phases, never a key.
"""

import grp
import logging
import os
import pwd

from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from kafkasalt.common import files as _files
    from kafkasalt.kafka import hostplan as _kafka_hostplan
    from kafkasalt.security import rotation as _rotation
    from kafkasalt.zookeeper import hostplan as _zk_hostplan

    _CORE_IMPORT_ERROR = None
except ImportError as _exc:  # pylint: disable=invalid-name
    _CORE_IMPORT_ERROR = str(_exc)

log = logging.getLogger(__name__)

__virtualname__ = "kafka_tls"
_PHASE_KEY = "kafkasalt.ca_phase"


def __virtual__():
    if _CORE_IMPORT_ERROR:
        return (False, f"kafka_tls: the kafkasalt core package (and cryptography) cannot be imported: "
                       f"{_CORE_IMPORT_ERROR}; install the extension with pip or run saltutil.sync_all")
    return __virtualname__


def _is_broker():
    brokers = (__pillar__.get("kafka") or {}).get("brokers") or {}
    return isinstance(brokers, dict) and __opts__["id"] in brokers and isinstance(__pillar__.get("kafka_tls"), dict)


def _zookeeper_tls():
    zookeeper = __pillar__.get("zookeeper") or {}
    tls = zookeeper.get("tls") if isinstance(zookeeper, dict) else None
    return isinstance(tls, dict) and tls.get("enabled") is True and isinstance(__pillar__.get("zookeeper_tls"), dict)


def _is_member():
    members = (__pillar__.get("zookeeper") or {}).get("members") or {}
    return _zookeeper_tls() and isinstance(members, dict) and __opts__["id"] in members


# Key stores are written by the SLS through salt://kafka/files/rendered.jinja, and Salt appends
# the template's final newline to what it renders: write them the same way, or the next state
# run would rewrite every key store this module wrote.
_TEMPLATE_NEWLINE = "\n"


def _files_of_host():
    """``[(renderer, name, path, mode, owner, group, suffix)]`` of the TLS files this host
    carries; ``suffix`` is what the SLS adds to the rendered text."""
    out = []
    if _is_broker():
        for managed in _kafka_hostplan.CONFIG_FILES:
            if managed.name.startswith("tls/"):
                out.append(("kafka.render", managed.name, managed.path, int(managed.mode, 8), managed.owner,
                            managed.group, _TEMPLATE_NEWLINE if managed.secret else ""))
    if _zookeeper_tls():
        for name, path, mode, owner, members_only in _zk_hostplan.TLS_FILES:
            if members_only and not _is_member():
                continue
            out.append(("zookeeper_ensemble.render", name, path, mode, owner, owner,
                        "" if name == "tls/ca.pem" else _TEMPLATE_NEWLINE))
    return out


def _tls_sections():
    """The rotation's CAs as this host's pillar gives them: ``(current, next)`` PEMs."""
    for section in ("kafka_tls", "zookeeper_tls"):
        tls = __pillar__.get(section)
        if isinstance(tls, dict) and tls.get("error"):
            raise CommandExecutionError(tls["error"])
        if isinstance(tls, dict) and tls.get("ca_cert"):
            upcoming = tls.get("next") if isinstance(tls.get("next"), dict) else {}
            return tls["ca_cert"], upcoming.get("ca_cert")
    return None, None


def holdings():
    """
    What this host holds of a CA rotation: the phase every one of its TLS files has reached,
    whether its broker serves and trusts them, and whether its ZooKeeper member started after
    they changed.

    CLI Example:

    .. code-block:: bash

        salt '*' kafka_tls.holdings
    """
    from kafkasalt.security import pki

    current, upcoming = _tls_sections()
    files = _files_of_host()
    truststores = [_rotation.read_text(f[2]) for f in files if f[1] in ("tls/truststore.pem", "tls/ca.pem")]
    keystores = [_rotation.read_text(f[2]) for f in files if f[1] not in ("tls/truststore.pem", "tls/ca.pem")]
    problems = [f"{f[2]} is missing" for f in files if not os.path.exists(f[2])]
    held = {
        "phase": _rotation.completed_phase(current, upcoming, truststores, keystores) if upcoming else None,
        "rotation_pending": bool(upcoming),
        "ca": pki.fingerprint(current) if current else None,
        "next_ca": pki.fingerprint(upcoming) if upcoming else None,
        "trusts": {f[2]: pki.bundle_fingerprints(_rotation.read_text(f[2])) for f in files
                   if f[1] in ("tls/truststore.pem", "tls/ca.pem")},
        "kafka": None,
        "zookeeper": None,
        "problems": problems,
    }
    if _is_broker():
        status = __salt__["kafka.tls_status"]()
        held["kafka"] = {key: status.get(key) for key in ("running", "keystore_loaded", "truststore_loaded")}
    if _is_member():
        pending = __salt__["zookeeper_ensemble.restart_pending"]()
        tls_paths = {path for _, _, path, *_ in _zk_hostplan.TLS_FILES}
        held["zookeeper"] = {"member": True, "running": bool(pending.get("running")),
                             "pending": [p for p in pending.get("changed_files") or [] if p in tls_paths]}
    return held


def _owner(user, group):
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        raise CommandExecutionError(f"user {user} does not exist: deploy the host first") from None
    try:
        return account.pw_uid, grp.getgrnam(group).gr_gid
    except KeyError:  # no group of that name: the user's own
        return account.pw_uid, account.pw_gid


def apply(phase, reload=True, test=False):
    """
    Write this host's TLS files for ``phase`` of a pending CA rotation (``trust``, ``reissue``,
    ``drop``; a host never steps back behind what its files hold) and, with ``reload``, make a
    running broker load them without a restart. ZooKeeper members read theirs at start: the
    runner restarts them one at a time. Returns the paths that changed (never their content).

    CLI Example:

    .. code-block:: bash

        salt 'kafka1' kafka_tls.apply trust
    """
    try:
        _rotation.check_phase(phase)
    except ValueError as exc:
        raise SaltInvocationError(str(exc)) from None
    if phase is None:
        raise SaltInvocationError("phase must be one of " + ", ".join(_rotation.PHASES))
    current, upcoming = _tls_sections()
    if not upcoming:
        raise CommandExecutionError("no CA rotation is pending (start one with salt-run kafka.rotate_ca)")
    files = _files_of_host()
    # Render everything first: a failure changes nothing.
    __context__[_PHASE_KEY] = phase
    try:
        wanted = [(path, __salt__[renderer](name) + suffix, mode, owner, group)
                  for renderer, name, path, mode, owner, group, suffix in files]
    finally:
        __context__.pop(_PHASE_KEY, None)
    changed = []
    for path, text, mode, owner, group in wanted:
        if _rotation.read_text(path) == text:
            continue
        changed.append(path)
        if not test:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            _files.write_private(path, text, mode=mode, owner=_owner(owner, group))
    result = {"phase": phase, "changed": changed, "reloaded": False}
    if reload and _is_broker() and not test:
        reloaded = __salt__["kafka.reload_tls"]()
        result["reloaded"] = reloaded["reloaded"]
        result["reload_reason"] = reloaded.get("reason")
    return result


_CERTIFICATE_NAMES = {
    "tls/truststore.pem": ("broker", "truststore-ca"),
    "tls/keystore.pem": ("broker", "keystore"),
    "tls/admin-keystore.pem": ("client", "admin-keystore"),
    "tls/ca.pem": ("zookeeper", "zookeeper-truststore-ca"),
    "tls/member.pem": ("zookeeper", "quorum-keystore"),
    "tls/client.pem": ("client", "zookeeper-client-keystore"),
}
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"


def write_metrics(directory=TEXTFILE_DIR):
    """
    Write ``kafkasalt_certificates.prom`` for the node exporter's textfile collector: the expiry
    (notAfter, Unix seconds) of every certificate in this host's TLS files, the CAs of its trust
    stores included, labelled with cluster, host, role and certificate (``metrics.yml``). The
    file is replaced atomically and only when it changes.

    CLI Example:

    .. code-block:: bash

        salt '*' kafka_tls.write_metrics
    """
    from kafkasalt import monitoring
    from kafkasalt.security import pki

    cluster = (__pillar__.get("kafka") or {}).get("cluster_name") or "kafka"
    certificates = []
    for _, name, path, *_ in _files_of_host():
        role, label = _CERTIFICATE_NAMES[name]
        found = pki.not_after(_rotation.read_text(path))
        if "truststore" not in label:
            found = found[:1]  # a key store's chain: its own certificate (the CA is in the trust store)
        certificates += [(role, label, expiry) for _, expiry in found]
    text = monitoring.textfile(monitoring.certificate_expiry_rows(cluster, __opts__["id"], certificates))
    changed = monitoring.write_textfile(directory, "kafkasalt_certificates.prom", text)
    return {"path": os.path.join(directory, "kafkasalt_certificates.prom"), "certificates": len(certificates),
            "changed": changed}

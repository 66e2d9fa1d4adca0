"""One ZooKeeper member's host, settled once: its paths, the files it runs from (and which of
them need a restart when they change), its service unit, and the renderer of each file.

The execution module's ``host_plan``, ``config_files`` and ``render`` wrap
:class:`MemberHostPlan`; the member's heap is already settled in the model it is given (the
sized default from :mod:`kafkasalt.ops.sizing` unless pillar sets ``zookeeper:heap_mb``).
"""

from __future__ import annotations

from kafkasalt.zookeeper import model as zkmodel
from kafkasalt.zookeeper import render as zkrender

# Every member file whose change needs a restart (their mtime drives restart detection).
_RESTART_FILES = ("zoo.cfg", "jaas.conf", "java.args")


# The ZooKeeper TLS files of a host: (render name, path, mode, owner, members only).
TLS_FILES = (
    ("tls/ca.pem", zkmodel.TRUSTSTORE_PATH, 0o644, "root", False),
    ("tls/client.pem", zkmodel.CLIENT_KEYSTORE_PATH, 0o600, "root", False),
    ("tls/member.pem", zkmodel.MEMBER_KEYSTORE_PATH, 0o600, zkmodel.SERVICE_USER, True),
)


def unit_path(service_manager: str) -> str:
    if service_manager == "systemd":
        return f"/etc/systemd/system/{zkmodel.SERVICE_NAME}.service"
    return f"/etc/supervisor/conf.d/{zkmodel.SERVICE_NAME}.conf"


class MemberHostPlan:
    """Everything one member's host needs. ``tls`` is a callable ``part -> material`` for the
    TLS files (``ca_cert`` gives the CA PEM, ``member``/``client`` a ``{"key", "cert"}``
    mapping); ``transition`` an intermediate quorum-TLS phase (``{"ssl_quorum": bool}``) that the
    runner passes while switching TLS on. Raises :class:`~kafkasalt.zookeeper.model.NotAMember`
    for a minion that is not a member."""

    def __init__(self, model, minion_id, service_manager="systemd", tls=None, transition=None):
        self.model = model
        self.member = model.member(minion_id)
        self.minion_id = minion_id
        self.service_manager = service_manager
        self.unit_path = unit_path(service_manager)
        self._tls = tls
        self._transition = transition

    def config_files(self) -> list:
        files = [f"{zkmodel.CONF_DIR}/{name}" for name in _RESTART_FILES] + [self.unit_path]
        if self.model.tls.enabled:
            # A renewed certificate or CA is read at start only.
            files += [zkmodel.MEMBER_KEYSTORE_PATH, zkmodel.TRUSTSTORE_PATH]
        return files

    def facts(self) -> dict:
        """The non-secret facts the SLS lays out (``zookeeper_ensemble.host_plan``)."""
        model = self.model
        return {
            "myid": self.member.myid,
            "address": self.member.address,
            "version": model.version,
            "install": model.install,
            "packages": list(model.packages),
            "source": model.source,
            "source_hash": model.source_hash,
            "install_root": zkmodel.INSTALL_ROOT,
            "install_dir": model.install_dir,
            "dist_name": model.dist_name,
            "config_dir": zkmodel.CONF_DIR,
            "data_dir": model.data_dir,
            "data_log_dir": model.data_log_dir,
            "log_dir": zkmodel.LOG_DIR,
            "user": zkmodel.SERVICE_USER,
            "service": zkmodel.SERVICE_NAME,
            "service_manager": self.service_manager,
            "heap_mb": model.heap_mb,
            "config_files": self.config_files(),
        }

    def _keystore(self, part):
        from kafkasalt.security import pki  # cryptography is only needed where TLS files are written

        material = self._tls(part)
        return pki.pem_keystore(material["key"], material["cert"], material.get("issuer") or self._tls("ca_cert"))

    def renderers(self) -> dict:
        model, minion_id, install_dir = self.model, self.minion_id, self.model.install_dir
        return {
            "zoo.cfg": lambda: zkrender.render_zoo_cfg(model, minion_id, self._transition),
            "tls/member.pem": lambda: self._keystore("member"),
            "myid": lambda: zkrender.render_myid(model, minion_id),
            "jaas.conf": lambda: zkrender.render_jaas(model),
            "java.args": lambda: zkrender.render_java_args(model, minion_id, install_dir),
            "systemd": lambda: zkrender.render_systemd_unit(model, minion_id, install_dir),
            "supervisord": lambda: zkrender.render_supervisord_program(model, minion_id, install_dir),
        }

    def render(self, name) -> str:
        renderers = self.renderers()
        if name not in renderers:
            raise ValueError(f"unknown file {name!r}; one of {', '.join([*renderers, 'tls/ca.pem', 'tls/client.pem'])}")
        return renderers[name]()


__all__ = ["MemberHostPlan", "unit_path", "TLS_FILES"]

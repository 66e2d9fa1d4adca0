"""One broker host, settled once: everything a host needs, decided in one place.

:class:`BrokerHostPlan` takes the validated cluster model, the host's sizing recommendations
(:func:`kafkasalt.ops.sizing.recommend`, pillar overrides already applied) and its service manager,
and settles the heap, ``log.dirs``, thread counts, the file limit, the JMX agent, the files the
host carries (path, mode, owner, secret or not, whether a change needs a restart) and the
service unit. The execution module's ``host_plan``, ``render``, ``effective_config`` and
``config_files`` are thin wrappers over it, so each precedence rule (pillar value over sized
value) is written once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from kafkasalt.kafka import model as kmodel
from kafkasalt.kafka import render as krender


@dataclass(frozen=True)
class ManagedFile:
    """One file of a broker host. ``name`` is what ``kafka.render`` takes; ``secret`` files are
    written through a no-diff template; ``restart`` files need a broker restart when they change
    (their mtime drives restart detection)."""

    name: str
    path: str
    mode: str
    owner: str
    group: str
    secret: bool
    restart: bool


ADMIN_KEYSTORE_PATH = f"{kmodel.TLS_DIR}/admin-keystore.pem"


def _config_file(name, secret, restart, path=None):
    owner = kmodel.RUN_USER if secret else "root"
    return ManagedFile(name, path or f"{kmodel.CONFIG_DIR}/{name}", "0600" if secret else "0640", owner,
                       kmodel.RUN_USER, secret, restart)


# The files of a broker host, in the order the SLS lays them out.
CONFIG_FILES = (
    _config_file("server.properties", secret=False, restart=True, path=kmodel.SERVER_PROPERTIES_PATH),
    _config_file("log4j.properties", secret=False, restart=True, path=kmodel.LOG4J_PATH),
    _config_file("jmx_exporter.yml", secret=False, restart=True, path=kmodel.JMX_EXPORTER_CONFIG_PATH),
    # Key and trust stores are reloaded by the running broker (kafka_tls.reload), never restarted for.
    _config_file("tls/truststore.pem", secret=False, restart=False, path=kmodel.TRUSTSTORE_PATH),
    _config_file("kafka_server_jaas.conf", secret=True, restart=True, path=kmodel.JAAS_PATH),
    _config_file("tls/keystore.pem", secret=True, restart=False, path=kmodel.KEYSTORE_PATH),
    # The formula's own admin client: read per call, a change restarts nothing.
    _config_file("tls/admin-keystore.pem", secret=True, restart=False, path=ADMIN_KEYSTORE_PATH),
    _config_file("admin-client.properties", secret=True, restart=False, path=kmodel.CLIENT_PROPERTIES_PATH),
)

# The order restart detection has always listed them in.
_RESTART_ORDER = (kmodel.SERVER_PROPERTIES_PATH, kmodel.JAAS_PATH, kmodel.LOG4J_PATH, kmodel.JMX_EXPORTER_CONFIG_PATH)


def unit_path(service_manager: str) -> str:
    if service_manager == "systemd":
        return f"/etc/systemd/system/{kmodel.SERVICE_NAME}.service"
    return f"/etc/supervisor/conf.d/{kmodel.SERVICE_NAME}.conf"


class BrokerHostPlan:
    """Everything one broker host needs. ``recommendations`` is the sizing of this host with the
    pillar's explicit choices applied; ``tls`` is a callable ``part -> material`` (``ca_cert``
    gives the CA PEM, ``broker``/``client`` a ``{"key", "cert"}`` mapping) used only when a TLS
    file is rendered. Raises ``KeyError`` when ``minion_id`` is not a broker of ``model``."""

    def __init__(self, model, minion_id, recommendations, service_manager="systemd", tls=None):
        self.model = model
        self.broker = model.broker(minion_id)
        self.minion_id = minion_id
        self.service_manager = service_manager
        self._tls = tls
        rec = recommendations
        self.heap_mb = model.heap_mb or rec["broker_heap_mb"]["value"]
        self.log_dirs = list(self.broker.log_dirs or model.log_dirs or rec["log.dirs"]["value"])
        self.num_network_threads = rec["num.network.threads"]["value"]
        self.num_io_threads = rec["num.io.threads"]["value"]
        self.num_recovery_threads_per_data_dir = rec["num.recovery.threads.per.data.dir"]["value"]
        self.nofile = rec["nofile"]["value"]
        source = model.jmx_exporter.source or ""
        self.jmx_path = f"{kmodel.INSTALL_ROOT}/{os.path.basename(source)}" if source else None
        self.jmx_enabled = bool(model.jmx_exporter.enabled and source)
        self.unit_path = unit_path(service_manager)

    # -- the files --------------------------------------------------------------------------
    @property
    def files(self) -> tuple:
        return CONFIG_FILES

    def config_files(self) -> list:
        """Paths whose change needs a restart, the unit last."""
        return [*_RESTART_ORDER, self.unit_path]

    def facts(self) -> dict:
        """The non-secret facts the SLS lays out (``kafka.host_plan``)."""
        model = self.model
        return {
            "broker_id": self.broker.broker_id,
            "address": self.broker.address,
            "version": model.version,
            "source": model.source,
            "source_hash": model.source_hash,
            "install_root": kmodel.INSTALL_ROOT,
            "install_dir": model.install_dir,
            "config_dir": kmodel.CONFIG_DIR,
            "tls_dir": kmodel.TLS_DIR,
            "log_dirs": list(self.log_dirs),
            "log_dir": kmodel.LOG_DIR,
            "user": kmodel.RUN_USER,
            "service": kmodel.SERVICE_NAME,
            "service_manager": self.service_manager,
            "heap_mb": self.heap_mb,
            "nofile": self.nofile,
            "jmx": {
                "enabled": self.jmx_enabled,
                "source": model.jmx_exporter.source,
                "source_hash": model.jmx_exporter.source_hash,
                "path": self.jmx_path,
            },
            "plain_files": [f.name for f in CONFIG_FILES if not f.secret],
            "secret_files": [f.name for f in CONFIG_FILES if f.secret],
        }

    def _sized(self) -> dict:
        return {
            "log_dirs": list(self.log_dirs),
            "num_network_threads": self.num_network_threads,
            "num_io_threads": self.num_io_threads,
            "num_recovery_threads_per_data_dir": self.num_recovery_threads_per_data_dir,
        }

    def effective_config(self) -> dict:
        return krender.broker_effective_config(self.model, self.minion_id, **self._sized())

    def _unit_kwargs(self) -> dict:
        return {"heap_mb": self.heap_mb, "nofile": self.nofile,
                "jmx_agent_path": self.jmx_path if self.jmx_enabled else None}

    def _keystore(self, part):
        from kafkasalt.security import pki  # cryptography is only needed on hosts that write keystores

        material = self._tls(part)
        return pki.pem_keystore(material["key"], material["cert"], material.get("issuer") or self._tls("ca_cert"))

    def _admin_properties(self):
        # With a client certificate whether or not mTLS is required: a roll that switches mTLS
        # on or off must reach brokers in both states.
        model = self.model
        keystore = ADMIN_KEYSTORE_PATH if model.admin_listener.uses_tls else None
        return krender.render_client_properties(model, model.super_user.name, model.super_user.password.reveal(),
                                                keystore_path=keystore)

    def renderers(self) -> dict:
        model, minion_id = self.model, self.minion_id
        return {
            "server.properties": lambda: krender.render_server_properties(model, minion_id, **self._sized()),
            "log4j.properties": krender.render_log4j_properties,
            "jmx_exporter.yml": krender.render_jmx_exporter_config,
            "tls/truststore.pem": lambda: self._tls("ca_cert"),
            "kafka_server_jaas.conf": lambda: krender.render_jaas(model),
            "tls/keystore.pem": lambda: self._keystore("broker"),
            "tls/admin-keystore.pem": lambda: self._keystore("client"),
            "admin-client.properties": self._admin_properties,
            "systemd": lambda: krender.render_systemd_unit(model, minion_id, **self._unit_kwargs()),
            "supervisord": lambda: krender.render_supervisord_program(model, minion_id, **self._unit_kwargs()),
        }

    def render(self, name) -> str:
        """One managed file's content; ``ValueError`` names the known files for an unknown one."""
        renderers = self.renderers()
        if name not in renderers:
            raise ValueError(f"unknown file {name!r}; one of {', '.join(renderers)}")
        return renderers[name]()


__all__ = ["BrokerHostPlan", "ManagedFile", "CONFIG_FILES", "ADMIN_KEYSTORE_PATH", "unit_path"]

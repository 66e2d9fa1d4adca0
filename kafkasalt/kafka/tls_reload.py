"""A running broker takes renewed key and trust stores without a restart.

Kafka reloads a listener's stores when its per-broker ``listener.name.<l>.ssl.keystore.location``
or ``...truststore.location`` is altered. Altering it to the *same* path only reloads the
listener's server side (``reloadUpdatedFilesWithoutConfigChange``); the broker's own client
side of the inter-broker listener (replica fetchers, the controller channel) is reconfigured
only when the value changes. So every reload alternates between two spellings of the same
file, ``/etc/kafka/tls/keystore.pem`` and ``/etc/kafka/tls/./keystore.pem``: a real change
for Kafka, the same file for the operating system.

Whether a broker has loaded what is on disk is derived, not recorded, wherever it can be:

* the key store: the certificate each TLS listener presents (a TLS handshake) is the one in the
  file;
* the trust store: the process started after the file last changed, or the reload stamp (the
  file's digest at the last reload, with the pid that reloaded it) matches the file. A trust
  store cannot be observed from outside, so this one fact is written down, per process.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import ssl

from kafkasalt.common.files import write_private


def alternate(path: str, current: str | None) -> str:
    """The spelling of ``path`` to set next: the other one than ``current``."""
    directory, name = os.path.split(path)
    dotted = f"{directory}/./{name}"
    return path if current == dotted else dotted


def reload_operations(listeners, keystore_path, truststore_path, current):
    """IncrementalAlterConfigs operations reloading both stores of every TLS listener.

    ``listeners`` are the broker's TLS listeners (objects with ``config_prefix``); ``current``
    the broker's dynamic configs (``{key: value}``).
    """
    operations = {}
    for listener in listeners:
        for suffix, path in (("ssl.keystore.location", keystore_path), ("ssl.truststore.location", truststore_path)):
            key = f"{listener.config_prefix}{suffix}"
            operations[key] = ("SET", alternate(path, current.get(key)))
    return operations


def digest(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


def read_stamp(path: str) -> dict:
    try:
        with open(path) as fh:
            stamp = json.load(fh)
    except (OSError, ValueError):
        return {}
    return stamp if isinstance(stamp, dict) else {}


def write_stamp(path: str, pid: int, truststore_path: str, keystore_path: str) -> dict:
    stamp = {"pid": pid, "truststore": digest(truststore_path), "keystore": digest(keystore_path)}
    write_private(path, json.dumps(stamp, sort_keys=True))
    return stamp


def truststore_loaded(truststore_path: str, pid: int | None, started_at: float | None, stamp: dict) -> bool:
    """Has the process ``pid`` (started at ``started_at``) loaded the trust store on disk?"""
    if pid is None or started_at is None:
        return False
    try:
        changed = os.stat(truststore_path).st_mtime
    except OSError:
        return True  # nothing on disk to load
    if changed < started_at:
        return True
    return stamp.get("pid") == pid and stamp.get("truststore") == digest(truststore_path)


def presented_fingerprint(address: str, port: int, cert_file: str | None = None, timeout: float = 5.0):
    """SHA-256 fingerprint of the certificate a TLS listener presents (no verification: this
    asks what it serves, not whether to trust it). ``cert_file`` is a client key store for
    listeners that require one. Raises ``OSError`` when nothing answers."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if cert_file and os.path.exists(cert_file):
        context.load_cert_chain(cert_file)
    with socket.create_connection((address, port), timeout=timeout) as raw:
        with context.wrap_socket(raw) as tls:
            der = tls.getpeercert(binary_form=True)
    return hashlib.sha256(der).hexdigest()


__all__ = ["alternate", "reload_operations", "digest", "read_stamp", "write_stamp", "truststore_loaded",
           "presented_fingerprint"]

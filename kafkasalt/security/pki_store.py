"""The cluster CA and the certificates it issued, kept in one directory on the master.

Layout (all keys 0600, directory 0700)::

    <store>/ca.key  ca.crt
    <store>/issued/<name>.key  <name>.crt

Issuing is idempotent: a certificate is re-issued only when it is missing, expires within the
renewal window, no longer carries the wanted names, or was signed by another CA. Concurrent
pillar compiles for several minions are serialised with a lock file.
"""

import contextlib
import fcntl
import os
import re

from kafkasalt.common.files import write_private
from kafkasalt.security import pki

RENEW_BEFORE_DAYS = 30
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _read(path):
    try:
        with open(path) as fh:
            return fh.read()
    except FileNotFoundError:
        return None


class PkiStore:
    def __init__(self, directory, cluster_name):
        self.directory = directory
        self.cluster_name = cluster_name
        os.makedirs(os.path.join(directory, "issued"), mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)

    @contextlib.contextmanager
    def _locked(self):
        with open(os.path.join(self.directory, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _ca_unlocked(self):
        key_path = os.path.join(self.directory, "ca.key")
        cert_path = os.path.join(self.directory, "ca.crt")
        key, cert = _read(key_path), _read(cert_path)
        if key and cert:
            return key, cert
        key, cert = pki.create_ca(f"{self.cluster_name} Kafka cluster CA")
        write_private(key_path, key)
        write_private(cert_path, cert)
        return key, cert

    def ca(self):
        """(key_pem, cert_pem) of the cluster CA, created on first use."""
        with self._locked():
            return self._ca_unlocked()

    def ca_cert(self):
        return self.ca()[1]

    def certificate(self, name, dns_names=(), ip_addresses=(), server=True, client=True):
        """(key_pem, cert_pem, reason) for ``name``; reason says why it was (re)issued, or None."""
        if not _SAFE_NAME.match(name):
            raise ValueError(f"certificate name {name!r} may only contain letters, digits, '_', '.', '-'")
        with self._locked():
            ca_key, ca_cert = self._ca_unlocked()
            key_path = os.path.join(self.directory, "issued", f"{name}.key")
            cert_path = os.path.join(self.directory, "issued", f"{name}.crt")
            key, cert = _read(key_path), _read(cert_path)
            reason = None
            if not (key and cert):
                reason = "new"
            else:
                matches, why = pki.cert_matches(cert, dns_names, ip_addresses, ca_cert)
                renew, renew_why = pki.needs_renewal(cert, before_days=RENEW_BEFORE_DAYS)
                if not matches:
                    reason = why
                elif not pki.key_matches_cert(key, cert):
                    reason = "stored key does not belong to the certificate"
                elif renew:
                    reason = renew_why
            if reason:
                key, cert = pki.issue_cert(ca_key, ca_cert, name, dns_names=dns_names,
                                           ip_addresses=ip_addresses, server=server, client=client)
                write_private(key_path, key)
                write_private(cert_path, cert)
            return key, cert, reason

"""The cluster CA and the certificates it issued, kept in one directory on the master.

Layout (all keys 0600, directory 0700)::

    <store>/ca.key  ca.crt                     the CA that signs today
    <store>/issued/<name>.key  <name>.crt
    <store>/next/ca.key  ca.crt  issued/...    only while a CA rotation is pending
    <store>/retired/<UTC time>/...             CAs a finished rotation replaced

A rotation is started by :meth:`PkiStore.start_rotation` (a new CA with a distinct name under
``next/``) and finished by :meth:`PkiStore.promote` once every host holds only the new CA
(the runner decides that from the hosts, not from anything kept here). Promotion is a series
of renames that a crash can interrupt anywhere: the next use of the store completes it.

Issuing is idempotent: a certificate is re-issued only when it is missing, expires within the
renewal window, no longer carries the wanted names, or was signed by another CA. Concurrent
pillar compiles for several minions are serialised with a lock file.
"""

import contextlib
import datetime
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

    def _path(self, *parts):
        return os.path.join(self.directory, *parts)

    def _partial(self):
        root = self._path("retired")
        names = sorted(n for n in os.listdir(root) if n.endswith(".partial")) if os.path.isdir(root) else []
        return os.path.join(root, names[-1]) if names else None

    def _recover(self):
        """Complete a promotion a crash interrupted (see :meth:`promote`): one is under way when
        a ``retired/*.partial`` directory exists, or the new CA is there with the old one half gone."""
        pending = os.path.exists(self._path("next", "ca.crt"))
        current = all(os.path.exists(self._path(name)) for name in ("ca.key", "ca.crt", "issued"))
        if self._partial() or (pending and not current):
            self._promote_unlocked()

    def _ca_unlocked(self, which="current"):
        self._recover()
        base = self._path("next") if which == "next" else self.directory
        key_path, cert_path = os.path.join(base, "ca.key"), os.path.join(base, "ca.crt")
        key, cert = _read(key_path), _read(cert_path)
        if key and cert:
            return key, cert
        if which == "next":
            return None
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

    def next_ca_cert(self):
        """The CA a pending rotation moves to, or None when no rotation is pending."""
        with self._locked():
            pair = self._ca_unlocked("next")
        return pair[1] if pair else None

    def start_rotation(self, now=None):
        """Create the CA to rotate to (once; a pending rotation keeps its CA). Its name carries
        the creation time, so old and new CA never share a subject in a trust store. Returns
        ``(cert_pem, created)``."""
        with self._locked():
            self._ca_unlocked()
            pair = self._ca_unlocked("next")
            if pair:
                return pair[1], False
            moment = now or datetime.datetime.now(datetime.timezone.utc)
            key, cert = pki.create_ca(f"{self.cluster_name} Kafka cluster CA {moment:%Y%m%d%H%M%S}", now=now)
            os.makedirs(self._path("next", "issued"), mode=0o700, exist_ok=True)
            write_private(self._path("next", "ca.key"), key)
            write_private(self._path("next", "ca.crt"), cert)  # written last: the rotation exists
            return cert, True

    def promote(self):
        """Make the pending rotation's CA the one that signs; the old CA and what it issued
        move to ``retired/``. Returns the retired directory, or None when nothing was pending."""
        with self._locked():
            if not os.path.exists(self._path("next", "ca.crt")):
                return None
            return self._promote_unlocked()

    def _promote_unlocked(self):
        # Each rename is atomic, and each is skipped once its target exists, so _recover()
        # finishes from any point: the old CA leaves first (certificate, key, issued), then the
        # new one moves up (issued, key, certificate), then "retired/<time>.partial" loses its
        # suffix.
        target = self._partial()
        if target is None:
            stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
            target = self._path("retired", f"{stamp}.partial")
            os.makedirs(target, mode=0o700)
        moves = [(self._path(name), os.path.join(target, name)) for name in ("ca.crt", "ca.key", "issued")]
        moves += [(self._path("next", name), self._path(name)) for name in ("issued", "ca.key", "ca.crt")]
        for source, destination in moves:
            if os.path.isdir(destination) and not os.listdir(destination):
                os.rmdir(destination)  # an empty issued/ the constructor made meanwhile
            if os.path.exists(source) and not os.path.exists(destination):
                os.replace(source, destination)
        os.makedirs(self._path("issued"), mode=0o700, exist_ok=True)
        if os.path.isdir(self._path("next")):
            os.rmdir(self._path("next"))
        final = target[: -len(".partial")]
        os.replace(target, final)
        return final

    def certificate(self, name, dns_names=(), ip_addresses=(), server=True, client=True, which="current"):
        """(key_pem, cert_pem, reason) for ``name`` from the current CA (or, ``which="next"``,
        from a pending rotation's CA); reason says why it was (re)issued, or None."""
        if not _SAFE_NAME.match(name):
            raise ValueError(f"certificate name {name!r} may only contain letters, digits, '_', '.', '-'")
        with self._locked():
            pair = self._ca_unlocked(which)
            if pair is None:
                raise ValueError("no CA rotation is pending")
            ca_key, ca_cert = pair
            issued = self._path("next", "issued") if which == "next" else self._path("issued")
            key_path = os.path.join(issued, f"{name}.key")
            cert_path = os.path.join(issued, f"{name}.crt")
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


def store_for(pki_dir, cluster_name):
    """The cluster's store under the master's ``pki_dir``; the name is checked before it becomes
    a path (PillarError naming kafka:cluster_name)."""
    from kafkasalt.common.errors import PillarError
    from kafkasalt.kafka.model import cluster_name_problem

    problem = cluster_name_problem(cluster_name)
    if problem:
        raise PillarError("kafka:cluster_name", problem)
    return PkiStore(os.path.join(pki_dir, "kafka", cluster_name), cluster_name)

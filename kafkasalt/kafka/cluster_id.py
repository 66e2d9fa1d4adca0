"""The KRaft cluster id and the controllers' metadata directory ids: generated once on the
master, kept beside the cluster CA, never regenerated.

Layout (directory 0700, files 0600), inside the cluster's PKI store directory
(:func:`kafkasalt.security.pki_store.store_for`)::

    <pki_dir>/kafka/<cluster>/kraft/cluster.id
    <pki_dir>/kafka/<cluster>/kraft/directory_ids/<node_id>
    <pki_dir>/kafka/<cluster>/kraft/formatted/<node_id>   (the directory id a voter was formatted with)

An id is what ``kafka-storage.sh random-uuid`` prints: Kafka's ``Uuid`` (16 random bytes) in
base64url without padding, 22 characters, never starting with ``-`` (Kafka re-draws those, as
they read like command-line options) and never one of the ids Kafka reserves (the zero id and
the directory ids below 100, ``DirectoryId.UNASSIGNED/LOST/MIGRATING``).

Crash safety: an id is written to a temporary file, flushed to disk, then *linked* to its
name, which fails if the name exists; so a second writer (or a retry after a crash) never
replaces an id a host may already have been formatted with. A file that exists but does not
hold a valid id is an error, never a reason to draw a new one.
"""

import base64
import contextlib
import fcntl
import os
import re
import secrets

from kafkasalt.common.validation import is_int

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{21}[AQgw]$")  # 16 bytes: the last character holds 2 bits
RESERVED_BELOW = 100  # Kafka reserves the ids whose 128-bit value is below 100


def encode(raw):
    """Kafka's text form of 16 bytes: base64url without padding (22 characters)."""
    if len(raw) != 16:
        raise ValueError("a Kafka Uuid is 16 bytes")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def id_problem(value):
    """Why ``value`` is not a usable Kafka cluster or directory id (None when it is)."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        return f"expected 22 base64url characters (16 bytes, as kafka-storage.sh random-uuid prints), got {value!r}"
    if value.startswith("-"):
        return "starts with '-' (Kafka never generates those: they read as a command-line option)"
    if int.from_bytes(base64.urlsafe_b64decode(value + "=="), "big") < RESERVED_BELOW:
        return "is one of the ids Kafka reserves"
    return None


def random_id(token_bytes=secrets.token_bytes):
    """A new id, drawn the way Kafka's ``Uuid.randomUuid`` does (re-drawn when unusable)."""
    while True:
        value = encode(token_bytes(16))
        if id_problem(value) is None:
            return value


def _write_once(path, value):
    """Write ``value`` to ``path`` unless it exists; returns what ``path`` holds afterwards."""
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(value + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        directory = os.open(os.path.dirname(path), os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return _read(path)


def _read(path):
    try:
        with open(path) as fh:
            text = fh.read().strip()
    except FileNotFoundError:
        return None
    problem = id_problem(text)
    if problem:
        raise ValueError(f"{path} exists but does not hold a valid id ({problem}); refusing to generate a new one: "
                         "hosts may be formatted with the old id. Restore it from a backup")
    return text


class KraftIdStore:
    """The ids of one KRaft cluster, kept in ``directory`` (created 0700)."""

    def __init__(self, directory):
        self.directory = directory
        os.makedirs(os.path.join(directory, "directory_ids"), mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)

    @contextlib.contextmanager
    def _locked(self):
        with open(os.path.join(self.directory, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _get(self, path):
        with self._locked():
            current = _read(path)
            return current if current is not None else _write_once(path, random_id())

    def cluster_id(self):
        """The cluster id, generated on first use and kept."""
        return self._get(os.path.join(self.directory, "cluster.id"))

    def directory_id(self, node_id):
        """The metadata directory id of controller ``node_id`` (``--initial-controllers``),
        generated on first use and kept: it must match the directory the controller formats."""
        if not is_int(node_id) or node_id < 0:
            raise ValueError(f"node_id: expected an integer >= 0, got {node_id!r}")
        return self._get(os.path.join(self.directory, "directory_ids", str(node_id)))

    def mark_formatted(self, node_id):
        """Record that controller ``node_id`` was formatted as a voter (after kafka-storage.sh
        format succeeded), with the directory id it got: from then on empty disks on it mean a
        wiped voter, never a new one (:func:`kafkasalt.kafka.storage.plan_format`)."""
        directory_id = self.directory_id(node_id)
        path = os.path.join(self.directory, "formatted", str(node_id))
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with self._locked():
            if _read(path) is None:
                _write_once(path, directory_id)

    def was_formatted(self, node_id):
        """True once :meth:`mark_formatted` recorded controller ``node_id``."""
        return os.path.exists(os.path.join(self.directory, "formatted", str(node_id)))

    def directory_ids(self, node_ids):
        """``node_id -> directory id`` of every controller in ``node_ids`` (each kept), the
        mapping :func:`kafkasalt.kafka.storage.format_arguments` takes."""
        return {node_id: self.directory_id(node_id) for node_id in node_ids}


def store_for(pki_dir, cluster_name):
    """The cluster's id store beside its CA (``<pki_dir>/kafka/<cluster>/kraft``); the name is
    checked before it becomes a path (PillarError naming kafka:cluster_name)."""
    from kafkasalt.security import pki_store

    return KraftIdStore(os.path.join(pki_store.store_for(pki_dir, cluster_name).directory, "kraft"))

"""Writing files that hold secrets (keys, passwords): never world-readable, never half-written."""

import os


def write_private(path, text, mode=0o600, owner=None):
    """Write ``text`` to ``path`` atomically: into ``<path>.tmp`` created with ``mode`` (so the
    content is never readable with looser permissions), owned by ``owner`` (``(uid, gid)``)
    when given, then renamed over ``path``, so a reader sees the old file or the new one, never
    a partial write."""
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    if owner is not None:
        os.chown(tmp, *owner)
    os.replace(tmp, path)

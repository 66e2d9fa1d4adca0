"""Build once per Salt job what every call of a job needs (the model, the sizing, a host plan).

A state run renders a dozen files and each asks for the model; Salt gives every loader module a
``__context__`` dict that lives for the job. Entries are keyed by the pillar they are built from,
so a changed pillar (or a minion with ``multiprocessing: False``, whose ``__context__`` outlives
a job) never gets a stale object.
"""

from __future__ import annotations

import hashlib
import json


def digest(pillar: dict, sections) -> str:
    """A digest of the pillar ``sections`` an object is built from (secrets only feed the hash)."""
    data = {name: pillar.get(name) for name in sections}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def per_job(context: dict, slot: str, key: str, name: str, build):
    """``build()`` once for ``(slot, key)``; a different ``key`` drops everything in ``slot``."""
    entry = context.setdefault(slot, {})
    if entry.get("__key__") != key:
        entry.clear()
        entry["__key__"] = key
    if name not in entry:
        entry[name] = build()
    return entry[name]

"""Where the core's data files are (Kafka's topic-config table, exporter and alert rules, ...).

A pip install ships ``kafkasalt/data`` as package data, next to the code. A formula install
(``saltutil.sync_all``) copies only Python files into ``extension_modules/utils/kafkasalt``,
but the formula's ``file_roots`` hold the repository root (see the README), so
``<root>/kafkasalt/data`` is there on the master: Salt-facing code registers its file roots with
:func:`add_file_roots` and :func:`path` looks in the package first, then in those roots.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DATA = Path(__file__).resolve().parent.parent / "data"
_extra_roots: list = []


def add_file_roots(file_roots) -> None:
    """Also look in ``<root>/kafkasalt/data`` for each directory of Salt's ``file_roots``
    (``{env: [dir, ...]}`` or a list of dirs)."""
    if isinstance(file_roots, dict):
        dirs = [d for env_dirs in file_roots.values() for d in (env_dirs or [])]
    else:
        dirs = list(file_roots or [])
    for directory in dirs:
        candidate = Path(directory) / "kafkasalt" / "data"
        if candidate not in _extra_roots:
            _extra_roots.append(candidate)


def path(*parts) -> Path:
    """The first existing ``data/<parts>`` (package data first), else the package path (which the
    caller's read then reports as missing)."""
    for root in (PACKAGE_DATA, *_extra_roots):
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    return PACKAGE_DATA.joinpath(*parts)

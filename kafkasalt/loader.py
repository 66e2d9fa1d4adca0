"""Entry point for Salt's loader (``salt.loader`` in setup.cfg).

Salt calls :func:`loader_dirs` and adds the returned directories to its module search
paths, so a pip-installed extension exposes the same functions as a formula install.
"""

import os

_LOADER_DIRS = {
    "modules": "_modules",
    "states": "_states",
    "grains": "_grains",
    "runners": "_runners",
    "pillar": "_pillar",
}


def _base_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    wheel_layout = os.path.join(here, "_salt")
    if os.path.isdir(wheel_layout):
        return wheel_layout
    # Source checkout (editable install): the loader dirs sit at the repository top.
    return os.path.dirname(here)


def loader_dirs():
    """Return ``{ext_type: [directory]}`` for every loader type this extension ships."""
    base = _base_dir()
    return {
        ext_type: [os.path.join(base, dirname)]
        for ext_type, dirname in _LOADER_DIRS.items()
        if os.path.isdir(os.path.join(base, dirname))
    }

"""Monitoring of a kafkasalt cluster, as data in ``kafkasalt/data/monitoring/``.

Pure Python (no Salt).

=============================  ====================================================================
``jmx_exporter/*.yml``         JMX exporter rules per role (broker, KRaft controller, MirrorMaker 2)
``metrics.yml``                the metric names each exporter serves
=============================  ====================================================================
"""

from pathlib import Path

import yaml

DATA_DIR = Path(__file__).resolve().parent / "data" / "monitoring"


def data_path(*parts):
    """Path of a file in ``kafkasalt/data/monitoring`` (e.g. ``data_path("alerts.yml")``)."""
    return DATA_DIR.joinpath(*parts)


def load_data(*parts):
    """The parsed YAML of a file in ``kafkasalt/data/monitoring``."""
    with open(data_path(*parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)

"""Grain ``kafka_hardware``: the hardware facts Kafka sizing needs (RAM, cores, disks, NICs).

The facts come from :func:`kafkasalt.ops.hardware.collect`, which reads only /proc and /sys.
A grain must never break a minion: if the core is missing or anything fails, the grain
logs at debug level and returns what it has (an empty dict at worst).
"""

import logging

try:
    from kafkasalt.ops import hardware as _hardware  # a module, so the loader does not take it for a grain
except ImportError as _exc:  # pylint: disable=invalid-name
    _hardware = None
    _IMPORT_ERROR = str(_exc)

log = logging.getLogger(__name__)


def kafka_hardware():
    """Return ``{"kafka_hardware": {...}}`` (see kafkasalt.ops.hardware for the shape).

    CLI Example:

    .. code-block:: bash

        salt '*' grains.get kafka_hardware
    """
    if _hardware is None:
        log.debug("kafka_hardware grain: kafkasalt core not importable (%s)", _IMPORT_ERROR)
        return {}
    try:
        return {"kafka_hardware": _hardware.collect()}
    except Exception:  # pylint: disable=broad-except  # collect() does not raise; a minion must never pay if it does
        log.debug("kafka_hardware grain: collection failed", exc_info=True)
        return {}

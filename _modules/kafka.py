"""Execution module ``kafka``: Kafka broker operations, as thin wrappers over the kafkasalt core.

The logic lives in the ``kafkasalt`` package (no Salt imports there); functions here only
bind it to the minion's grains and pillar.
"""

import logging

from salt.exceptions import SaltInvocationError

try:
    from kafkasalt import hardware as _hardware
    from kafkasalt import sizing as _sizing
    from kafkasalt.errors import PillarError

    _CORE_IMPORT_ERROR = None
except ImportError as _exc:  # pylint: disable=invalid-name
    _CORE_IMPORT_ERROR = str(_exc)

log = logging.getLogger(__name__)

__virtualname__ = "kafka"

DEFAULT_EXPECTED_PARTITIONS = 1000


def __virtual__():
    if _CORE_IMPORT_ERROR is not None:
        return (
            False,
            f"kafka: the kafkasalt core package cannot be imported ({_CORE_IMPORT_ERROR}); "
            "pip install the extension, or run saltutil.sync_all so that "
            "<extension_modules>/utils/kafkasalt exists",
        )
    return __virtualname__


def _hardware_facts():
    """The kafka_hardware grain, or a fresh collection when the grain is absent."""
    return __grains__.get("kafka_hardware") or _hardware.collect()


def _pillar_expected_partitions():
    # __pillar__, not pillar.get: Salt 3008's pillar.get returns masked values ("**********")
    # to callers outside templates unless unmask=True, which Salt 3006 does not know.
    value = (__pillar__.get("kafka") or {}).get("expected_partitions")
    if value is None:
        return DEFAULT_EXPECTED_PARTITIONS
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    problem = f"expected an integer >= 0, got {value!r}"
    raise SaltInvocationError(str(PillarError("kafka:expected_partitions", problem)))


def sizing(expected_partitions=None, role="broker"):
    """Recommend heaps, threads, log.dirs, limits and kernel settings for this host.

    Each recommendation carries a value and a one-line ``why``; ``sysctl``,
    ``server_properties`` and ``limits`` are flat views for the states. Hardware comes
    from the ``kafka_hardware`` grain (collected on the spot when absent).

    expected_partitions
        Partition replicas this broker may host; defaults to pillar
        ``kafka:expected_partitions``, else 1000.

    role
        ``broker``, ``zookeeper`` or ``both`` (a host running ZooKeeper and a broker).

    CLI Example:

    .. code-block:: bash

        salt '*' kafka.sizing
        salt 'kafka1' kafka.sizing expected_partitions=20000 role=both
    """
    if expected_partitions is None:
        expected_partitions = _pillar_expected_partitions()
    try:
        return _sizing.recommend(_hardware_facts(), expected_partitions=expected_partitions, role=role)
    except ValueError as exc:  # bad argument: the message names it
        raise SaltInvocationError(str(exc)) from None

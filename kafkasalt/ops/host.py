"""The ``kafka_host:`` pillar: how a host supervises its services and how its kernel is tuned.

Shared by ZooKeeper members and brokers. :data:`DEFAULTS` is the single source of truth for its
keys; :meth:`HostSettings.from_pillar` validates it (every problem at once, as
:class:`~kafkasalt.common.errors.PillarErrors` naming the full key such as ``kafka_host:nofile``)
and the execution modules read the settings through it, never the raw pillar. The runners
validate it on the master for every targeted minion (:func:`minion_errors`), because it may differ
from host to host.

Rules:

* ``service_manager``: one of :data:`kafkasalt.ops.service.MANAGERS`.
* ``nofile``: null (sized: :mod:`kafkasalt.ops.sizing`) or an integer from :data:`MIN_NOFILE` to
  ``fs.nr_open`` (the kernel refuses a larger limit; :data:`kafkasalt.ops.sizing.NR_OPEN_DEFAULT`
  unless ``kernel_tuning:sysctl`` raises ``fs.nr_open``). :data:`MIN_NOFILE` is what the sizing
  reserves for sockets, jars and the JVM before any partition's files
  (:data:`kafkasalt.ops.sizing.CONNECTION_FDS`); the sized value itself never goes below
  :data:`kafkasalt.ops.sizing.NOFILE_FLOOR`. An explicit value below that floor is for hosts whose
  hard limit cannot be raised (containers, the test lab).
* ``kernel_tuning:apply_live``: true or false (a quoted ``'false'`` is refused, not read as true).
* ``kernel_tuning:sysctl``: sysctl name (``vm.``, ``net.``, ``fs.``, ``kernel.`` and dotted
  names) -> an integer >= 0, a one-line string (``"4096 65536 2097152"``, quoted negative
  numbers) or null (keep the sized value). A setting the sizing computes as an integer takes
  an integer.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from kafkasalt.common.errors import PillarError, PillarErrors
from kafkasalt.common.validation import Collector, did_you_mean, is_int, type_name
from kafkasalt.ops import sizing
from kafkasalt.ops.service import MANAGERS

PILLAR_ROOT = "kafka_host"

#: Every ``kafka_host:`` key with its default (``pillar/kafka.sls.example`` documents them).
DEFAULTS = {
    "service_manager": "systemd",
    "nofile": None,  # None -> sized: max(NOFILE_FLOOR, partition files + CONNECTION_FDS)
    "kernel_tuning": {
        "apply_live": True,  # false: write /etc/sysctl.d/60-kafka.conf only (containers)
        "sysctl": {},  # overrides of the sized kernel settings; null keeps the sized value
    },
}

#: The smallest explicit ``nofile``: the descriptors the sizing reserves for sockets, jars and
#: the JVM (below it a broker runs out of descriptors before it opens a single segment).
MIN_NOFILE = sizing.CONNECTION_FDS

_SYSCTL_NAME = re.compile(r"(vm|net|fs|kernel)(\.[A-Za-z0-9_-]+)+")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
# Sysctls the sizing computes as integers: an override must be an integer too.
_INTEGER_SYSCTLS = frozenset(
    {name for name, setting in sizing.KERNEL_SYSCTLS.items() if is_int(setting["value"])} | {"vm.max_map_count"}
)


@dataclass(frozen=True)
class HostSettings:
    """A validated ``kafka_host:`` pillar. Build it with :meth:`from_pillar`."""

    service_manager: str = DEFAULTS["service_manager"]
    nofile: int = None  # None -> sized
    apply_live: bool = DEFAULTS["kernel_tuning"]["apply_live"]
    sysctl: dict = field(default_factory=dict)  # name -> value; None keeps the sized value

    @classmethod
    def from_pillar(cls, pillar):
        """Validate ``pillar["kafka_host"]`` (``pillar`` is a minion's whole pillar) and build the
        settings. Raises :class:`PillarErrors` listing every problem with its full key."""
        section = pillar.get(PILLAR_ROOT) if isinstance(pillar, Mapping) else None
        return _validate(section)

    def sizing_overrides(self):
        """The overrides :func:`kafkasalt.ops.sizing.recommend` takes from this section."""
        overrides = dict(self.sysctl)
        overrides["nofile"] = self.nofile
        return overrides


def minion_errors(pillars_by_minion):
    """Every ``kafka_host`` problem of the given minions' pillars (``{minion: pillar}``), as a
    list of :class:`PillarError`: one per key and message, naming the minions that have it."""
    seen = {}
    for minion in sorted(pillars_by_minion, key=str):
        try:
            HostSettings.from_pillar(pillars_by_minion[minion])
        except PillarErrors as exc:
            for error in exc.errors:
                seen.setdefault((error.key, error.message), []).append(str(minion))
    return [PillarError(key, f"{message} (on {', '.join(minions)})") for (key, message), minions in seen.items()]


def _validate(section):
    v = Collector(PILLAR_ROOT)
    if section is None:
        section = {}
    if not isinstance(section, Mapping):
        v.fail(f"expected a mapping with {', '.join(DEFAULTS)}, got {type_name(section)}")
    for name in section:
        if name not in DEFAULTS:
            hint = did_you_mean(name, DEFAULTS) or f" (known keys: {', '.join(DEFAULTS)})"
            v.error(v.key(name), f"unknown key{hint}")

    manager = section.get("service_manager")
    if manager is None:
        manager = DEFAULTS["service_manager"]
    elif manager not in MANAGERS:
        hint = did_you_mean(manager, MANAGERS) if isinstance(manager, str) else ""
        v.error(v.key("service_manager"), f"expected one of {', '.join(MANAGERS)}, got {manager!r}{hint}")
        manager = None

    tuning = section.get("kernel_tuning")
    if tuning is None:
        tuning = {}
    if not isinstance(tuning, Mapping):
        v.error(v.key("kernel_tuning"), f"expected a mapping with apply_live and sysctl, got {type_name(tuning)}")
        tuning = {}
    known = DEFAULTS["kernel_tuning"]
    for name in tuning:
        if name not in known:
            hint = did_you_mean(name, known)
            if not hint and isinstance(name, str) and _SYSCTL_NAME.fullmatch(name):
                hint = f" (sysctl settings go under {v.key('kernel_tuning', 'sysctl')})"
            v.error(v.key("kernel_tuning", name), f"unknown key{hint or ' (known keys: ' + ', '.join(known) + ')'}")
    apply_live = tuning.get("apply_live")
    if apply_live is None:
        apply_live = known["apply_live"]
    elif not isinstance(apply_live, bool):
        v.error(v.key("kernel_tuning", "apply_live"), f"expected true or false (unquoted), got {apply_live!r}")
        apply_live = None
    sysctl = _sysctl(v, tuning.get("sysctl"))
    nofile = _nofile(v, section.get("nofile"), sysctl)

    v.raise_errors()
    return HostSettings(service_manager=manager, nofile=nofile, apply_live=apply_live, sysctl=sysctl)


def _sysctl(v, value):
    key = v.key("kernel_tuning", "sysctl")
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        v.error(key, f"expected a mapping of sysctl name -> value (e.g. vm.swappiness: 1), got {type_name(value)}")
        return {}
    valid = {}
    for name, item in value.items():
        item_key = f"{key}:{name}"
        if not isinstance(name, str) or not _SYSCTL_NAME.fullmatch(name):
            v.error(item_key, "expected a sysctl name with dots, starting with vm., net., fs. or kernel. "
                              "(as in /etc/sysctl.d, e.g. vm.swappiness)")
            continue
        if item is None:
            valid[name] = None  # keep the sized value
        elif isinstance(item, bool) or not isinstance(item, (int, str)):
            v.error(item_key, f"expected an integer or a one-line string, got {type_name(item)} {item!r}")
        elif isinstance(item, int) and item < 0:
            v.error(item_key, f"expected an integer >= 0 (quote a negative value: '{item}'), got {item}")
        elif isinstance(item, str) and (not item.strip() or _CONTROL_CHARS.search(item)):
            v.error(item_key, f"expected a non-empty one-line value, got {item!r}")
        elif isinstance(item, str) and name in _INTEGER_SYSCTLS:
            v.error(item_key, f"expected an unquoted integer >= 0 (the sizing computes {name} as one), got {item!r}")
        else:
            valid[name] = item
    return valid


def _nofile(v, value, sysctl):
    key = v.key("nofile")
    if value is None:
        return None
    nr_open = sysctl.get("fs.nr_open")
    nr_open = nr_open if is_int(nr_open) else sizing.NR_OPEN_DEFAULT
    if not is_int(value):
        v.error(key, f"expected an integer from {MIN_NOFILE} to {nr_open} (fs.nr_open), or null to size it, "
                     f"got {value!r}")
        return None
    if value < MIN_NOFILE:
        v.error(key, f"{value} is below {MIN_NOFILE}, the descriptors sockets, jars and the JVM need before any "
                     f"partition (null sizes it: at least {sizing.NOFILE_FLOOR})")
        return None
    if value > nr_open:
        v.error(key, f"{value} is above fs.nr_open ({nr_open}): the kernel refuses the limit and the service "
                     "does not start (raise kafka_host:kernel_tuning:sysctl:fs.nr_open first)")
        return None
    return value


__all__ = ["DEFAULTS", "MIN_NOFILE", "HostSettings", "minion_errors"]

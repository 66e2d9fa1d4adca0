"""Sizing recommendations for a Kafka broker and/or ZooKeeper host, from its hardware facts.

``recommend(hardware, expected_partitions, role, overrides)`` takes the dict returned by
``kafkasalt.ops.hardware.collect()`` (the ``kafka_hardware`` grain) and returns one flat
dict: every recommendation under its own key, plus the summary keys::

    {"broker_heap_mb": {"value": 6144, "why": "<one line>", "kind": "heap", "source": "computed"},
     "log.dirs": {"value": ["/data/d1/kafka-logs", ...], ...},
     "vm.swappiness": {"value": 1, ...},
     ...
     "role": "broker",
     "expected_partitions": 1000,
     "inputs": {...the hardware figures the rules used...},
     "sysctl": {key: value},             # every kind == "sysctl" item, for /etc/sysctl.d
     "server_properties": {key: value},  # broker roles; log.dirs joined with commas
     "limits": {"nofile": int},
     "warnings": [str]}

so ``recommend(hw, role="zookeeper")["zookeeper_heap_mb"]["value"]`` is the ZooKeeper
heap; ``recommendation_items(result)`` returns the items without the summary keys.

``kind`` is one of heap, server_property, sysctl, limit, throttle; ``source`` is
``computed``, ``default`` (the hardware figure was unknown) or ``override``.

The rules (every constant lives in the tables below, nowhere else):

* Heaps: a fraction of RAM, clamped; the rest of RAM is left to the page cache, which
  is what serves Kafka's reads. Broker 25% of RAM within 512 MiB..6 GiB; ZooKeeper
  1/8 of RAM within 256 MiB..2 GiB. Unknown RAM -> the upstream start scripts' heap.
* Threads from cores (physical cores, else logical): ``num.network.threads`` = half
  the cores within 3..16; ``num.io.threads`` = max(cores, 2 x data dirs) within 8..64;
  ``num.recovery.threads.per.data.dir`` = cores / data dirs within 1..8 (so recovery
  after an unclean stop uses every core once). Unknown cores -> Kafka's defaults.
* ``log.dirs``: one ``<mountpoint>/kafka-logs`` per data disk. A data disk is a disk
  (or dm/md volume) that is not the OS disk (none of its physical disks carries a
  system mount such as ``/``, ``/boot`` or ``/var``) and has a writable xfs, ext4, ext3
  or btrfs mount; the first such mount of each disk is used. With no data disk the
  log dir is ``/var/lib/kafka/data`` on the OS disk.
* ``vm.max_map_count``: each segment memory-maps 2 indexes (offset, time); assume 2
  segments per partition and 2x headroom -> 8 maps per partition, never below 262144.
* ``nofile``: 2 segments x 3 files (.log, .index, .timeindex) per partition with 2x
  headroom plus 10000 for connections and the JVM, never below 128000.
  ``expected_partitions`` is the number of partition replicas this broker may host;
  passing the cluster-wide count over-estimates safely.
* Replication throttle: 30% of the slowest up, physical, non-loopback NIC; unknown
  speed -> a 1 Gb/s link is assumed (37.5 MB/s), conservative for any server NIC.
* Kernel settings (seed 000 list): page-cache and socket-buffer sysctls; socket buffer
  maxima and the input backlog grow when the fastest NIC is 10 Gb/s or more.

``overrides`` maps recommendation keys to operator values (None = keep computed).
Keys that look like sysctls (``vm.``, ``net.``, ``fs.``, ``kernel.``) may also be new
keys; they are added to ``sysctl``. Overrides of keys the role does not produce are
ignored, so one override dict can serve broker and ZooKeeper hosts.
"""

import math
from collections.abc import Mapping

from kafkasalt.ops.hardware import natural_key

MiB = 1024**2
ROLES = ("broker", "zookeeper", "both")
BROKER_ROLES = ("broker", "both")
ZOOKEEPER_ROLES = ("zookeeper", "both")

# Heap rules. unknown_mb: heap of the upstream start scripts (kafka-server-start.sh -Xmx1G,
# zkEnv.sh ZK_SERVER_HEAP=1000), used when RAM is unknown.
HEAP_RULES = {
    "broker_heap_mb": {"service": "Kafka", "percent": 25, "min_mb": 512, "max_mb": 6144, "unknown_mb": 1024},
    "zookeeper_heap_mb": {"service": "ZooKeeper", "percent": 12.5, "min_mb": 256, "max_mb": 2048, "unknown_mb": 1000},
}
HEAP_SHARE_WARNING_PERCENT = 50  # above this the page cache is starved

# Thread rules. default: Kafka's own default, used when the core count is unknown.
THREAD_RULES = {
    "num.network.threads": {"min": 3, "max": 16, "default": 3},
    "num.io.threads": {"min": 8, "max": 64, "default": 8},
    "num.recovery.threads.per.data.dir": {"min": 1, "max": 8, "default": 1},
}

# Data disk selection.
SYSTEM_MOUNTPOINTS = frozenset(
    # /mnt: where clouds put ephemeral instance disks, lost on stop
    {"/", "/boot", "/boot/efi", "/usr", "/var", "/var/log", "/var/tmp", "/home", "/tmp", "/opt", "/mnt"}
)
SYSTEM_MOUNT_PREFIXES = ("/boot/", "/media/", "/run/", "/snap/")
DATA_FILESYSTEMS = frozenset({"xfs", "ext4", "ext3", "btrfs"})
LOG_DIR_NAME = "kafka-logs"
FALLBACK_LOG_DIR = "/var/lib/kafka/data"

# Partition-driven limits.
SEGMENTS_PER_PARTITION = 2  # the active segment plus one rolled; older indexes load lazily
MAPS_PER_SEGMENT = 2  # offset index + time index are memory-mapped
FILES_PER_SEGMENT = 3  # .log, .index, .timeindex, counted as open to stay conservative
PARTITION_HEADROOM = 2
MAX_MAP_COUNT_FLOOR = 262144
NOFILE_FLOOR = 128000
CONNECTION_FDS = 10000  # client and replica sockets, jars, the JVM itself
NR_OPEN_DEFAULT = 1048576  # fs.nr_open: the kernel refuses a larger nofile limit unless raised first
# The most partition replicas one broker may be sized for: beyond it the sized nofile exceeds
# fs.nr_open and the service would not start.
MAX_EXPECTED_PARTITIONS = (NR_OPEN_DEFAULT - CONNECTION_FDS) // (
    SEGMENTS_PER_PARTITION * FILES_PER_SEGMENT * PARTITION_HEADROOM)


def expected_partitions_problem(value):
    """Why ``value`` cannot be ``kafka:expected_partitions`` (``None`` when it can): the one rule
    the pillar validator and the execution module share."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"expected an integer from 1 to {MAX_EXPECTED_PARTITIONS}, got {value!r}"
    if not 1 <= value <= MAX_EXPECTED_PARTITIONS:
        return (f"must be from 1 to {MAX_EXPECTED_PARTITIONS} (more partition replicas per broker would "
                f"need a nofile limit above the kernel's fs.nr_open {NR_OPEN_DEFAULT}), got {value}")
    return None

# Network.
THROTTLE_LINK_PERCENT = 30
ASSUMED_LINK_MBPS = 1000
FAST_LINK_MBPS = 10000

# Kernel settings from seed 000. fast_link_value applies when the fastest NIC >= FAST_LINK_MBPS.
KERNEL_SYSCTLS = {
    "vm.swappiness": {
        "value": 1,
        "why": "keep heap and page cache out of swap; 1, not 0, so the kernel swaps a little instead of OOM-killing",
    },
    "vm.dirty_ratio": {
        "value": 80,
        "why": "let the page cache absorb write bursts before writers block: fewer, larger flushes",
    },
    "vm.dirty_background_ratio": {
        "value": 5,
        "why": "start background flushing early so dirty pages never build up to the blocking limit",
    },
    "net.core.rmem_default": {"value": 131072, "why": "128 KiB receive buffer for sockets that do not size their own"},
    "net.core.wmem_default": {"value": 131072, "why": "128 KiB send buffer for sockets that do not size their own"},
    "net.core.rmem_max": {
        "value": 2097152,
        "fast_link_value": 16777216,
        "why": "ceiling for socket.receive.buffer.bytes and TCP autotuning",
    },
    "net.core.wmem_max": {
        "value": 2097152,
        "fast_link_value": 16777216,
        "why": "ceiling for socket.send.buffer.bytes and TCP autotuning",
    },
    "net.ipv4.tcp_rmem": {
        "value": "4096 65536 2097152",
        "fast_link_value": "4096 65536 16777216",
        "why": "min/default/max TCP receive buffer, max matching net.core.rmem_max",
    },
    "net.ipv4.tcp_wmem": {
        "value": "4096 65536 2097152",
        "fast_link_value": "4096 65536 16777216",
        "why": "min/default/max TCP send buffer, max matching net.core.wmem_max",
    },
    "net.ipv4.tcp_window_scaling": {"value": 1, "why": "TCP windows above 64 KiB, needed to use the buffers above"},
    "net.ipv4.tcp_max_syn_backlog": {
        "value": 4096,
        "why": "absorb reconnect storms after a broker restart (kernel default 128-1024)",
    },
    "net.core.netdev_max_backlog": {
        "value": 5000,
        "fast_link_value": 30000,
        "why": "packets queued on the input side before drops during bursts (kernel default 1000)",
    },
}
SYSCTL_PREFIXES = ("vm.", "net.", "fs.", "kernel.")

SUMMARY_KEYS = frozenset(
    {"role", "expected_partitions", "inputs", "sysctl", "server_properties", "limits", "warnings"}
)
KNOWN_KEYS = frozenset(
    set(HEAP_RULES)
    | set(THREAD_RULES)
    | set(KERNEL_SYSCTLS)
    | {"log.dirs", "vm.max_map_count", "nofile", "replication_throttle_bytes_per_sec"}
)


def recommend(hardware, expected_partitions=1000, role="broker", overrides=None):
    """Recommended heaps, threads, log dirs, limits and kernel settings for one host.

    ``hardware``: the dict from ``kafkasalt.ops.hardware.collect()``; ``expected_partitions``:
    partition replicas the broker may host (int >= 0); ``role``: broker, zookeeper or both;
    ``overrides``: operator values by recommendation key. Bad input raises ValueError
    naming the argument.
    """
    facts = _validated_hardware(hardware)
    if isinstance(expected_partitions, bool) or not isinstance(expected_partitions, int):
        raise ValueError(f"expected_partitions: expected an integer >= 0, got {expected_partitions!r}")
    if expected_partitions < 0:
        raise ValueError(f"expected_partitions: must be >= 0, got {expected_partitions}")
    if role not in ROLES:
        raise ValueError(f"role: expected one of {', '.join(ROLES)}, got {role!r}")
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ValueError(
            f"overrides: expected a mapping of recommendation key -> value, got {type(overrides).__name__}"
        )

    items = {}
    warnings = []
    data_mounts, data_disks = _data_mounts(facts["disks"])
    fastest, slowest = _link_speeds(facts["nics"])

    if role in BROKER_ROLES:
        items["broker_heap_mb"] = _heap(facts["mem_total_bytes"], "broker_heap_mb")
    if role in ZOOKEEPER_ROLES:
        items["zookeeper_heap_mb"] = _heap(facts["mem_total_bytes"], "zookeeper_heap_mb")
    if role in BROKER_ROLES:
        log_dirs = [f"{mountpoint.rstrip('/')}/{LOG_DIR_NAME}" for mountpoint in data_mounts] or [FALLBACK_LOG_DIR]
        operator_dirs = (overrides or {}).get("log.dirs")  # thread counts follow the dirs actually used
        if operator_dirs:
            log_dirs_used = _validated_override("log.dirs", operator_dirs, "server_property")
        else:
            log_dirs_used = log_dirs
        items.update(_threads(facts, len(log_dirs_used)))
        items["log.dirs"] = _log_dirs(log_dirs, data_disks, [] if operator_dirs else warnings)
        items["replication_throttle_bytes_per_sec"] = _throttle(slowest)
        items["vm.max_map_count"] = _max_map_count(expected_partitions)
    items["nofile"] = _nofile(expected_partitions if role in BROKER_ROLES else 0)
    items.update(_kernel_settings(fastest))

    _apply_overrides(items, overrides or {})
    _heap_share_warning(items, facts["mem_total_bytes"], warnings)

    server_properties = {
        key: ",".join(item["value"]) if key == "log.dirs" else item["value"]
        for key, item in items.items()
        if item["kind"] == "server_property"
    }
    summary = {
        "role": role,
        "expected_partitions": expected_partitions,
        "inputs": {
            "mem_total_bytes": facts["mem_total_bytes"],
            "cores": _cores(facts)[0],
            "data_disks": [disk.get("name") for disk in data_disks],
            "fastest_link_mbps": fastest[1] if fastest else None,
            "slowest_link_mbps": slowest[1] if slowest else None,
        },
        "sysctl": {key: item["value"] for key, item in items.items() if item["kind"] == "sysctl"},
        "server_properties": server_properties,
        "limits": {key: item["value"] for key, item in items.items() if item["kind"] == "limit"},
        "warnings": warnings,
    }
    return {**items, **summary}


def recommendation_items(result):
    """The ``{key: {"value", "why", "kind", "source"}}`` items of a ``recommend()`` result."""
    return {key: value for key, value in result.items() if key not in SUMMARY_KEYS}


# --- input checks ----------------------------------------------------------------


def _validated_hardware(hardware):
    if not isinstance(hardware, Mapping):
        raise ValueError(
            f"hardware: expected the dict from kafkasalt.ops.hardware.collect(), got {type(hardware).__name__}"
        )
    facts = {}
    for key in ("mem_total_bytes", "cpu_logical_cores", "cpu_physical_cores"):
        value = hardware.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ValueError(f"hardware[{key!r}]: expected an integer >= 0 or None, got {value!r}")
        facts[key] = value or None  # 0 means the kernel told us nothing useful
    for key in ("disks", "nics"):
        value = hardware.get(key) or []
        if not isinstance(value, (list, tuple)) or not all(isinstance(entry, Mapping) for entry in value):
            raise ValueError(f"hardware[{key!r}]: expected a list of dicts, got {value!r}")
        facts[key] = list(value)
    return facts


def _item(value, why, kind, source="computed"):
    return {"value": value, "why": why, "kind": kind, "source": source}


def _clamp(value, low, high):
    return max(low, min(high, value))


def _count(number, noun):
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _gib(num_bytes):
    return f"{num_bytes / 1024**3:.1f} GiB"


# --- heaps -------------------------------------------------------------------------


def _heap(mem_total_bytes, key):
    rule = HEAP_RULES[key]
    if mem_total_bytes is None:
        return _item(
            rule["unknown_mb"],
            f"RAM unknown: {rule['service']}'s own start-script heap of {rule['unknown_mb']} MiB",
            "heap",
            "default",
        )
    share_mb = int(mem_total_bytes * rule["percent"] / 100 // MiB)
    value = _clamp(share_mb, rule["min_mb"], rule["max_mb"])
    if value == share_mb:
        bound = ""
    elif value == rule["max_mb"]:
        bound = ", capped"
    else:
        bound = ", raised to the minimum"
    return _item(
        value,
        f"{rule['percent']:g}% of {_gib(mem_total_bytes)} RAM = {share_mb} MiB{bound} "
        f"(range {rule['min_mb']}-{rule['max_mb']} MiB); the rest of RAM stays page cache",
        "heap",
    )


def _heap_share_warning(items, mem_total_bytes, warnings):
    if mem_total_bytes is None:
        return
    heap_mb = sum(items[key]["value"] for key in HEAP_RULES if key in items)
    share = heap_mb * MiB * 100 / mem_total_bytes
    if share > HEAP_SHARE_WARNING_PERCENT:
        warnings.append(
            f"heaps total {heap_mb} MiB, {share:.0f}% of {_gib(mem_total_bytes)} RAM: little is left for the "
            "page cache; give this host more memory"
        )


# --- threads -------------------------------------------------------------------------


def _cores(facts):
    if facts["cpu_physical_cores"]:
        return facts["cpu_physical_cores"], "physical cores"
    if facts["cpu_logical_cores"]:
        return facts["cpu_logical_cores"], "logical cores (physical count unknown)"
    return None, None


def _threads(facts, data_dir_count):
    cores, what = _cores(facts)
    if cores is None:
        return {
            key: _item(rule["default"], "core count unknown: Kafka's default", "server_property", "default")
            for key, rule in THREAD_RULES.items()
        }
    network_rule = THREAD_RULES["num.network.threads"]
    io_rule = THREAD_RULES["num.io.threads"]
    recovery_rule = THREAD_RULES["num.recovery.threads.per.data.dir"]
    network = _clamp(math.ceil(cores / 2), network_rule["min"], network_rule["max"])
    io_threads = _clamp(max(cores, 2 * data_dir_count), io_rule["min"], io_rule["max"])
    recovery = _clamp(cores // data_dir_count, recovery_rule["min"], recovery_rule["max"])
    return {
        "num.network.threads": _item(
            network,
            f"half of {cores} {what}, within {network_rule['min']}-{network_rule['max']}: "
            "socket I/O threads, the rest of the CPU does request work",
            "server_property",
        ),
        "num.io.threads": _item(
            io_threads,
            f"max({cores} {what}, 2 x {_count(data_dir_count, 'log dir')}) within {io_rule['min']}-{io_rule['max']}: "
            "request handlers keep every core and disk busy",
            "server_property",
        ),
        "num.recovery.threads.per.data.dir": _item(
            recovery,
            f"{cores} {what} / {_count(data_dir_count, 'log dir')} "
            f"within {recovery_rule['min']}-{recovery_rule['max']}: "
            "log recovery after an unclean stop uses every core once",
            "server_property",
        ),
    }


# --- log dirs ------------------------------------------------------------------------


def _is_system_mount(mountpoint):
    if not isinstance(mountpoint, str):
        return False
    return mountpoint in SYSTEM_MOUNTPOINTS or mountpoint.startswith(SYSTEM_MOUNT_PREFIXES)


def _data_mounts(disks):
    """(mountpoints, disks) of the data disks: one writable data mount per disk off the OS disk."""
    os_disks = set()
    for disk in disks:
        if any(_is_system_mount(mount.get("mountpoint")) for mount in disk.get("mounts") or []):
            os_disks.update(disk.get("backing_disks") or [disk.get("name")])
    chosen = {}  # mountpoint -> disk
    used_backing = set()
    for disk in disks:
        backing = tuple(disk.get("backing_disks") or [disk.get("name")])
        if os_disks.intersection(backing) or backing in used_backing:
            continue  # shares the OS disk, or another volume of this disk is already a log dir
        for mount in disk.get("mounts") or []:
            mountpoint = mount.get("mountpoint")
            usable = (
                isinstance(mountpoint, str)
                and mountpoint.startswith("/")
                and mount.get("fstype") in DATA_FILESYSTEMS
                and not mount.get("read_only")
                and mountpoint not in chosen
            )
            if usable:
                chosen[mountpoint] = disk
                used_backing.add(backing)
                break
    mountpoints = sorted(chosen, key=natural_key)
    return mountpoints, [chosen[mountpoint] for mountpoint in mountpoints]


def _log_dirs(log_dirs, data_disks, warnings):
    if not data_disks:
        return _item(
            log_dirs,
            "no data disk besides the OS disk: one log dir on the OS disk",
            "server_property",
            "default",
        )
    kinds = {disk.get("rotational") for disk in data_disks}
    if True in kinds and False in kinds:
        warnings.append(
            "log.dirs mixes rotational and solid-state disks: partitions on the slow disks will lag; "
            "set kafka:log_dirs to one kind"
        )
    media = "SSD" if kinds == {False} else "HDD" if kinds == {True} else "mixed/unknown media"
    return _item(
        log_dirs,
        f"one log dir per data disk ({len(data_disks)} x {media}, OS disk excluded): "
        "Kafka spreads partitions over them",
        "server_property",
    )


# --- partition-driven limits -----------------------------------------------------------


def _max_map_count(partitions):
    needed = partitions * SEGMENTS_PER_PARTITION * MAPS_PER_SEGMENT * PARTITION_HEADROOM
    value = max(MAX_MAP_COUNT_FLOOR, needed)
    return _item(
        value,
        f"{partitions} partitions x {SEGMENTS_PER_PARTITION} segments x {MAPS_PER_SEGMENT} mmapped indexes "
        f"x {PARTITION_HEADROOM} headroom = {needed}, floor {MAX_MAP_COUNT_FLOOR} (kernel default 65530)",
        "sysctl",
    )


def _nofile(partitions):
    needed = partitions * SEGMENTS_PER_PARTITION * FILES_PER_SEGMENT * PARTITION_HEADROOM + CONNECTION_FDS
    value = max(NOFILE_FLOOR, needed)
    return _item(
        value,
        f"{partitions} partitions x {SEGMENTS_PER_PARTITION} segments x {FILES_PER_SEGMENT} files "
        f"x {PARTITION_HEADROOM} headroom + {CONNECTION_FDS} sockets = {needed}, floor {NOFILE_FLOOR}",
        "limit",
    )


# --- network -------------------------------------------------------------------------------


def _link_speeds(nics):
    """((name, mbps) of the fastest, (name, mbps) of the slowest) up, physical, non-loopback NIC."""
    candidates = []
    for nic in nics:
        speed = nic.get("speed_mbps")
        if (
            isinstance(speed, int)
            and not isinstance(speed, bool)
            and speed > 0
            and not nic.get("loopback")
            and nic.get("physical") is not False
            and nic.get("operstate") != "down"
        ):
            candidates.append((str(nic.get("name")), speed))
    if not candidates:
        return None, None
    return max(candidates, key=lambda nic: nic[1]), min(candidates, key=lambda nic: nic[1])


def _throttle(slowest):
    if slowest is None:
        value = ASSUMED_LINK_MBPS * 1_000_000 // 8 * THROTTLE_LINK_PERCENT // 100
        return _item(
            value,
            f"no NIC reports a link speed: assume {ASSUMED_LINK_MBPS} Mb/s, {THROTTLE_LINK_PERCENT}% = {value} B/s "
            "(conservative for any server NIC)",
            "throttle",
            "default",
        )
    name, speed = slowest
    value = speed * 1_000_000 // 8 * THROTTLE_LINK_PERCENT // 100
    return _item(
        value,
        f"{THROTTLE_LINK_PERCENT}% of the slowest NIC ({name}, {speed} Mb/s) = {value} B/s: "
        "reassignments leave the rest of the link to clients",
        "throttle",
    )


def _kernel_settings(fastest):
    fast = fastest is not None and fastest[1] >= FAST_LINK_MBPS
    items = {}
    for key, setting in KERNEL_SYSCTLS.items():
        if "fast_link_value" in setting:
            if fast:
                value = setting["fast_link_value"]
                why = f"{setting['why']}; sized for {fastest[1]} Mb/s ({fastest[0]})"
            else:
                value = setting["value"]
                why = f"{setting['why']}; sized for links below {FAST_LINK_MBPS} Mb/s"
        else:
            value, why = setting["value"], setting["why"]
        items[key] = _item(value, why, "sysctl")
    return items


# --- overrides -------------------------------------------------------------------------------


def _apply_overrides(items, overrides):
    for key, value in overrides.items():
        if value is None:
            continue  # pillar null: keep the computed value
        if key in items:
            kind = items[key]["kind"]
            items[key] = _item(
                _validated_override(key, value, kind),
                f"operator override (computed: {items[key]['value']!r})",
                kind,
                "override",
            )
        elif key in KNOWN_KEYS:
            continue  # produced for another role only
        elif isinstance(key, str) and key.startswith(SYSCTL_PREFIXES):
            items[key] = _item(_validated_override(key, value, "sysctl"), "operator override", "sysctl", "override")
        else:
            raise ValueError(
                f"overrides[{key!r}]: unknown key; expected one of {', '.join(sorted(KNOWN_KEYS))} "
                f"or a sysctl name starting with {', '.join(SYSCTL_PREFIXES)}"
            )


def _validated_override(key, value, kind):
    if key == "log.dirs":
        dirs = [part.strip() for part in value.split(",")] if isinstance(value, str) else value
        if (
            not isinstance(dirs, (list, tuple))
            or not dirs
            or not all(isinstance(path, str) and path.startswith("/") for path in dirs)
        ):
            raise ValueError(f"overrides['log.dirs']: expected a non-empty list of absolute paths, got {value!r}")
        return list(dirs)
    if kind == "sysctl" and isinstance(value, str):
        if not value.strip() or "\n" in value:
            raise ValueError(f"overrides[{key!r}]: expected a one-line sysctl value, got {value!r}")
        return value.strip()
    lowest = 0 if kind == "sysctl" else 1  # vm.swappiness=0 is a valid sysctl, a 0 MiB heap is not
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        raise ValueError(f"overrides[{key!r}]: expected an integer >= {lowest}, got {value!r}")
    return value

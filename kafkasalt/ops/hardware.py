"""Hardware facts for Kafka/ZooKeeper sizing, read from ``/proc`` and ``/sys`` only.

``collect(root)`` reads the live machine (``root="/"``) or a recorded tree laid out
like one (``<root>/proc/...``, ``<root>/sys/...``), so tests can feed real-looking
machines. It never raises: an entry that is missing, unreadable or garbled becomes
``None`` for that one field (or is left out of a list) and collection goes on.

Result shape::

    {"mem_total_bytes": int|None,
     "cpu_logical_cores": int|None,
     "cpu_physical_cores": int|None,
     "disks": [{"name", "size_bytes", "rotational", "ssd", "backing_disks",
                "mounts": [{"device", "mountpoint", "fstype", "read_only", "free_bytes"}]}],
     "nics": [{"name", "speed_mbps", "mtu", "operstate", "loopback", "physical",
               "addresses": [...]}]}

Decisions (the sizing in ``kafkasalt.ops.sizing`` relies on them):

* CPU: logical cores are the ``processor`` entries of ``/proc/cpuinfo`` (else the
  ``online`` list in ``/sys/devices/system/cpu``). Physical cores are distinct
  ``(physical id, core id)`` pairs from ``/proc/cpuinfo``; when any processor lacks
  them (ARM, s390) the pairs come from ``/sys/devices/system/cpu/cpuN/topology``.
* Disks: every ``/sys/block`` entry except ``loop*`` (file-backed), ``ram*`` and
  ``zram*`` (memory-backed), ``fd*`` (floppy), ``sr*`` (optical) and devices of size 0
  (no medium, unattached nbd). Device-mapper (``dm-*``: LVM, LUKS) and md RAID
  devices are listed as disks of their own because that is where filesystems live;
  ``backing_disks`` names the physical disks under them (empty for a physical disk)
  so sizing can tell whether a volume shares the OS disk.
* ``rotational`` comes from ``queue/rotational``; ``ssd`` is True for a
  non-rotational or NVMe device, False for a rotational one, None when unknown.
* Mounts come from ``/proc/self/mountinfo`` (its major:minor numbers match a mount to
  its disk even for ``/dev/root``), else ``/proc/mounts``, else ``/proc/self/mounts``
  (device names: ``/dev/sda1``, ``/dev/mapper/<name>``, ``/dev/dm-N``). Only mounts of
  the listed disks are reported, so network filesystems are never touched.
* Free bytes (``f_bavail * f_frsize``, what the non-root ``kafka`` user may use) come
  from the ``statvfs`` callable; by default ``os.statvfs`` on the live machine and,
  for a recorded tree, ``<root>/statvfs.json`` mapping mountpoint -> free bytes.
* NICs: every directory in ``/sys/class/net``. ``lo`` is kept and marked
  ``loopback=True``; ``physical`` is True when the interface has a ``device`` link (a
  real or paravirtual NIC, not a bridge, bond, VLAN or veth). ``speed_mbps`` is None
  when ``speed`` is unreadable (EINVAL on virtual and wireless NICs), garbled, or
  ``-1``/``4294967295`` (no link).
* Addresses: IPv4 from the ``/32 host LOCAL`` entries of ``/proc/net/fib_trie``,
  assigned to an interface through the longest matching gateway-less route in
  ``/proc/net/route``; 127/8 goes to the loopback interface. An IPv4 address without
  such a route (a bare /32) belongs to no NIC and is left out. IPv6 comes from
  ``/proc/net/if_inet6``, which names the interface itself.
"""

import ipaddress
import json
import logging
import os
import re
import sys

log = logging.getLogger(__name__)

SECTOR_BYTES = 512  # /sys/block/*/size is always in 512-byte sectors
SKIPPED_DISK_PREFIXES = ("loop", "ram", "zram", "fd", "sr")
ARPHRD_LOOPBACK = 772  # /sys/class/net/*/type of a loopback interface
SPEED_UNKNOWN = 0xFFFFFFFF  # older kernels print -1 as an unsigned 32-bit value
RTF_UP = 0x1
RTF_GATEWAY = 0x2
STATVFS_FILE = "statvfs.json"


def collect(root="/", statvfs=None):
    """Return the hardware facts of the machine (or recorded tree) at ``root``.

    ``statvfs`` is a callable taking a mountpoint and returning either an
    ``os.statvfs_result``-like object or the free bytes as an int; see the module
    docstring for the defaults. Never raises.
    """
    facts = {
        "mem_total_bytes": None,
        "cpu_logical_cores": None,
        "cpu_physical_cores": None,
        "disks": [],
        "nics": [],
    }
    facts["mem_total_bytes"] = _guarded(_mem_total_bytes, None, root)
    logical, physical = _guarded(_cpu_counts, (None, None), root)
    facts["cpu_logical_cores"] = logical
    facts["cpu_physical_cores"] = physical
    facts["disks"] = _guarded(_disks, [], root, _free_bytes_reader(root, statvfs))
    facts["nics"] = _guarded(_nics, [], root)
    return facts


def _guarded(function, fallback, *args):
    """Run one collection step; any failure leaves ``fallback`` and is logged at debug."""
    try:
        return function(*args)
    except Exception:  # pylint: disable=broad-except  # a fact source must never break the caller
        log.debug("hardware: %s failed", function.__name__, exc_info=True)
        return fallback


# --- small readers ---------------------------------------------------------------


def _path(root, *parts):
    return os.path.join(root, *parts)


def _read_text(path):
    """File content, or None when missing, a directory, a broken link or unreadable."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except (OSError, ValueError):
        return None


def _read_line(path):
    text = _read_text(path)
    if text is None:
        return None
    text = text.strip()
    return text or None


def _read_int(path):
    text = _read_line(path)
    if text is None:
        return None
    try:
        return int(text, 0) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


def _list_dir(path):
    try:
        return os.listdir(path)
    except OSError:
        return []


def natural_key(name):
    """Sort key putting ``sdb`` < ``sdj`` and ``d2`` < ``d10`` (digits compared as numbers)."""
    return [int(part) if index % 2 else part for index, part in enumerate(re.split(r"(\d+)", name))]


def _is_live_root(root):
    try:
        return os.path.realpath(root) == "/"
    except (OSError, ValueError):
        return False


# --- memory and CPU ----------------------------------------------------------------


def _mem_total_bytes(root):
    text = _read_text(_path(root, "proc", "meminfo"))
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "MemTotal:":
            unit = fields[2].lower() if len(fields) > 2 else "kb"
            multiplier = {"kb": 1024, "b": 1}.get(unit)
            value = int(fields[1])
            return value * multiplier if multiplier and value > 0 else None
    return None


def _cpu_counts(root):
    logical, physical = _cpuinfo_counts(_read_text(_path(root, "proc", "cpuinfo")))
    cpu_dir = _path(root, "sys", "devices", "system", "cpu")
    if logical is None:
        logical = _sysfs_online_count(cpu_dir)
    if physical is None:
        physical = _sysfs_physical_cores(cpu_dir)
    return logical, physical


def _cpuinfo_counts(text):
    """(logical, physical) from /proc/cpuinfo; physical is None unless every processor has its ids."""
    if not text:
        return None, None
    processors = 0
    pairs = set()
    complete = True
    for block in re.split(r"\n\s*\n", text):
        fields = {}
        for line in block.splitlines():
            key, separator, value = line.partition(":")
            if separator:
                fields[key.strip()] = value.strip()
        if "processor" not in fields or not fields["processor"].isdigit():
            continue  # s390 and some ARM kernels add blocks that are not processors
        processors += 1
        if "physical id" in fields and "core id" in fields:
            pairs.add((fields["physical id"], fields["core id"]))
        else:
            complete = False
    if not processors:
        return None, None
    return processors, (len(pairs) if complete and pairs else None)


def _sysfs_online_count(cpu_dir):
    online = _read_line(_path(cpu_dir, "online"))
    if online:
        try:
            return _range_list_length(online)
        except ValueError:
            pass
    count = sum(1 for entry in _list_dir(cpu_dir) if re.fullmatch(r"cpu\d+", entry))
    return count or None


def _range_list_length(text):
    """Length of a kernel cpu list such as ``0-3,8-11``."""
    total = 0
    for part in text.split(","):
        first, _, last = part.partition("-")
        total += (int(last) - int(first) + 1) if last else 1
    return total


def _sysfs_physical_cores(cpu_dir):
    pairs = set()
    for entry in _list_dir(cpu_dir):
        if not re.fullmatch(r"cpu\d+", entry):
            continue
        package = _read_int(_path(cpu_dir, entry, "topology", "physical_package_id"))
        core = _read_int(_path(cpu_dir, entry, "topology", "core_id"))
        if package is not None and core is not None:
            pairs.add((package, core))
    return len(pairs) or None


# --- disks and mounts ----------------------------------------------------------------


def _disks(root, free_bytes):
    block_dir = _path(root, "sys", "block")
    devices = {}  # name -> facts being built
    partition_parent = {}  # partition name -> disk name
    aliases = {}  # "sda1", "mapper/vg-data", "254:0" ... -> disk name
    slaves = {}  # disk name -> names of the block devices under it (dm, md)
    for name in sorted(_list_dir(block_dir), key=natural_key):
        if name.startswith(SKIPPED_DISK_PREFIXES):
            continue
        base = _path(block_dir, name)
        sectors = _read_int(_path(base, "size"))
        size_bytes = sectors * SECTOR_BYTES if sectors is not None and sectors >= 0 else None
        if size_bytes == 0:
            continue  # no medium
        rotational_flag = _read_int(_path(base, "queue", "rotational"))
        rotational = {0: False, 1: True}.get(rotational_flag)
        if name.startswith("nvme") or rotational is False:
            ssd = True
        else:
            ssd = False if rotational else None
        devices[name] = {
            "name": name,
            "size_bytes": size_bytes,
            "rotational": rotational,
            "ssd": ssd,
            "backing_disks": [],
            "mounts": [],
        }
        aliases[name] = name
        device_number = _read_line(_path(base, "dev"))
        if device_number:
            aliases[device_number] = name
        mapper_name = _read_line(_path(base, "dm", "name"))
        if mapper_name:
            aliases["mapper/" + mapper_name] = name
        for entry in _list_dir(base):
            if entry.startswith(name) and os.path.isfile(_path(base, entry, "partition")):
                partition_parent[entry] = name
                aliases[entry] = name
                partition_number = _read_line(_path(base, entry, "dev"))
                if partition_number:
                    aliases[partition_number] = name
        slaves[name] = sorted(_list_dir(_path(base, "slaves")), key=natural_key)

    for name, facts in devices.items():
        if slaves.get(name):
            facts["backing_disks"] = sorted(
                _physical_disks(name, slaves, partition_parent, set()), key=natural_key
            )

    live = _is_live_root(root)
    for mount in _mounts(root):
        disk_name = _disk_of_mount(mount, aliases, live)
        if disk_name is None:
            continue
        devices[disk_name]["mounts"].append(
            {
                "device": mount["device"],
                "mountpoint": mount["mountpoint"],
                "fstype": mount["fstype"],
                "read_only": mount["read_only"],
                "free_bytes": free_bytes(mount["mountpoint"]),
            }
        )
    return list(devices.values())


def _physical_disks(name, slaves, partition_parent, seen):
    """The physical disks under a (possibly stacked) dm/md device."""
    if name in seen:
        return set()
    seen.add(name)
    name = partition_parent.get(name, name)
    below = slaves.get(name)
    if not below:
        return {name}
    found = set()
    for slave in below:
        found |= _physical_disks(slave, slaves, partition_parent, seen)
    return found


def _disk_of_mount(mount, aliases, live):
    number = mount.get("device_number")
    if number and not number.startswith("0:") and number in aliases:
        return aliases[number]  # major 0 = anonymous device (btrfs, overlay, tmpfs)
    device = mount["device"]
    if not device.startswith("/dev/"):
        return None
    found = aliases.get(device[len("/dev/"):])
    if found is None and live:
        try:  # /dev/disk/by-uuid/... and other links, only meaningful on the live machine
            found = aliases.get(os.path.basename(os.path.realpath(device)))
        except (OSError, ValueError):
            found = None
    return found


def _mounts(root):
    """Mount table entries: device, mountpoint, fstype, read_only, device_number (or None)."""
    text = _read_text(_path(root, "proc", "self", "mountinfo"))
    if text:
        return [mount for mount in map(_parse_mountinfo_line, text.splitlines()) if mount]
    for relative in (("proc", "mounts"), ("proc", "self", "mounts")):
        text = _read_text(_path(root, *relative))
        if text:
            return [mount for mount in map(_parse_mounts_line, text.splitlines()) if mount]
    return []


def _parse_mountinfo_line(line):
    # 27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
    left, separator, right = line.partition(" - ")
    left_fields, right_fields = left.split(), right.split()
    if not separator or len(left_fields) < 6 or len(right_fields) < 2:
        return None
    return {
        "device": _unescape(right_fields[1]),
        "mountpoint": _unescape(left_fields[4]),
        "fstype": right_fields[0],
        "read_only": "ro" in left_fields[5].split(","),
        "device_number": left_fields[2],
    }


def _parse_mounts_line(line):
    # /dev/vda / ext4 rw,relatime 0 0
    fields = line.split()
    if len(fields) < 4:
        return None
    return {
        "device": _unescape(fields[0]),
        "mountpoint": _unescape(fields[1]),
        "fstype": fields[2],
        "read_only": "ro" in fields[3].split(","),
        "device_number": None,
    }


def _unescape(field):
    """Undo the kernel's octal escapes in mount tables (``\\040`` is a space)."""
    return re.sub(r"\\([0-7]{3})", lambda match: chr(int(match.group(1), 8)), field)


def _free_bytes_reader(root, statvfs):
    """A function mountpoint -> free bytes (or None), from the injected or default source."""
    if statvfs is None and _is_live_root(root):
        statvfs = os.statvfs
    if statvfs is None:
        recorded = _recorded_free_bytes(root)
        statvfs = recorded.get

    def free_bytes(mountpoint):
        try:
            result = statvfs(mountpoint)
            if isinstance(result, bool):
                return None
            if isinstance(result, int):
                return result if result >= 0 else None
            if result is None:
                return None
            return int(result.f_bavail) * int(result.f_frsize)
        except Exception:  # pylint: disable=broad-except  # one bad mount must not stop collection
            log.debug("hardware: free space of %s unknown", mountpoint, exc_info=True)
            return None

    return free_bytes


def _recorded_free_bytes(root):
    text = _read_text(_path(root, STATVFS_FILE))
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# --- network interfaces --------------------------------------------------------------


def _nics(root):
    net_dir = _path(root, "sys", "class", "net")
    names = [name for name in _list_dir(net_dir) if os.path.isdir(_path(net_dir, name))]
    nics = []
    for name in sorted(names, key=natural_key):
        base = _path(net_dir, name)
        speed = _read_int(_path(base, "speed"))
        mtu = _read_int(_path(base, "mtu"))
        link_type = _read_int(_path(base, "type"))
        nics.append(
            {
                "name": name,
                "speed_mbps": speed if speed is not None and 0 < speed < SPEED_UNKNOWN else None,
                "mtu": mtu if mtu is not None and mtu > 0 else None,
                "operstate": _read_line(_path(base, "operstate")),
                "loopback": link_type == ARPHRD_LOOPBACK if link_type is not None else name == "lo",
                "physical": os.path.exists(_path(base, "device")),
                "addresses": [],
            }
        )
    by_name = {nic["name"]: nic for nic in nics}
    loopbacks = [nic["name"] for nic in nics if nic["loopback"]]
    ipv4 = _guarded(_ipv4_addresses, {}, root, loopbacks)
    ipv6 = _guarded(_ipv6_addresses, {}, root)
    for source in (ipv4, ipv6):
        for name, addresses in source.items():
            if name in by_name:
                by_name[name]["addresses"].extend(addresses)
    return nics


def _ipv4_addresses(root, loopbacks):
    """Interface name -> IPv4 addresses, from fib_trie local entries and connected routes."""
    local = _fib_trie_local_addresses(_read_text(_path(root, "proc", "net", "fib_trie")) or "")
    routes = _connected_routes(_read_text(_path(root, "proc", "net", "route")) or "")
    assigned = {}
    for address in local:
        interface = None
        if address.is_loopback:
            interface = loopbacks[0] if loopbacks else None
        else:
            matches = [(network.prefixlen, name) for network, name in routes if address in network]
            if matches:
                interface = max(matches, key=lambda match: match[0])[1]
        if interface is not None:
            assigned.setdefault(interface, []).append(str(address))
    return assigned


def _fib_trie_local_addresses(text):
    addresses = []
    current = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|--"):
            current = stripped[3:].strip()
        elif stripped.startswith("+--") or stripped.endswith(":"):
            current = None  # a subtree header or the start of another table
        elif current is not None:
            fields = stripped.split()
            if len(fields) >= 3 and fields[0] == "/32" and fields[-1] == "LOCAL":
                try:
                    address = ipaddress.IPv4Address(current)
                except ValueError:
                    continue
                if address not in addresses:
                    addresses.append(address)
    return addresses


def _connected_routes(text):
    """(network, interface) for routes without a gateway, i.e. the interface's own subnets."""
    routes = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            destination = _route_hex_to_address(fields[1])
            gateway = int(fields[2], 16)
            flags = int(fields[3], 16)
            mask = _route_hex_to_address(fields[7])
            network = ipaddress.IPv4Network(f"{destination}/{mask}", strict=False)
        except ValueError:
            continue
        if flags & RTF_UP and not flags & RTF_GATEWAY and gateway == 0 and network.prefixlen:
            routes.append((network, fields[0]))
    return routes


def _route_hex_to_address(text):
    # /proc/net/route prints the network-order word as a host-order hex number
    return ipaddress.IPv4Address(int(text, 16).to_bytes(4, sys.byteorder))


def _ipv6_addresses(root):
    """Interface name -> IPv6 addresses, from /proc/net/if_inet6."""
    assigned = {}
    text = _read_text(_path(root, "proc", "net", "if_inet6")) or ""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 6:
            continue
        try:
            address = ipaddress.IPv6Address(int(fields[0], 16))
        except ValueError:
            continue
        assigned.setdefault(fields[5], []).append(str(address))
    return assigned

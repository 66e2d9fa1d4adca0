"""Inputs of the rebalance planner: validation, and Kafka's reassignment JSON in and out.

Everything the planner is given passes through :func:`normalize`, which raises
:class:`PlanError` (a ``ValueError``) naming the argument at fault, so the CLI and the Salt
runner can report it as ``--racks: ...`` or ``racks: ...``.
"""

from dataclasses import dataclass

MIB = 1024 * 1024


class PlanError(ValueError):
    """Bad planner input. ``argument`` is the parameter at fault (``current``, ``brokers``,
    ``racks``, ``drain``, ``sizes``, ``throttle``); ``str()`` is ``"argument: message"``."""

    def __init__(self, argument, message):
        self.argument = argument
        self.message = message
        super().__init__(f"{argument}: {message}")


def partition_name(key):
    topic, partition = key
    return f"{topic}-{partition}"


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Cluster:
    """The normalized input: partitions in (topic, partition) order."""

    keys: tuple            # (topic, partition) per partition index
    replicas: tuple        # tuple of broker ids per partition index, preferred leader first
    targets: tuple         # brokers that keep or receive replicas, sorted
    drained: tuple         # brokers to empty (given in drain, or left off brokers... never: that is an error)
    racks: dict | None     # broker -> rack for every target broker (and any drained broker named)
    sizes: tuple | None    # bytes per partition index (one replica's size), None when unknown


def _check_key(key):
    if (not isinstance(key, tuple) or len(key) != 2 or not isinstance(key[0], str) or not key[0]
            or not _is_int(key[1]) or key[1] < 0):
        raise PlanError("current", f"{key!r} is not a (topic, partition) pair")


def _broker_ids(argument, values):
    if values is None:
        return []
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise PlanError(argument, f"expected a list of broker ids, got {values!r}")
    result = []
    for value in values:
        if not _is_int(value) or value < 0:
            raise PlanError(argument, f"{value!r} is not a broker id (a non-negative integer)")
        if value not in result:
            result.append(value)
    return result


def normalize(current, brokers, racks=None, drain=(), sizes=None):
    """Check the planner's inputs and return a :class:`Cluster`. Raises :class:`PlanError`."""
    if not isinstance(current, dict):
        raise PlanError("current", "expected a mapping of (topic, partition) to replica lists, "
                                   f"got {type(current).__name__}")
    keys = list(current)
    for key in keys:
        if type(key) is not tuple or len(key) != 2 or type(key[0]) is not str or type(key[1]) is not int:
            _check_key(key)
    for key in keys:
        if not key[0] or key[1] < 0:
            _check_key(key)
    keys.sort()
    replicas = []
    types = set()
    append = replicas.append
    for key in keys:
        value = current[key]
        if type(value) is not tuple:
            if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
                raise PlanError("current", f"{partition_name(key)}: replicas must be a list of broker ids, "
                                           f"got {value!r}")
            value = tuple(value)
        types.update(map(type, value))
        if len(set(value)) != len(value) or not value:
            if not value:
                raise PlanError("current", f"{partition_name(key)} has no replicas")
            twice = next(b for b in value if value.count(b) > 1)
            raise PlanError("current", f"{partition_name(key)} lists broker {twice} twice")
        append(value)
    holders = set().union(*replicas)
    if types - {int} or (holders and min(holders) < 0):
        for key, value in zip(keys, replicas):
            for broker in value:
                if type(broker) is not int or broker < 0:
                    raise PlanError("current", f"{partition_name(key)}: {broker!r} is not a broker id")

    listed = _broker_ids("brokers", brokers)
    if not listed:
        raise PlanError("brokers", "no brokers given")
    drained = _broker_ids("drain", drain)
    known = set(listed) | set(drained)
    for broker in drained:
        if broker not in listed and broker not in holders:
            raise PlanError("drain", f"broker {broker} is not in brokers and holds no replica")
    strays = sorted(b for b in holders if b not in known)
    if strays:
        example = partition_name(next(k for k, v in zip(keys, replicas) if strays[0] in v))
        raise PlanError("brokers", f"broker{'s' if len(strays) > 1 else ''} {', '.join(map(str, strays))} "
                                   f"hold{'' if len(strays) > 1 else 's'} replicas (e.g. {example}) but "
                                   f"{'are' if len(strays) > 1 else 'is'} neither listed nor drained")
    targets = tuple(sorted(b for b in listed if b not in set(drained)))
    if not targets:
        raise PlanError("drain", "drains every broker; at least one must stay")
    widest = max(range(len(keys)), key=lambda i: (len(replicas[i]), -i), default=None)
    if widest is not None and len(replicas[widest]) > len(targets):
        rf = len(replicas[widest])
        name = partition_name(keys[widest])
        if drained:
            raise PlanError("drain", f"draining {', '.join(map(str, sorted(drained)))} leaves {len(targets)} "
                                     f"broker{'s' if len(targets) != 1 else ''}, "
                                     f"fewer than the {rf} replicas of {name}")
        raise PlanError("brokers", f"{len(targets)} broker{'s' if len(targets) != 1 else ''} cannot hold "
                                   f"the {rf} replicas of {name}")

    rack_map = None
    if racks:
        if not isinstance(racks, dict):
            raise PlanError("racks", f"expected a mapping of broker id to rack, got {type(racks).__name__}")
        rack_map = {}
        for broker, rack in racks.items():
            if not _is_int(broker):
                raise PlanError("racks", f"{broker!r} is not a broker id")
            if broker not in known and broker not in holders:
                raise PlanError("racks", f"broker {broker} is not a known broker "
                                         f"(brokers: {', '.join(map(str, sorted(known)))})")
            if not isinstance(rack, str) or not rack:
                raise PlanError("racks", f"broker {broker}: rack must be a non-empty string, got {rack!r}")
            rack_map[broker] = rack
        missing = [b for b in targets if b not in rack_map]
        if missing:
            raise PlanError("racks", f"broker{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))} "
                                     f"{'have' if len(missing) > 1 else 'has'} no rack; "
                                     "give every broker a rack, or none")

    size_list = None
    if sizes is not None:
        if not isinstance(sizes, dict):
            raise PlanError("sizes", f"expected a mapping of (topic, partition) to bytes, got {type(sizes).__name__}")
        size_list = []
        for key in keys:
            value = sizes.get(key, 0)
            if type(value) is int and value >= 0:
                size_list.append(value)
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
                raise PlanError("sizes", f"{partition_name(key)}: size must be a non-negative number of bytes, "
                                         f"got {value!r}")
            size_list.append(int(value))
        size_list = tuple(size_list)

    return Cluster(keys=tuple(keys), replicas=tuple(replicas), targets=targets, drained=tuple(sorted(drained)),
                   racks=rack_map, sizes=size_list)


def validate(current, brokers, racks=None, drain=(), sizes=None):
    """Raise :class:`PlanError` (a ``ValueError`` naming the argument) when the inputs cannot be planned."""
    normalize(current, brokers, racks=racks, drain=drain, sizes=sizes)


# --- Kafka's JSON formats ----------------------------------------------------------------------

def read_reassignment(data, argument="current"):
    """Kafka's reassignment JSON (``{"version": 1, "partitions": [{"topic", "partition",
    "replicas"[, "log_dirs"]}]}``, already decoded) -> ``{(topic, partition): [replicas]}``.
    ``log_dirs`` is accepted and ignored."""
    if not isinstance(data, dict) or not isinstance(data.get("partitions"), list):
        raise PlanError(argument, 'expected Kafka reassignment JSON: {"version": 1, "partitions": [...]}')
    if data.get("version", 1) != 1:
        raise PlanError(argument, f"unsupported version {data.get('version')!r} (expected 1)")
    result = {}
    for index, entry in enumerate(data["partitions"]):
        where = f"partitions[{index}]"
        if not isinstance(entry, dict):
            raise PlanError(argument, f"{where} is not an object")
        topic, partition, replicas = entry.get("topic"), entry.get("partition"), entry.get("replicas")
        if not isinstance(topic, str) or not topic:
            raise PlanError(argument, f"{where}: topic must be a non-empty string")
        if not _is_int(partition) or partition < 0:
            raise PlanError(argument, f"{where}: partition must be a non-negative integer")
        if not isinstance(replicas, list) or not replicas or not all(_is_int(b) and b >= 0 for b in replicas):
            raise PlanError(argument, f"{where} ({topic}-{partition}): replicas must be a non-empty list of broker ids")
        log_dirs = entry.get("log_dirs")
        if log_dirs is not None and (not isinstance(log_dirs, list) or len(log_dirs) != len(replicas)):
            raise PlanError(argument, f"{where} ({topic}-{partition}): log_dirs must list one entry per replica")
        key = (topic, partition)
        if key in result:
            raise PlanError(argument, f"{topic}-{partition} is listed twice")
        result[key] = list(replicas)
    return result


def _split_name(name, argument):
    topic, dash, number = name.rpartition("-")
    if not dash or not topic or not number.isdigit():
        raise PlanError(argument, f"{name!r} is not a topic-partition name")
    return topic, int(number)


def read_sizes(data, argument="sizes"):
    """Partition sizes in bytes, from any of:

    - ``kafka-log-dirs.sh --describe`` output (DescribeLogDirs: ``{"brokers": [{"broker", "logDirs":
      [{"partitions": [{"partition": "topic-0", "size", "isFuture"}]}]}]}``); a partition's size is
      the largest of its replicas' (future replicas are skipped);
    - ``{"partitions": [{"topic", "partition", "size"}]}``;
    - ``{"topic-0": size, ...}``.
    """
    def size_of(value, where):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or value < 0:
            raise PlanError(argument, f"{where}: size must be a non-negative number of bytes, got {value!r}")
        return int(value)

    result = {}
    if isinstance(data, dict) and isinstance(data.get("brokers"), list):
        for broker in data["brokers"]:
            for log_dir in (broker or {}).get("logDirs") or []:
                if (log_dir or {}).get("error"):
                    continue
                for entry in log_dir.get("partitions") or []:
                    if entry.get("isFuture"):
                        continue
                    name = entry.get("partition")
                    if not isinstance(name, str):
                        raise PlanError(argument, f"log dir entry {entry!r} has no partition name")
                    key = _split_name(name, argument)
                    result[key] = max(result.get(key, 0), size_of(entry.get("size"), name))
        return result
    if isinstance(data, dict) and isinstance(data.get("partitions"), list):
        for index, entry in enumerate(data["partitions"]):
            if (not isinstance(entry, dict) or not isinstance(entry.get("topic"), str)
                    or not _is_int(entry.get("partition"))):
                raise PlanError(argument, f"partitions[{index}]: expected topic, partition and size")
            result[(entry["topic"], entry["partition"])] = size_of(entry.get("size"), f"partitions[{index}]")
        return result
    if isinstance(data, dict):
        for name, value in data.items():
            result[_split_name(name, argument)] = size_of(value, name)
        return result
    raise PlanError(argument, "expected kafka-log-dirs output, {\"partitions\": [...]} or {\"topic-0\": bytes}")


def reassignment_json(moves):
    """``{(topic, partition): [replicas]}`` -> Kafka's reassignment JSON, sorted by topic and partition."""
    return {"version": 1, "partitions": [{"topic": topic, "partition": partition,
                                          "replicas": list(moves[(topic, partition)])}
                                         for topic, partition in sorted(moves)]}


def format_reassignment(data):
    """Kafka's reassignment JSON as text, one partition per line (valid JSON, easy to diff)."""
    import json
    entries = [json.dumps(entry, separators=(",", ":")) for entry in data["partitions"]]
    if not entries:
        return '{"version":1,"partitions":[]}\n'
    return '{"version":1,"partitions":[\n' + ",\n".join(entries) + "\n]}\n"

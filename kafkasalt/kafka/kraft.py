"""KRaft mode: ``kafka:mode``, the controllers of ``kafka:controllers`` and the quorum rules.

The rules are small named predicates, each returning the reason a value is refused (``None``
when it is fine), in the style of :mod:`kafkasalt.zookeeper.membership_rules`; the validator
(:mod:`kafkasalt.kafka.kraft_validate`) applies them and names the pillar key. The tables
(keys Kafka 4.0 removed, keys the formula owns, the controller listener) are data:
``kafkasalt/data/kafka/kraft.yml``.

Node ids: a dedicated controller's ``node_id`` is unique among controllers and never a
``broker_id``. A minion in both ``kafka:brokers`` and ``kafka:controllers`` is a *combined* node
(``process.roles=broker,controller``): one process with one ``node.id``, so its ``node_id`` must
equal its ``broker_id`` (and its address its broker address).
"""

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

from kafkasalt.common import data
from kafkasalt.common.errors import PillarError
from kafkasalt.common.validation import is_int

log = logging.getLogger(__name__)

DATA_NAME = ("kafka", "kraft.yml")
MODES = ("kraft", "zookeeper")
KRAFT, ZOOKEEPER = MODES
DEFAULT_CONTROLLER_PORT = 9095
CONTROLLER_KEYS = ("node_id", "address", "port")
CONTROLLER_LISTENER = "CONTROLLER"
MAX_VOTERS = 9  # more voters slow every metadata commit; Kafka's docs advise 3 or 5

#: What the Salt entry points say until the KRaft deploy states exist.
DEPLOY_NOT_AVAILABLE = ("KRaft mode is validated and rendered by the core, but the KRaft deploy (controllers, "
                        "storage format, brokers) is not available yet in Salt: nothing was changed. Use "
                        "kafka:mode: zookeeper with Kafka 3.x for now")


@dataclass(frozen=True)
class Controller:
    """One KRaft voter: the minion that runs it, its node id, the address and port of its
    CONTROLLER listener, and whether the same process is also a broker (a combined node)."""

    minion_id: str
    node_id: int
    address: str
    port: int
    combined: bool = False

    @property
    def endpoint(self):
        """``host:port`` of the CONTROLLER listener (IPv6 in brackets)."""
        return f"[{self.address}]:{self.port}" if ":" in self.address else f"{self.address}:{self.port}"


# --- the data file ------------------------------------------------------------------------------

def table(path=None):
    """The ``kraft.yml`` tables, or None when the data file is not installed (a formula sync
    copies Python files only): the validator then skips the removed-key checks."""
    return _table(str(path or data.path(*DATA_NAME)))


@functools.lru_cache(maxsize=None)
def _table(path):
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        log.warning("kafkasalt: %s is not installed; KRaft config keys are checked without its tables", path)
        return None
    import yaml  # Salt's own dependency

    return yaml.safe_load(text)


def required_table():
    """The tables, or a ValueError saying the data file is missing (rendering needs it)."""
    tables = table()
    if tables is None:
        raise ValueError(f"the KRaft data file {data.path(*DATA_NAME)} is not installed; install the extension "
                         "with pip or put the repository root in file_roots")
    return tables


def removed_key_reason(key, tables=None):
    """Why a 4.x ``server.properties`` may not set ``key`` (Kafka 4.0 removed it), or None."""
    tables = table() if tables is None else tables
    if not tables:
        return None
    removed = tables.get("removed_in_4") or {}
    if key in (removed.get("keys") or {}):
        return removed["keys"][key]
    for prefix, reason in (removed.get("prefixes") or {}).items():
        if key.startswith(prefix):
            return reason
    return None


def owned_key_reason(key, tables=None):
    """Why the KRaft-mode config overrides may not set ``key`` (the formula computes it), or None."""
    tables = table() if tables is None else tables
    return ((tables or {}).get("owned") or {}).get(key)


# --- mode ---------------------------------------------------------------------------------------

def version_at_least(version, minimum):
    """``version >= minimum`` for ``(major, minor, patch)`` tuples or ``"X.Y.Z"`` strings."""
    def parts(value):
        return tuple(int(p) for p in value.split(".")) if isinstance(value, str) else tuple(value)
    return parts(version) >= parts(minimum)


def mode_problem(value, version):
    """``(mode, key, reason)``: the mode a pillar asks for (``kafka:mode``; ``version`` is the
    parsed ``(major, minor, patch)`` or None when invalid) and, if it cannot be, the key at
    fault and why. 3.x runs ZooKeeper mode unless told otherwise; 4.x is KRaft only and must say
    so, because a 3.9 ZooKeeper cluster whose version is bumped to 4.x must migrate first and
    must never be silently re-created as a new, empty KRaft cluster."""
    if value is not None and value not in MODES:
        return None, "kafka:mode", f"expected kraft or zookeeper, got {value!r}"
    if version is None:
        return value or ZOOKEEPER, None, None
    if version[0] >= 4:
        if value == ZOOKEEPER:
            return None, "kafka:mode", (f"Kafka {'.'.join(map(str, version))} has no ZooKeeper mode (removed in 4.0); "
                                        "stay on 3.9 and migrate to KRaft first")
        if value is None:
            return None, "kafka:version", ("Kafka 4 is KRaft-only: a new cluster sets kafka:mode: kraft with "
                                           "kafka:controllers; a ZooKeeper-mode cluster stays on 3.9 until migrated")
        return KRAFT, None, None
    if value == KRAFT:
        minimum = (table() or {}).get("min_versions", {}).get("kraft", "3.9.0")
        if not version_at_least(version, minimum):
            return None, "kafka:mode", (f"KRaft with a dynamic quorum (KIP-853, --initial-controllers) needs Kafka "
                                        f"{minimum} or later, not {'.'.join(map(str, version))}")
        return KRAFT, None, None
    return ZOOKEEPER, None, None


def deploy_refusal(kafka_pillar):
    """The :class:`PillarError` (naming ``kafka:mode``) with which the Salt entry points refuse a
    KRaft pillar until the KRaft deploy exists, or None for a ZooKeeper-mode pillar. A 4.x
    version without a mode is left to the validator (it names ``kafka:version``)."""
    if isinstance(kafka_pillar, dict) and kafka_pillar.get("mode") == KRAFT:
        return PillarError("kafka:mode", DEPLOY_NOT_AVAILABLE)
    return None


# --- the quorum rules: each returns why a value is refused, or None ------------------------------

def voter_count_problem(count):
    """Q1: at least one voter, an odd number, at most :data:`MAX_VOTERS`. An even count
    tolerates no more failures than one voter fewer (4 voters survive 1 loss, as 3 do) and
    makes a split vote possible."""
    if count < 1:
        return "at least one controller is needed in KRaft mode (3 or 5 in production)"
    if count % 2 == 0:
        return (f"{count} controllers: use an odd number ({count - 1} or {count + 1}); an even quorum survives "
                f"no more failures than {count - 1} voters")
    if count > MAX_VOTERS:
        return f"{count} controllers: at most {MAX_VOTERS}; every metadata commit waits for a majority of them"
    return None


def node_id_problem(value):
    """Q2: a node id is an integer >= 0 (YAML ``yes`` and quoted numbers are not)."""
    if not is_int(value) or value < 0:
        return f"expected an integer >= 0, got {value!r}"
    return None


def node_id_clash(node_id, minion_id, controller_ids, broker_ids, combined):
    """Q3: a voter's node id is its own: unique among controllers, and a dedicated controller's
    never a broker's. A combined node has one ``node.id``: it must equal its ``broker_id``.
    ``controller_ids``/``broker_ids``: id -> minion of those seen so far / of every broker."""
    if node_id in controller_ids:
        return f"node_id {node_id} is already used by controller {controller_ids[node_id]}; ids are unique"
    if combined:
        own = next((i for i, m in broker_ids.items() if m == minion_id), None)
        if own is not None and own != node_id:
            return (f"{minion_id} is a broker too (a combined node, process.roles=broker,controller) and one "
                    f"process has one node.id: use its broker_id {own}")
        return None
    if node_id in broker_ids:
        return (f"node_id {node_id} is broker {broker_ids[node_id]}'s broker_id; a dedicated controller needs an "
                "id no broker uses")
    return None


def port_clash(port, address, listener_ports, jmx_port, taken):
    """Q4: the CONTROLLER port is none of the broker listener ports (a combined node binds
    them all), not the JMX exporter's, and no other controller listens on it at the same
    address. ``listener_ports``: port -> listener name; ``taken``: (address, port) -> minion."""
    if port in listener_ports:
        return f"port {port} is the port of listener {listener_ports[port]}; the CONTROLLER listener needs its own"
    if jmx_port is not None and port == jmx_port:
        return f"port {port} is the JMX exporter's (kafka:jmx_exporter:port)"
    if (address, port) in taken:
        return f"{address}:{port} is already the CONTROLLER listener of {taken[(address, port)]}"
    return None

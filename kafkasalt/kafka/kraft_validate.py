"""Validation of the KRaft part of the ``kafka:`` pillar (``kafka:mode``, ``kafka:controllers``,
``kafka:controller_port`` and the config keys KRaft forbids), recorded in the
:class:`~kafkasalt.kafka.validate._Validator`'s collector with full keys. The rules themselves
are the named predicates of :mod:`kafkasalt.kafka.kraft`."""

from collections.abc import Mapping

from kafkasalt.common.validation import is_int, type_name
from kafkasalt.kafka import kraft


def check_mode(collector, raw, version_tuple):
    """The mode the pillar asks for (``kraft``/``zookeeper``), or None after recording why not."""
    mode, key, reason = kraft.mode_problem(raw.get("mode") if isinstance(raw, Mapping) else None, version_tuple)
    if reason:
        collector.error(key, reason)
    return mode


def check_zookeeper_keys(collector, raw, mode):
    """``kafka:controllers`` belongs to KRaft, ``kafka:zookeeper_*`` to ZooKeeper mode."""
    if mode == kraft.ZOOKEEPER and raw.get("controllers") not in (None, {}):
        collector.error("kafka:controllers", "controllers exist in KRaft mode only; set kafka:mode: kraft "
                                             "(a ZooKeeper-mode cluster is migrated, not re-declared)")
    if mode == kraft.KRAFT:
        for name in ("zookeeper_user", "zookeeper_chroot"):
            if raw.get(name) is not None:
                collector.error(f"kafka:{name}", "ZooKeeper mode only; a KRaft cluster keeps its metadata in "
                                                 "its controllers: remove it")


def check_controller_port(collector, value):
    """``kafka:controller_port``: the default CONTROLLER port of every controller."""
    if not is_int(value) or not 1024 <= value <= 65535:
        collector.error("kafka:controller_port", f"expected a port number 1024-65535, got {value!r}")
        return None
    return value


def check_config_keys(collector, config, key, version_tuple):
    """In KRaft mode the config overrides may set neither the keys the formula computes there
    nor, on 4.x, the keys Kafka 4.0 removed. Returns the config without the refused keys."""
    valid = {}
    for name, value in config.items():
        reason = kraft.owned_key_reason(name)
        if reason:
            collector.error(f"{key}:{name}", f"owned by the formula in KRaft mode ({reason}); remove it")
            continue
        if name.startswith("zookeeper."):
            collector.error(f"{key}:{name}", "a ZooKeeper-mode key; KRaft mode has no ZooKeeper")
            continue
        if version_tuple and version_tuple[0] >= 4:
            reason = kraft.removed_key_reason(name)
            if reason:
                collector.error(f"{key}:{name}", f"removed in Kafka 4.0 ({reason})")
                continue
        valid[name] = value
    return valid


def check_controllers(collector, value, brokers, listeners, jmx, default_port, address_check):
    """``kafka:controllers``: minion id -> ``{node_id, address, port}`` checked with the quorum
    rules. ``brokers``: the valid brokers; ``listeners``: name -> Listener; ``jmx``: the
    JmxExporter; ``address_check(address) -> reason | None`` is the broker address rule.
    Returns the valid :class:`~kafkasalt.kafka.kraft.Controller` tuple, ordered by node id."""
    key = "kafka:controllers"
    if not isinstance(value, Mapping):
        collector.error(key, f"expected a mapping of minion id -> {{node_id, address, port}}, got {type_name(value)}")
        return ()
    problem = kraft.voter_count_problem(len(value))
    if problem:
        collector.error(key, problem)
    broker_of = {b.minion_id: b for b in brokers}
    broker_ids = {b.broker_id: b.minion_id for b in brokers}
    listener_ports = {listener.port: listener.name for listener in listeners.values()}
    jmx_port = jmx.port if jmx is not None and jmx.enabled else None
    controller_ids, taken, controllers = {}, {}, []
    for minion_id in sorted(value, key=str):
        spec, item_key = value[minion_id], f"{key}:{minion_id}"
        if not isinstance(minion_id, str) or not minion_id:
            collector.error(item_key, "minion ids are non-empty strings")
            continue
        if not isinstance(spec, Mapping):
            collector.error(item_key, f"expected a mapping with node_id and address, got {type_name(spec)}")
            continue
        for name in spec:
            if name not in kraft.CONTROLLER_KEYS:
                collector.error(f"{item_key}:{name}", f"unknown key (known keys: {', '.join(kraft.CONTROLLER_KEYS)})")
        combined = minion_id in broker_of
        node_id = spec.get("node_id")
        problem = kraft.node_id_problem(node_id) or kraft.node_id_clash(node_id, minion_id, controller_ids,
                                                                        broker_ids, combined)
        if problem:
            collector.error(f"{item_key}:node_id", problem)
            node_id = None if kraft.node_id_problem(node_id) else node_id
        else:
            controller_ids[node_id] = minion_id
        address = spec.get("address")
        if address is None and combined:
            address = broker_of[minion_id].address
        problem = ("missing: the IP address or host name the CONTROLLER listener binds" if address in (None, "")
                   else address_check(address))
        if problem is None and combined and address != broker_of[minion_id].address:
            problem = (f"{minion_id} is a combined node: its CONTROLLER listener binds the broker address "
                       f"{broker_of[minion_id].address}, not {address}")
        if problem:
            collector.error(f"{item_key}:address", problem)
            address = None
        port = spec.get("port", default_port)
        if not is_int(port) or not 1024 <= port <= 65535:
            collector.error(f"{item_key}:port", f"expected a port number 1024-65535, got {port!r}")
            port = None
        elif address is not None:
            problem = kraft.port_clash(port, address, listener_ports, jmx_port, taken)
            if problem:
                collector.error(f"{item_key}:port", problem)
            taken.setdefault((address, port), minion_id)
        if node_id is not None and address is not None and port is not None:
            controllers.append(kraft.Controller(minion_id=minion_id, node_id=node_id, address=address, port=port,
                                                combined=combined))
    return tuple(sorted(controllers, key=lambda c: c.node_id))


def check_controller_tls(collector, listeners):
    """The CONTROLLER listener is TLS with client certificates; it needs the TLS stores, so a
    ``CONTROLLER`` name in ``kafka:listeners`` (which would shadow it) is refused."""
    if kraft.CONTROLLER_LISTENER in listeners:
        collector.error(f"kafka:listeners:{kraft.CONTROLLER_LISTENER}",
                        "the name CONTROLLER is the controllers' own listener in KRaft mode; rename it")

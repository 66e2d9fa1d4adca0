"""Master-side Kafka operations: validate the cluster pillar, verify brokers one at a time,
check the cluster, and roll restarts safely.

``salt/kafka/deploy.sls`` uses these; operators can call them directly:

.. code-block:: bash

    salt-run kafka.plan
    salt-run kafka.health
    salt-run kafka.rolling_restart test=True
"""

import logging
import time

import salt.client
import salt.utils.event
import salt.utils.minions

try:
    from kafkasalt import broker as brokermodel
    from kafkasalt import zookeeper as zkmodel
    from kafkasalt.errors import PillarError, PillarErrors

    HAS_CORE = True
except ImportError:
    HAS_CORE = False

log = logging.getLogger(__name__)

__virtualname__ = "kafka"
EVENT_PREFIX = "kafkasalt/kafka"


def __virtual__():
    if not HAS_CORE:
        return (False, "kafka runner: the kafkasalt core package cannot be imported; "
                       "install the extension with pip or run `salt-run saltutil.sync_all`")
    return __virtualname__


def _fire(tag, data):
    try:
        with salt.utils.event.get_master_event(__opts__, __opts__["sock_dir"], listen=False) as event:
            event.fire_event(data, f"{EVENT_PREFIX}/{tag}")
    except Exception as exc:  # progress events are best effort
        log.debug("could not fire %s: %s", tag, exc)


def _fail(message, **details):
    __context__["retcode"] = 1
    return {"Error": message, "result": False, **details}


def _cmd(tgt, fun, arg=(), tgt_type="glob", timeout=60):
    with salt.client.LocalClient(mopts=__opts__) as client:
        return client.cmd(tgt, fun, arg=list(arg), tgt_type=tgt_type, timeout=timeout)


def _load(tgt="*", tgt_type="glob"):
    """Compile and validate the kafka (and zookeeper) pillar on the master.

    Every broker must see the same ``kafka`` pillar apart from its own per-broker keys; a broker
    with a different view would render a different cluster.
    """
    minions = salt.utils.minions.CkMinions(__opts__).check_minions(tgt, tgt_type)["minions"]
    pillars = {m: __salt__["pillar.show_pillar"](m) for m in sorted(minions)}
    views = {m: p for m, p in pillars.items() if isinstance(p.get("kafka"), dict)}
    if not views:
        raise PillarError("kafka", f"no minion matching {tgt!r} has a kafka pillar")
    reference_minion, reference = next(iter(views.items()))
    zk = zkmodel.EnsembleModel.from_pillar(reference.get("zookeeper") or {})
    # Heap is checked against each broker's RAM from the grains the master has cached.
    grains = __salt__["cache.grains"](tgt=",".join(views), tgt_type="list") or {}
    sizing = {m: (grains.get(m) or {}).get("kafka_hardware") for m in views}
    model = brokermodel.ClusterModel.from_pillar(reference["kafka"], zookeeper_model=zk, sizing_by_minion=sizing)
    unknown = [b.minion_id for b in model.brokers if b.minion_id not in pillars]
    if unknown:
        raise PillarError("kafka:brokers", f"brokers {unknown} are not accepted minions matching {tgt!r}")
    differing = [b.minion_id for b in model.brokers if pillars[b.minion_id].get("kafka") != reference["kafka"]]
    if differing:
        raise PillarError("kafka", f"brokers {differing} see a different kafka pillar than {reference_minion}")
    return model


def plan(tgt="*", tgt_type="glob"):
    """
    Validate the Kafka and ZooKeeper pillar on the master before any host changes. Returns the
    broker start order (by broker id) or an error naming every bad pillar key.

    CLI Example:

    .. code-block:: bash

        salt-run kafka.plan
    """
    try:
        model = _load(tgt, tgt_type)
    except (PillarError, PillarErrors) as exc:
        return _fail(f"invalid pillar: {exc}")
    order = [b.minion_id for b in sorted(model.brokers, key=lambda b: b.broker_id)]
    return {"result": True, "brokers": order, "broker_ids": {b.minion_id: b.broker_id for b in model.brokers},
            "zookeeper_members": [m.minion_id for m in model.zookeeper.members]}


def _ask(minions, function, *args, timeout=60):
    """First good answer of ``function`` among ``minions`` (the admin client runs on a broker host)."""
    replies = _cmd(minions, function, arg=args, tgt_type="list", timeout=timeout)
    errors = {}
    for minion in minions:
        reply = replies.get(minion)
        if isinstance(reply, dict) and not (isinstance(reply.get("Error"), str) or "error" in reply):
            return reply
        errors[minion] = reply
    return {"error": f"no broker host answered {function}", "replies": errors}


def wait_broker(broker_id, timeout=120, tgt="*", tgt_type="glob"):
    """
    Wait until broker ``broker_id`` is registered in the cluster metadata (asked through any
    broker host). Used by the deploy after each broker starts.

    CLI Example:

    .. code-block:: bash

        salt-run kafka.wait_broker 2
    """
    model = _load(tgt, tgt_type)
    hosts = [b.minion_id for b in model.brokers]
    started = time.monotonic()
    deadline = started + timeout
    last = None
    while time.monotonic() < deadline:
        last = _ask(hosts, "kafka.describe_cluster", timeout=20)
        ids = {b["id"] for b in last.get("brokers", [])} if "brokers" in last else set()
        if int(broker_id) in ids:
            took = round(time.monotonic() - started, 2)
            _fire(f"broker/{broker_id}/registered", {"seconds": took})
            return {"result": True, "broker_id": int(broker_id), "waited_seconds": took,
                    "controller_id": last.get("controller_id")}
        time.sleep(1)
    return _fail(f"broker {broker_id} not registered after {timeout}s", last=last)


def health(tgt="*", tgt_type="glob"):
    """
    Cluster health: every broker in metadata, one controller, no offline or under-replicated
    partitions, none under min ISR — with reasons.

    CLI Example:

    .. code-block:: bash

        salt-run kafka.health
    """
    model = _load(tgt, tgt_type)
    return _ask([b.minion_id for b in model.brokers], "kafka.health", timeout=60)


def verify_cluster(timeout=120, tgt="*", tgt_type="glob"):
    """
    Wait until the cluster is healthy with every pillar broker registered; fail with reasons.

    CLI Example:

    .. code-block:: bash

        salt-run kafka.verify_cluster
    """
    model = _load(tgt, tgt_type)
    hosts = [b.minion_id for b in model.brokers]
    expected = sorted(b.broker_id for b in model.brokers)
    started = time.monotonic()
    last = None
    while time.monotonic() - started < timeout:
        last = _ask(hosts, "kafka.health", timeout=30)
        registered = sorted(b["id"] for b in last.get("brokers", []))
        if last.get("verdict") == "healthy" and registered == expected:
            return {"result": True, "verdict": "healthy", "brokers": registered,
                    "controller_id": last.get("controller_id"), "waited_seconds": round(time.monotonic() - started, 2)}
        time.sleep(1)
    return _fail(f"cluster not healthy after {timeout}s", health=last)

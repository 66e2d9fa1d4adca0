"""Master-side ZooKeeper ensemble operations: validate pillar, wait for quorum, roll restarts.

``salt/zookeeper/deploy.sls`` calls these; operators can too:

.. code-block:: bash

    salt-run zookeeper_ensemble.plan
    salt-run zookeeper_ensemble.health
    salt-run zookeeper_ensemble.roll
"""

import logging
import time


try:
    from kafkasalt import saltglue
    from kafkasalt import zookeeper as zkmodel
    from kafkasalt.errors import PillarError, PillarErrors

    HAS_CORE = True
except ImportError:
    HAS_CORE = False

log = logging.getLogger(__name__)

__virtualname__ = "zookeeper_ensemble"
EVENT_PREFIX = "kafkasalt/zookeeper"


def __virtual__():
    if not HAS_CORE:
        return (False, "zookeeper_ensemble runner: the kafkasalt core package cannot be imported; "
                       "install the extension with pip or run `salt-run saltutil.sync_all`")
    return __virtualname__


def _compiled_pillars(tgt, tgt_type):
    minions = saltglue.targeted_minions(__opts__, tgt, tgt_type)
    return {minion: __salt__["pillar.show_pillar"](minion) for minion in sorted(minions)}


def _load(tgt="*", tgt_type="glob"):
    """Compile pillar on the master for the targeted minions and validate the ensemble model.

    Every member must see the same ``zookeeper`` pillar: a member with a different view would
    render a different server list and split the ensemble.
    """
    pillars = _compiled_pillars(tgt, tgt_type)
    views = {minion: p.get("zookeeper") for minion, p in pillars.items() if p.get("zookeeper")}
    if not views:
        raise PillarError("zookeeper", f"no minion matching {tgt!r} has a zookeeper pillar")
    reference_minion, reference = next(iter(views.items()))
    model = zkmodel.EnsembleModel.from_pillar(reference)
    members = [m.minion_id for m in model.members]
    unknown = [m for m in members if m not in pillars]
    if unknown:
        raise PillarError("zookeeper:members", f"members {unknown} are not accepted minions matching {tgt!r}")
    differing = [m for m in members if views.get(m) != reference]
    if differing:
        raise PillarError("zookeeper", f"members {differing} see a different zookeeper pillar than {reference_minion}")
    return model


def plan(tgt="*", tgt_type="glob"):
    """
    Validate the ensemble pillar on the master, before any host changes. Raises with every
    problem (each naming its pillar key); returns the members and quorum size.

    CLI Example:

    .. code-block:: bash

        salt-run zookeeper_ensemble.plan
    """
    try:
        model = _load(tgt, tgt_type)
    except (PillarError, PillarErrors) as exc:
        return saltglue.fail(__context__, f"invalid pillar: {exc}")
    change = membership_plan(tgt=tgt, tgt_type=tgt_type)
    if change.get("steps") or change.get("refused"):
        return saltglue.fail(__context__, "the pillar changes the ensemble's members; zookeeper.deploy does not rewrite every "
                     "member's server list at once. " + change["comment"], membership=change)
    return {
        "result": True,
        "changes": {},
        "comment": f"pillar valid: {model.size} members, quorum {model.quorum_size}",
        "members": [m.minion_id for m in model.members],
        "myids": {m.minion_id: m.myid for m in model.members},
        "quorum_size": model.quorum_size,
    }


def _ask_health(members, timeout=15):
    """Ensemble health as seen by the first member that answers."""
    replies = saltglue.cmd(__opts__, members, "zookeeper_ensemble.health", tgt_type="list", timeout=timeout)
    for member in members:
        reply = replies.get(member)
        if isinstance(reply, dict) and "verdict" in reply:
            return reply
    return {"verdict": "unknown", "reasons": [f"no member answered: {replies}"]}


def health(tgt="*", tgt_type="glob"):
    """
    Ensemble health verdict with reasons (asked through the members).

    CLI Example:

    .. code-block:: bash

        salt-run zookeeper_ensemble.health
    """
    model = _load(tgt, tgt_type)
    return _ask_health([m.minion_id for m in model.members])


def _wait(members, condition, timeout, interval=1.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = _ask_health(members)
        if condition(last):
            return True, last
        time.sleep(interval)
    return False, last


def wait_healthy(timeout=120, tgt="*", tgt_type="glob"):
    """
    Wait until the ensemble has quorum, exactly one leader and every follower synced.

    CLI Example:

    .. code-block:: bash

        salt-run zookeeper_ensemble.wait_healthy timeout=60
    """
    try:
        model = _load(tgt, tgt_type)
    except (PillarError, PillarErrors) as exc:
        return saltglue.fail(__context__, f"invalid pillar: {exc}")
    started = time.monotonic()
    ok, last = _wait([m.minion_id for m in model.members], lambda h: h.get("verdict") == "healthy", timeout)
    took = round(time.monotonic() - started, 2)
    if not ok:
        return saltglue.fail(__context__, f"ensemble not healthy after {timeout}s", health=last)
    saltglue.fire(__opts__, f"{EVENT_PREFIX}/healthy", {"seconds": took})
    return {"result": True, "changes": {}, "comment": f"ensemble healthy after {took}s, leader {last.get('leader')}",
            "verdict": "healthy", "waited_seconds": took, "leader": last.get("leader")}


def roll(timeout=120, force=False, test=False, tgt="*", tgt_type="glob"):
    """
    Restart the members whose configuration changed since they started, one at a time:
    followers first (by myid), the leader last. Before each restart the ensemble must be
    healthy; after it, the member must serve again and the leader must report every follower
    synced. Stops at the first failure and leaves the remaining members untouched; a re-run
    resumes with the members still pending.

    force
        Restart every member, pending or not.
    test
        Only report the order and the reason for each member.

    CLI Example:

    .. code-block:: bash

        salt-run zookeeper_ensemble.roll
    """
    try:
        model = _load(tgt, tgt_type)
    except (PillarError, PillarErrors) as exc:
        return saltglue.fail(__context__, f"invalid pillar: {exc}")
    members = [m.minion_id for m in model.members]
    pending_replies = saltglue.cmd(__opts__, members, "zookeeper_ensemble.restart_pending", tgt_type="list", timeout=30)
    pending = sorted(
        m for m in members
        if force or (isinstance(pending_replies.get(m), dict) and pending_replies[m].get("changed_files"))
    )
    if not pending:
        return {"result": True, "changes": {}, "comment": "no member has a pending configuration change"}
    current = _ask_health(members)
    order = zkmodel.roll_order(model, current.get("members", {}))
    order = [m for m in order if m in pending]
    reasons = {m: ("forced" if force else f"changed: {', '.join(pending_replies[m]['changed_files'])}")
               + (" (leader, last)" if m == current.get("leader") else "") for m in order}
    if test:
        return {"result": None, "changes": {"order": order, "reasons": reasons},
                "comment": f"would restart {', '.join(order)} one at a time"}
    report = {"result": True, "order": order, "restarted": [], "seconds": {}}
    for member in order:
        gate_ok, before = _wait(members, lambda h: h.get("verdict") == "healthy", timeout=30)
        if not gate_ok:
            return saltglue.fail(__context__, f"not restarting {member}: ensemble not healthy before its restart",
                         health=before, **{k: v for k, v in report.items() if k != "result"})
        saltglue.fire(__opts__, f"{EVENT_PREFIX}/roll/{member}/start", {"member": member, "leader": before.get("leader")})
        started = time.monotonic()
        reply = saltglue.cmd(__opts__, member, "zookeeper_ensemble.restart", timeout=60)
        if not isinstance(reply.get(member), dict) or not reply[member].get("restarted"):
            return saltglue.fail(__context__, f"restart of {member} failed: {reply.get(member)}", **{k: v for k, v in report.items() if k != "result"})
        ok, after = _wait(members, lambda h: h.get("verdict") == "healthy", timeout)
        took = round(time.monotonic() - started, 2)
        if not ok:
            return saltglue.fail(__context__, f"{member} restarted but the ensemble is not healthy after {timeout}s",
                         health=after, **{k: v for k, v in report.items() if k != "result"})
        report["restarted"].append(member)
        report["seconds"][member] = took
        saltglue.fire(__opts__, f"{EVENT_PREFIX}/roll/{member}/done", {"member": member, "seconds": took, "leader": after.get("leader")})
    report["changes"] = {"restarted": report["restarted"], "order": order, "reasons": reasons, "seconds": report["seconds"]}
    report["comment"] = f"restarted {', '.join(order)} one at a time"
    return report


def membership_plan(tgt="*", tgt_type="glob"):
    """
    Compare the members running now (their zoo.cfg and myid files) with the pillar and, when they
    differ, return the steps that add or remove members while keeping quorum at every step
    (static ensemble, no dynamic reconfig), or the reasons such a change is refused.

    CLI Example:

    .. code-block:: bash

        salt-run zookeeper_ensemble.membership_plan
    """
    model = _load(tgt, tgt_type)
    replies = saltglue.cmd(__opts__, tgt, "zookeeper_ensemble.deployed", tgt_type=tgt_type, timeout=30)
    running = {m: r for m, r in replies.items() if isinstance(r, dict) and r.get("myid")}
    if not running or {m for m in running} == set(model.minion_ids):
        return {"result": True, "steps": [], "comment": "members unchanged"}
    old_members = {}
    for minion, reply in running.items():
        line = reply["servers"].get(reply["myid"], "")
        address = line.rsplit(":", 2)[0].strip("[]") if line else None
        old_members[minion] = {"myid": reply["myid"], "address": address}
    reference = __salt__["pillar.show_pillar"](model.minion_ids[0]).get("zookeeper") or {}
    try:
        old_model = zkmodel.EnsembleModel.from_pillar(dict(reference, members=old_members, allow_single_member=True))
        statuses = _ask_health(sorted(running)).get("members", {})
        steps = zkmodel.membership_change_plan(old_model, model, statuses)
    except (PillarError, PillarErrors) as exc:
        return {"result": False, "refused": str(exc), "steps": [],
                "comment": f"membership change {sorted(running)} -> {model.minion_ids} refused: {exc}"}
    described = [f"{i}. {s['action']} {s['minion_id']}: {s['reason']}" for i, s in enumerate(steps, 1)]
    return {"result": True, "steps": steps,
            "comment": f"membership change {sorted(running)} -> {model.minion_ids}; steps: " + " | ".join(described)}

"""Carry out a ZooKeeper membership change (grow or shrink a static ensemble) one step at a time.

:func:`kafkasalt.zookeeper.membership_rules.membership_change_plan` decides the steps and proves on paper that
each keeps a quorum. This module does the rest, without Salt:

* :func:`running_members` finds which server list the ensemble runs *now*, from the hosts' own
  files and the live leader, not from pillar (pillar already holds the target);
* :func:`plan_change` turns that and the pillar into steps, adding the clean-up of hosts that
  still carry a removed member's files;
* :func:`execute` runs the steps on the step engine (:mod:`kafkasalt.ops.steps`) through a
  *driver* (the runner's driver calls the minions; the unit tests' driver simulates an
  ensemble), checking named gates against live statuses before each step and waiting for the
  member to serve (or stop) after it.

Every step is idempotent on the hosts: "reconfigure" converges the member's files and restarts
it only when it runs older files than it has, so re-running after a halt resumes where it stopped
(the leader's list is the one that changed last, so a half-done change is planned again from it).
"""

from __future__ import annotations

import time

from kafkasalt.ops import steps as engine
from kafkasalt.zookeeper import membership_rules
from kafkasalt.zookeeper import model as zkmodel
from kafkasalt.zookeeper import status as zkstatus


class MembershipError(RuntimeError):
    """A membership change cannot start or had to halt; the message says which step and why.
    ``report`` holds the steps completed before the halt."""

    def __init__(self, message, report=None):
        super().__init__(message)
        self.report = report or {}


UNREACHABLE_PREFIX = "unreachable-myid-"


def is_unreachable(minion_id) -> bool:
    """A member of the running list whose host answers no Salt call (named by its myid)."""
    return isinstance(minion_id, str) and minion_id.startswith(UNREACHABLE_PREFIX)


# ---------------------------------------------------------------------------------------------
# What runs now
# ---------------------------------------------------------------------------------------------


def parse_server_line(value: str) -> tuple:
    """``"127.0.0.11:2888:3888"`` (or ``[::1]:2888:3888``, optionally ``:participant`` and
    ``;client``) -> ``(address, quorum_port, election_port)``."""
    value = value.split(";", 1)[0].strip()
    if value.startswith("["):
        address, _, rest = value[1:].partition("]")
        parts = rest.lstrip(":").split(":")
    else:
        address, *parts = value.split(":")
    parts = [p for p in parts if p.isdigit()]
    if not address or len(parts) != 2:
        raise ValueError(f"not a server line: {value!r}")
    return address, int(parts[0]), int(parts[1])


def _leaders(statuses: dict) -> list:
    return sorted(mid for mid, st in statuses.items() if zkstatus._normalize_status(st)[0] in ("leader", "standalone"))


def deployed_hosts(deployed: dict, model=None) -> dict:
    """The replies of hosts that carry member files: ``{minion_id: {"myid", "servers", ...}}``.

    With ``model``, hosts whose server list names none of the model's members are left out:
    they run another ensemble (one master may drive several).
    """
    hosts = {mid: reply for mid, reply in deployed.items() if isinstance(reply, dict) and reply.get("myid")}
    if model is None:
        return hosts
    ours = {m.server_line_value for m in model.members}
    return {mid: reply for mid, reply in hosts.items()
            if ours & {str(line).split(";", 1)[0] for line in (reply.get("servers") or {}).values()}}


def settled(model, deployed: dict) -> bool:
    """Whether the hosts already run exactly ``model``'s members, each with ``model``'s server
    list (the common case of a re-run): then no membership step is needed and no member has to
    be asked for its status."""
    wanted = {m.myid: m.server_line_value for m in model.members}
    hosts = deployed_hosts(deployed, model)
    if set(hosts) != set(model.minion_ids):
        return False
    for reply in hosts.values():
        servers = {int(myid): str(line).split(";", 1)[0] for myid, line in (reply.get("servers") or {}).items()}
        if servers != wanted:
            return False
    return True


def running_members(deployed: dict, statuses: dict, pillar_members: dict | None = None) -> dict:
    """The server list the ensemble runs now, as pillar-shaped members ``{minion_id: {...}}``.

    ``deployed`` is ``{minion_id: zookeeper_ensemble.deployed() reply}`` (myid and the server
    list of the host's zoo.cfg); ``statuses`` is ``{minion_id: status}``. The single leader's
    list is authoritative: it is the list its quorum counts, and in every procedure the leader
    switches last. Without a single leader every deployed host must hold the same list.
    A listed server whose host does not answer takes the minion id that ``pillar_members``
    gives its myid, or ``unreachable-myid-N`` when pillar no longer lists it (a dead member
    being removed: it is down, so the change may go on without it).
    """
    hosts = deployed_hosts(deployed)
    leaders = [mid for mid in _leaders(statuses) if mid in hosts]
    if len(leaders) > 1:
        raise MembershipError(f"split brain: {' and '.join(leaders)} all report leader mode")
    if leaders:
        authority = leaders[0]
        servers = hosts[authority]["servers"]
    else:
        lists = {tuple(sorted(reply["servers"].items())) for reply in hosts.values()}
        if len(lists) != 1:
            raise MembershipError(
                "no member leads and the hosts' zoo.cfg files list different servers: "
                "the ensemble must serve before its membership changes"
            )
        authority, servers = None, hosts[next(iter(hosts))]["servers"]
    by_myid = {}
    for mid, reply in hosts.items():
        by_myid.setdefault(int(reply["myid"]), []).append(mid)
    members = {}
    for myid, line in sorted(servers.items(), key=lambda item: int(item[0])):
        myid = int(myid)
        owners = by_myid.get(myid, [])
        if not owners:
            owners = [mid for mid, entry in (pillar_members or {}).items()
                      if isinstance(entry, dict) and entry.get("myid") == myid and mid not in hosts]
            owners = owners[:1] or [f"{UNREACHABLE_PREFIX}{myid}"]
        if len(owners) != 1:
            where = f"leader {authority}'s" if authority else "the"
            raise MembershipError(f"server.{myid} of {where} zoo.cfg: {', '.join(sorted(owners))} all have myid {myid}")
        address, quorum_port, election_port = parse_server_line(line)
        members[owners[0]] = {
            "myid": myid,
            "address": address,
            "ports": {"quorum": quorum_port, "election": election_port},
        }
    return members


# ---------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------


def _decommission_step(mid, serving, reason):
    return {
        "action": "stop",
        "minion_id": mid,
        "reason": reason,
        "config": None,
        "require_serving": sorted(serving),
        "leader_in": sorted(serving),
        "wait_for": "stopped",
        "decommission": True,
    }


def plan_change(new_model, reference_pillar: dict, deployed: dict, statuses: dict) -> dict:
    """The steps from what runs now to ``new_model``.

    Returns ``{"change": bool, "old_members": [...], "new_members": [...], "steps": [...]}``.
    ``reference_pillar`` is the ``zookeeper`` pillar (ports, version, secrets) with which the
    running list is turned into a model. Raises :class:`MembershipError` when what runs cannot
    be known, and :class:`~kafkasalt.zookeeper.membership_rules.MembershipChangeRefused` when the change is unsafe.
    """
    hosts = deployed = deployed_hosts(deployed, new_model)
    new_ids = list(new_model.minion_ids)
    if settled(new_model, deployed):
        return {"change": False, "old_members": new_ids, "new_members": new_ids, "steps": []}
    if not hosts:
        # Bare hosts: a first deploy writes every member's list and starts them all.
        return {"change": False, "old_members": [], "new_members": new_ids, "steps": []}
    current = running_members(deployed, statuses, reference_pillar.get("members"))
    old_model = zkmodel.EnsembleModel.from_pillar(dict(reference_pillar, members=current, allow_single_member=True))
    steps = []
    if set(current) != set(new_ids):
        steps = membership_rules.membership_change_plan(old_model, new_model, statuses)
    else:
        # Same members: ports or identities may still differ (refused here, never rolled).
        membership_rules.membership_change_plan(old_model, new_model, statuses)
    # Hosts still carrying files of a member that neither list has (a removal that halted after
    # the leader switched): they cannot vote in either list, so stopping them is always safe.
    planned = {step["minion_id"] for step in steps}
    staying = [mid for mid in new_ids if mid in current]
    for mid in sorted(set(hosts) - set(current) - set(new_ids) - planned):
        steps.append(_decommission_step(mid, staying, f"{mid} still has member files but no server list names it"))
    return {
        "change": bool(steps),
        "old_members": list(old_model.minion_ids),
        "new_members": new_ids,
        "steps": steps,
    }


def describe(steps) -> list:
    """One line per step, for test=True and the orchestration output."""
    lines = []
    for number, step in enumerate(steps, 1):
        action = "decommission" if step.get("decommission") else step["action"]
        target = f" {step['minion_id']}" if step["minion_id"] else ""
        lines.append(f"{number}. {action}{target}: {step['reason']}")
    return lines


# ---------------------------------------------------------------------------------------------
# Gates: small named predicates, each returning the reasons it fails (empty = pass)
# ---------------------------------------------------------------------------------------------


def _serving(statuses, mid) -> bool:
    return zkstatus._normalize_status(statuses.get(mid))[1]


def gate_members_serving(step, statuses) -> list:
    return [f"{mid} is not serving" for mid in step["require_serving"] if not _serving(statuses, mid)]


def gate_single_leader(step, statuses) -> list:
    leaders = _leaders(statuses)
    if len(leaders) > 1:
        return [f"split brain: {' and '.join(leaders)} all report leader mode"]
    if not leaders:
        return ["no member reports leader mode"]
    return []


def gate_leader_allowed(step, statuses) -> list:
    leaders = _leaders(statuses)
    if len(leaders) == 1 and step["leader_in"] and leaders[0] not in step["leader_in"]:
        return [f"leader is {leaders[0]}, the step needs it to be one of {', '.join(step['leader_in'])}"]
    return []


BEFORE_STEP_GATES = (gate_members_serving, gate_single_leader, gate_leader_allowed)


def gate_target_serving(step, statuses) -> list:
    mid = step["minion_id"]
    if not _serving(statuses, mid):
        return [f"{mid} does not serve yet"]
    return gate_single_leader(step, statuses)


def gate_target_stopped(step, statuses) -> list:
    mid = step["minion_id"]
    return [f"{mid} still serves"] if _serving(statuses, mid) else []


AFTER_STEP_GATES = {"serving": (gate_target_serving,), "stopped": (gate_target_stopped,)}


# ---------------------------------------------------------------------------------------------
# Execution: the membership steps as engine steps (kafkasalt.ops.steps)
# ---------------------------------------------------------------------------------------------

Timing = engine.Timing


def _leader(statuses):
    leaders = _leaders(statuses)
    return leaders[0] if len(leaders) == 1 else None


def _carry_out(driver, step) -> dict:
    """Act on one host; returns what changed there."""
    mid, action = step["minion_id"], step["action"]
    done = {}
    if is_unreachable(mid):
        if action != "stop":
            raise MembershipError(f"{mid} does not answer: it can only be removed, not {action}ed")
        return {"unreachable": "its host does not answer: remove its ZooKeeper service and zoo.cfg "
                               "by hand before it boots again"}
    if action == "stop":
        driver.stop(mid)
        done["stopped"] = True
        if step.get("decommission"):
            done["decommissioned"] = driver.decommission(mid)
    elif action == "start" and step["config"] == "old":
        driver.start(mid)
        done["started"] = "with its unchanged server list"
    elif action in ("start", "reconfigure"):
        changes = driver.converge(mid)
        if changes:
            done["files"] = sorted(changes)
        pending = driver.restart_pending(mid)
        if pending:
            driver.restart(mid)
            done["restarted"] = f"changed: {', '.join(pending)}"
    else:
        raise MembershipError(f"unknown step action {action!r}")
    return done


def _wrap(fn):
    """A membership gate ``fn(step dict, statuses)`` as an engine gate."""
    return engine.Gate(fn.__name__.removeprefix("gate_"), lambda step, view: fn(step.params, view))


def _engine_step(step) -> engine.Step:
    if step["action"] == "replan":
        return engine.Step(engine.REPLAN, None, step["reason"])
    return engine.Step(
        action=step["action"],
        targets=(step["minion_id"],),
        reason=step["reason"],
        before=tuple(_wrap(g) for g in BEFORE_STEP_GATES),
        after=tuple(_wrap(g) for g in AFTER_STEP_GATES[step["wait_for"]]),
        params=dict(step, label_action="decommission" if step.get("decommission") else step["action"]),
    )


class _Driver:
    """The engine's driver over a membership driver (``statuses``, ``converge``, ...)."""

    def __init__(self, driver, hosts, replan):
        self.driver, self.hosts, self._replan = driver, hosts, replan

    def observe(self, step, phase):
        hosts = self.hosts if phase != "final" else self.final_hosts
        return self.driver.statuses(hosts)

    def act(self, step):
        return _carry_out(self.driver, step.params)

    def record(self, step, before, after):
        return {"member": step.params["minion_id"], "leader_before": _leader(before), "leader_after": _leader(after)}

    def replan(self):
        return [_engine_step(s) for s in self._replan()]

    def event(self, tag, data):
        self.driver.event(tag, data)


def execute(steps, driver, replan, hosts, final_model=None, timing=None, clock=time.monotonic, sleep=time.sleep):
    """Run ``steps`` through ``driver`` on the step engine; returns a report, raises
    :class:`MembershipError` on a halt.

    ``driver`` has ``statuses(hosts)``, ``converge(mid)`` (apply the member's state: files
    written, service started if stopped; returns the changed state ids), ``restart_pending(mid)``,
    ``restart(mid)``, ``start(mid)``, ``stop(mid)``, ``decommission(mid)`` and ``event(tag, data)``.
    ``replan()`` returns fresh steps (for a ``replan`` step). ``hosts`` are every minion of the
    old and the new list, whose statuses the gates read. With ``final_model`` the change ends only
    when that ensemble is healthy.
    """
    final = ()
    if final_model is not None:
        def healthy(_step, statuses):
            verdict = zkstatus.ensemble_health(final_model, statuses)
            return [] if verdict["verdict"] == "healthy" else verdict["reasons"]

        final = (engine.Gate("ensemble_healthy", healthy),)
    plan = engine.Plan("zookeeper membership", [_engine_step(s) for s in steps], final=final,
                       final_label="the new ensemble is not healthy")
    adapter = _Driver(driver, hosts, replan)
    adapter.final_hosts = final_model.minion_ids if final_model is not None else hosts
    try:
        return engine.run(plan, adapter, timing or Timing(), clock=clock, sleep=sleep)
    except engine.Halted as exc:
        raise MembershipError(str(exc), exc.report) from exc.__cause__


__all__ = [
    "MembershipError",
    "Timing",
    "parse_server_line",
    "running_members",
    "settled",
    "plan_change",
    "describe",
    "execute",
    "is_unreachable",
]

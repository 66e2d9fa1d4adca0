"""Master-side ZooKeeper ensemble operations: validate pillar, wait for quorum, roll restarts.

``salt/zookeeper/deploy.sls`` calls these; operators can too:

.. code-block:: bash

    salt-run zookeeper_ensemble.plan
    salt-run zookeeper_ensemble.health
    salt-run zookeeper_ensemble.roll
    salt-run zookeeper_ensemble.change_membership test=True
"""

import logging
import time


try:
    from kafkasalt import saltglue
    from kafkasalt.common import data
    from kafkasalt.zookeeper import membership as zm
    from kafkasalt.zookeeper import model as zkmodel
    from kafkasalt.zookeeper import status as zkstatus
    from kafkasalt.zookeeper import tls as zktls
    from kafkasalt.zookeeper import roll as zkroll
    from kafkasalt.ops import steps
    from kafkasalt.ops import host as hostmodel
    from kafkasalt.common.errors import PillarError, PillarErrors
    from kafkasalt.common.validation import load_reporting_all, section_shape_errors

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
    # A formula install syncs Python files only; the data files are in the file roots.
    data.add_file_roots(__opts__.get("file_roots"))
    return __virtualname__


def _compiled_pillars(tgt, tgt_type):
    minions = saltglue.targeted_minions(__opts__, tgt, tgt_type)
    return saltglue.compiled_pillars(__opts__, __salt__, minions)


def _load(tgt="*", tgt_type="glob"):
    """The validated ensemble model (see :func:`_load_view`)."""
    return _load_view(tgt, tgt_type)[0]


def _sizing(minions):
    """Hardware facts per minion from the grains the master has cached (heap against RAM)."""
    if not minions:
        return {}
    grains = __salt__["cache.grains"](tgt=",".join(minions), tgt_type="list") or {}
    return {m: (grains.get(m) or {}).get("kafka_hardware") for m in minions}


def _load_view(tgt="*", tgt_type="glob", pillars=None):
    """Compile pillar on the master for the targeted minions (unless ``pillars`` are given) and
    validate the ensemble model.

    Every member must see the same ``zookeeper`` pillar: a member with a different view would
    render a different server list and split the ensemble. Minions that are members of
    different ensembles (one master, several clusters) are refused until ``tgt`` picks one.
    """
    pillars = _compiled_pillars(tgt, tgt_type) if pillars is None else pillars
    shape_errors = section_shape_errors(pillars, "zookeeper")
    if shape_errors:
        raise PillarErrors(shape_errors)
    views = {minion: p.get("zookeeper") for minion, p in pillars.items() if p.get("zookeeper")}
    if not views:
        raise PillarError("zookeeper", f"no minion matching {tgt!r} has a zookeeper pillar")
    ensembles = []  # (first member seeing it, view): the distinct pillars members see
    for minion, view in sorted(views.items()):
        if isinstance(view.get("members"), dict) and minion in view["members"]:
            if not any(view == seen for _, seen in ensembles):
                ensembles.append((minion, view))
    if len(ensembles) > 1:
        raise PillarError("zookeeper", f"members matching {tgt!r} see {len(ensembles)} different ensembles (as "
                                       f"{', '.join(m for m, _ in ensembles)} see them): if several ensembles are "
                                       "meant, target one with tgt=...; otherwise make their zookeeper pillar equal")
    reference_minion, reference = ensembles[0] if ensembles else next(iter(views.items()))
    named = reference.get("members")
    named = sorted(m for m in named if isinstance(m, str)) if isinstance(named, dict) else []
    model = zkmodel.EnsembleModel.from_pillar(reference, sizing_by_minion=_sizing(named))
    members = [m.minion_id for m in model.members]
    unknown = [m for m in members if m not in pillars]
    if unknown:
        raise PillarError("zookeeper:members", f"members {unknown} are not accepted minions matching {tgt!r}")
    differing = [m for m in members if views.get(m) != reference]
    if differing:
        raise PillarError("zookeeper", f"members {differing} see a different zookeeper pillar than {reference_minion}")
    return model, reference


def plan(tgt="*", tgt_type="glob"):
    """
    Validate the ensemble pillar on the master, before any host changes. Raises with every
    problem (each naming its pillar key); returns the members and quorum size.

    CLI Example:

    .. code-block:: bash

        salt-run zookeeper_ensemble.plan
    """
    try:
        pillars = _compiled_pillars(tgt, tgt_type)
        # kafka_host may differ from host to host: every targeted minion's is checked.
        model, view = load_reporting_all(lambda: _load_view(tgt, tgt_type, pillars),
                                         hostmodel.minion_errors(pillars))
    except (PillarError, PillarErrors) as exc:
        return saltglue.fail(__context__, f"invalid pillar: {exc}")
    deployed = _deployed(tgt, tgt_type)
    change = _membership_report(model, view, tgt, tgt_type, deployed)
    if change.get("refused"):
        return saltglue.fail(__context__, change["comment"], membership=change)
    try:
        tls_phases = zktls.quorum_tls_phases(deployed, model)
    except PillarError as exc:
        return saltglue.fail(__context__, f"invalid pillar: {exc}")
    if tls_phases and change.get("change"):
        return saltglue.fail(__context__, "invalid pillar: pillar key 'zookeeper:tls:enabled': change the members and "
                                          "switch quorum TLS in two separate runs, one change at a time")
    comment = f"pillar valid: {model.size} members, quorum {model.quorum_size}"
    if change.get("change"):
        comment += "; " + change["comment"]
    return {
        "result": True,
        "changes": {},
        "comment": comment,
        # zookeeper.deploy runs change_membership first: never every member's list at once.
        "membership_change": bool(change.get("change")),
        "membership_steps": change.get("described", []),
        "quorum_tls_switch": bool(tls_phases),
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


def _wait(members, condition, timeout, interval=0.5):
    # Each poll is a round trip through the minions (about a second here), so a short sleep
    # keeps the roll close to the member's own restart time without flooding it.
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


class _RollDriver:
    """What the step engine asks of the ensemble during a roll or a TLS phase, through the minions."""

    def __init__(self, opts, members, replan=None):
        self.opts, self.members, self._replan = opts, members, replan

    def observe(self, step, phase):
        return _ask_health(self.members)

    def act(self, step):
        if step.action == "reconfigure":  # a TLS phase: every member's zoo.cfg for the phase
            phase = {"ssl_quorum": step.params["ssl_quorum"]}
            replies = saltglue.cmd(self.opts, list(step.targets), "state.apply", ["zookeeper.tls,zookeeper.config"],
                                   tgt_type="list", timeout=300, kwarg={"pillar": {"zookeeper_transition": phase}})
            failed = sorted(m for m, r in replies.items() if not isinstance(r, dict)
                            or any(isinstance(v, dict) and v.get("result") is False for v in r.values()))
            missing = sorted(set(step.targets) - set(replies))
            if failed or missing:
                raise RuntimeError(f"writing zoo.cfg failed on {failed + missing}")
            return {"written": sorted(step.targets)}
        member = step.target
        reply = saltglue.cmd(self.opts, member, "zookeeper_ensemble.restart", timeout=60)
        if not isinstance(reply.get(member), dict) or not reply[member].get("restarted"):
            raise RuntimeError(f"restart of {member} failed: {reply.get(member)}")
        return {"restarted": member}

    def record(self, step, before, after):
        return {"leader_before": before.get("leader"), "leader_after": after.get("leader")}

    def replan(self):
        return self._replan() if self._replan else []

    def event(self, tag, data):
        saltglue.fire(self.opts, f"{EVENT_PREFIX}/roll/{tag}", data)


def _roll_plan(model, force=False):
    """``(plan, reasons)``: the members whose configuration changed since they started (or all,
    with ``force``), followers first by myid, the leader last."""
    members = model.minion_ids
    pending_replies = saltglue.cmd(__opts__, members, "zookeeper_ensemble.restart_pending", tgt_type="list", timeout=30)
    pending = sorted(
        m for m in members
        if force or (isinstance(pending_replies.get(m), dict) and pending_replies[m].get("changed_files"))
    )
    if not pending:
        return zkroll.plan_roll([], {}), {}
    current = _ask_health(members)
    order = [m for m in zkstatus.roll_order(model, current.get("members", {})) if m in pending]
    reasons = {m: ("forced" if force else f"changed: {', '.join(pending_replies[m]['changed_files'])}")
               + (" (leader, last)" if m == current.get("leader") else "") for m in order}
    return zkroll.plan_roll(order, reasons), reasons


def _run_roll(plan, members, timeout, replan=None):
    timing = steps.Timing(gate_timeout=30, step_timeout=float(timeout), poll_interval=0.5)
    return steps.run(plan, _RollDriver(__opts__, members, replan), timing)


def roll(timeout=120, force=False, test=False, tgt="*", tgt_type="glob"):
    """
    Restart the members whose configuration changed since they started, one at a time:
    followers first (by myid), the leader last, as gated steps of the step engine. Before each
    restart the ensemble must be healthy; after it, the member must serve again and the leader
    must report every follower synced. Stops at the first failure and leaves the remaining
    members untouched; a re-run resumes with the members still pending.

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
    plan, reasons = _roll_plan(model, force)
    if not plan:
        return {"result": True, "changes": {}, "comment": "no member has a pending configuration change"}
    order = [s.target for s in plan.steps]
    if test:
        return {"result": None, "changes": {"order": order, "reasons": reasons,
                                            "steps": steps.preview(plan)["described"]},
                "comment": f"would restart {', '.join(order)} one at a time"}
    try:
        report = _run_roll(plan, model.minion_ids, timeout)
    except steps.Halted as exc:
        done = [s["targets"][0] for s in exc.report["steps"]]
        return saltglue.fail(__context__, f"roll halted: {exc}", order=order, restarted=done,
                             gates=list(exc.gates))
    restarted = [s["targets"][0] for s in report["steps"]]
    seconds = {s["targets"][0]: s["seconds"] for s in report["steps"]}
    return {"result": True, "order": order, "restarted": restarted, "seconds": seconds,
            "changes": {"restarted": restarted, "order": order, "reasons": reasons, "seconds": seconds},
            "comment": f"restarted {', '.join(order)} one at a time"}


def switch_quorum_tls(timeout=120, test=False, tgt="*", tgt_type="glob"):
    """
    Switch quorum TLS on for a running ensemble without losing quorum: ZooKeeper's own
    procedure of rolling restarts, first with ``portUnification=true`` (quorum ports accept TLS
    and plaintext peers) keeping the old ``sslQuorum``, then with the new ``sslQuorum``; the
    final roll without port unification is zookeeper.deploy's ordinary converge and roll. Each
    phase is a plan of engine steps (write every member's zoo.cfg, then roll what changed,
    gated like :func:`roll`). A halted switch resumes at the phase it reached: the phases are
    read from the members' own zoo.cfg files.

    test
        Only report the phases.

    CLI Example:

    .. code-block:: bash

        salt-run zookeeper_ensemble.switch_quorum_tls test=True
    """
    try:
        model = _load(tgt, tgt_type)
        members = model.minion_ids
        deployed = saltglue.cmd(__opts__, members, "zookeeper_ensemble.deployed", tgt_type="list", timeout=30)
        phases = zktls.quorum_tls_phases(deployed, model)
    except (PillarError, PillarErrors) as exc:
        return saltglue.fail(__context__, f"quorum TLS switch refused: {exc}")
    if not phases:
        return {"result": True, "changes": {}, "comment": "no quorum TLS switch pending"}
    described = [f"roll with portUnification=true and sslQuorum={str(p['ssl_quorum']).lower()}" for p in phases]
    described.append("final roll without portUnification (zookeeper-members, zookeeper-roll)")
    if test:
        return {"result": None, "changes": {"phases": described},
                "comment": f"would switch quorum TLS in {len(described)} rolls"}
    report = []
    for number, phase in enumerate(phases, 1):
        plan = zkroll.plan_tls_phase(number, phase["ssl_quorum"], members)
        try:
            done = _run_roll(plan, members, timeout, replan=lambda: _roll_plan(model)[0].steps)
        except steps.Halted as exc:
            return saltglue.fail(__context__, f"phase {number} ({described[number - 1]}): {exc}", phases=report,
                                 gates=list(exc.gates))
        restarted = [s["targets"][0] for s in done["steps"] if s["action"] == "restart"]
        seconds = {s["targets"][0]: s["seconds"] for s in done["steps"] if s["action"] == "restart"}
        report.append({"phase": number, "ssl_quorum": phase["ssl_quorum"], "port_unification": True,
                       "restarted": restarted, "seconds": seconds})
        saltglue.fire(__opts__, f"{EVENT_PREFIX}/quorum_tls/phase/{number}", report[-1])
    return {"result": True, "changes": {"phases": report},
            "comment": f"quorum TLS: {len(report)} port-unification rolls done; the final roll follows"}


def _statuses(hosts):
    """Each host's own status (read through its zoo.cfg, so removed members answer too)."""
    replies = saltglue.cmd(__opts__, hosts, "zookeeper_ensemble.local_status", tgt_type="list", timeout=15)
    return {
        host: replies[host] if isinstance(replies.get(host), dict) else {"serving": False, "error": "minion did not answer"}
        for host in hosts
    }


def _deployed(tgt, tgt_type):
    """What every targeted host runs according to its own files (``zookeeper_ensemble.deployed``)."""
    return saltglue.cmd(__opts__, tgt, "zookeeper_ensemble.deployed", tgt_type=tgt_type, timeout=30)


def _membership_change(model, reference, tgt, tgt_type, deployed=None):
    """``(plan, hosts)``: the change from what the hosts run to ``model`` (whose pillar view is
    ``reference``), and every host involved."""
    deployed = _deployed(tgt, tgt_type) if deployed is None else deployed
    running = zm.deployed_hosts(deployed, model)
    hosts = sorted(set(running) | set(model.minion_ids))
    if not running or zm.settled(model, deployed):
        # Bare hosts or nothing to change: no member needs to be asked for its status.
        return zm.plan_change(model, reference, deployed, {}), hosts
    statuses = _statuses(hosts)
    change = zm.plan_change(model, reference, deployed, statuses)
    hosts = sorted(set(hosts) | set(change["old_members"]))
    return change, hosts


def membership_plan(tgt="*", tgt_type="glob"):
    """
    Compare what the members run now (their zoo.cfg and myid files, the leader's server list
    first) with the pillar and, when they differ, return the steps that add or remove members
    while keeping quorum at every step (static ensemble, no dynamic reconfig), or the reasons
    such a change is refused.

    CLI Example:

    .. code-block:: bash

        salt-run zookeeper_ensemble.membership_plan
    """
    model, view = _load_view(tgt, tgt_type)
    return _membership_report(model, view, tgt, tgt_type)


def _membership_report(model, view, tgt, tgt_type, deployed=None):
    try:
        change, _ = _membership_change(model, view, tgt, tgt_type, deployed)
    except (PillarError, PillarErrors, zm.MembershipError) as exc:
        return {"result": False, "refused": str(exc), "steps": [],
                "comment": f"membership change to {model.minion_ids} refused: {exc}"}
    if not change["change"]:
        return {"result": True, "change": False, "steps": [], "comment": "members unchanged"}
    described = zm.describe(change["steps"])
    return {"result": True, "change": True, "steps": change["steps"], "described": described,
            "from": change["old_members"], "to": change["new_members"],
            "comment": f"membership change {change['old_members']} -> {change['new_members']}: " + " | ".join(described)}


class _MinionDriver:
    """What :func:`kafkasalt.zookeeper.membership.execute` asks of the hosts, done through the minions."""

    def __init__(self, opts):
        self.opts = opts

    def _call(self, minion, fun, arg=(), timeout=120):
        reply = saltglue.cmd(self.opts, minion, fun, arg=arg, timeout=timeout).get(minion)
        if not isinstance(reply, (dict, bool)) or reply is False:
            raise zm.MembershipError(f"{fun} on {minion} failed: {reply!r}")
        return reply

    def statuses(self, hosts):
        return _statuses(hosts)

    def converge(self, minion):
        reply = self._call(minion, "state.apply", ["zookeeper"], timeout=600)
        failed = [f"{v.get('__id__')}: {v.get('comment')}" for v in reply.values()
                  if isinstance(v, dict) and v.get("result") is False]
        if failed:
            raise zm.MembershipError(f"state zookeeper on {minion} failed: {'; '.join(failed)}")
        return sorted(v["__id__"] for v in reply.values() if isinstance(v, dict) and v.get("changes"))

    def restart_pending(self, minion):
        reply = self._call(minion, "zookeeper_ensemble.restart_pending")
        return reply.get("changed_files") or []

    def restart(self, minion):
        self._call(minion, "zookeeper_ensemble.restart")

    def start(self, minion):
        self._call(minion, "zookeeper_ensemble.start")

    def stop(self, minion):
        self._call(minion, "zookeeper_ensemble.stop")

    def decommission(self, minion):
        reply = self._call(minion, "zookeeper_ensemble.decommission")
        return reply if isinstance(reply, dict) else {}

    def event(self, tag, data):
        saltglue.fire(self.opts, f"{EVENT_PREFIX}/membership/{tag}", data)


def change_membership(timeout=120, test=False, tgt="*", tgt_type="glob"):
    """
    Add or remove ensemble members as the pillar now says, one member at a time, keeping a
    quorum at every step: grow by starting the new members and then restarting the old ones
    with the new server list (the leader last); shrink by restarting the staying members with
    the new list (the leader last, after handing leadership over if it is being removed) and
    then decommissioning the removed members (service removed, zoo.cfg moved aside, data kept).
    Before each step the members it needs must serve and the leader must be where the plan
    expects it; after it, the member must serve (or have stopped) within ``timeout`` seconds.
    A halted change stops where it is; a re-run plans again from the leader's server list and
    goes on.

    test
        Only report the steps and the reason for each.

    CLI Example:

    .. code-block:: bash

        salt-run zookeeper_ensemble.change_membership test=True
        salt-run zookeeper_ensemble.change_membership
    """
    try:
        model, view = _load_view(tgt, tgt_type)
        change, hosts = _membership_change(model, view, tgt, tgt_type)
    except (PillarError, PillarErrors, zm.MembershipError) as exc:
        return saltglue.fail(__context__, f"membership change refused: {exc}")
    if not change["change"]:
        return {"result": True, "changes": {}, "comment": "members unchanged"}
    described = zm.describe(change["steps"])
    summary = f"{', '.join(change['old_members'])} -> {', '.join(change['new_members'])}"
    if test:
        return {"result": None, "changes": {"from": change["old_members"], "to": change["new_members"],
                                            "steps": described},
                "comment": f"would change the members {summary} in {len(described)} steps"}

    def replan():
        return _membership_change(model, view, tgt, tgt_type)[0]["steps"]

    started = time.monotonic()
    timing = zm.Timing(gate_timeout=30, step_timeout=float(timeout))
    try:
        report = zm.execute(change["steps"], _MinionDriver(__opts__), replan, hosts, final_model=model, timing=timing)
    except (zm.MembershipError, PillarError, PillarErrors) as exc:
        done = getattr(exc, "report", {}).get("steps", [])
        return saltglue.fail(__context__, f"membership change {summary} halted: {exc}", completed=done,
                             plan=described)
    took = round(time.monotonic() - started, 2)
    saltglue.fire(__opts__, f"{EVENT_PREFIX}/membership/done", {"seconds": took, "to": change["new_members"]})
    order = [f"{s['action']} {s['member']}" for s in report["steps"]]
    return {
        "result": True,
        "changes": {"from": change["old_members"], "to": change["new_members"], "steps": report["steps"],
                    "replans": report["replans"], "seconds": took},
        "comment": f"members {summary} in {took}s: {', '.join(order)}",
    }

"""Membership changes on a static ensemble: the rules, and the steps of a change proven on paper
to keep a quorum. :mod:`kafkasalt.zookeeper.membership` carries them out."""

from __future__ import annotations

from kafkasalt.common.errors import PillarError, PillarErrors
from kafkasalt.zookeeper.model import EnsembleModel, _key
from kafkasalt.zookeeper.status import _leader_of, _normalize_status

class MembershipChangeRefused(PillarErrors):
    """The requested membership change cannot be done safely; ``errors`` say why."""


MEMBERSHIP_RULES = """\
Membership changes on a static ensemble (reconfigEnabled=false)

Facts of ZooKeeper's leader election that the rules follow from:
  * a member only counts votes from, and only follows a leader in, its own server list
    (FastLeaderElection ignores notifications for "non-cluster member" sids);
  * a new member starts with an empty data tree;
  * a leader keeps serving while a majority of *its* server list follows it.

Rules (a change breaking one is refused):
  R1 add or remove, never both in one change: replace a member by growing first
     (3 -> 5) and shrinking afterwards (5 -> 3).
  R2 a member's myid, address, quorum and election ports never change while it stays.
  R3 growing: added members < quorum of the new ensemble, so they can never elect a
     leader with an empty tree among themselves (3 -> 5 yes, 3 -> 7 no: go 3 -> 5 -> 7).
  R4 shrinking: removed members < quorum of the old ensemble, so they can never elect
     a leader of their own while still running the old list (5 -> 3 yes, 3 -> 1 no).
  R5 every member that stays (and every old member when growing) must be serving, and
     the current leader must be known: pass statuses.

Procedures (every step states which members must serve before it and waits after it):
  grow:   start each new member with the new list (it joins the current leader), then
          reconfigure (write the new list and restart) the old followers by myid, the
          leader last.
  shrink: the leader must be a member that stays. If it is not, hand leadership over
          first: stop the removed members (followers first, leader last), start them
          again with their unchanged old list, then plan again. Then, if the old leader
          keeps its quorum without the removed members (staying - 1 >= old quorum), stop
          the removed members first and reconfigure the staying followers, leader last;
          otherwise reconfigure the staying followers, then the leader, then stop the
          removed members.
  A member's zoo.cfg changes only at its own step: writing every new list up front would
  let a crash-restart form a new-list majority early.

Residual risk (inherent to static membership changes; dynamic reconfiguration removes it):
  between the first member switching to the new list and the leader's own reconfigure
  step, a leader crash or a network partition can let the old-list and the new-list halves
  elect two leaders. Run the steps back to back, in a maintenance window, checking ensemble
  health before each step.
"""


def _quorum(count: int) -> int:
    return count // 2 + 1


def _step(action, minion_id, reason, require_serving, leader_in, wait_for, config, decommission=False):
    return {
        "action": action,
        "minion_id": minion_id,
        "reason": reason,
        "config": config,
        "require_serving": sorted(require_serving),
        "leader_in": sorted(leader_in),
        "wait_for": wait_for,
        # A removed member's last step: stopped for good (its service definition and zoo.cfg
        # go, its data stays), so a reboot cannot bring it back with a stale server list.
        "decommission": decommission,
    }


def membership_change_plan(old_model: EnsembleModel, new_model: EnsembleModel, statuses: dict | None = None) -> list:
    """Steps that move a running ensemble from ``old_model`` to ``new_model`` keeping quorum.

    Each step is a dict: ``action`` (``start`` | ``reconfigure`` | ``stop`` | ``replan``),
    ``minion_id``, ``reason``, ``config`` (which server list the member's zoo.cfg must hold:
    ``new``, ``old`` or None), ``require_serving`` (members that must be serving before the
    step), ``leader_in`` (the leader must be one of these before the step), ``wait_for``
    (``serving`` or ``stopped``, to reach before the next step) and ``decommission`` (a removed
    member's final stop). ``reconfigure`` = write the new zoo.cfg, then restart. ``replan`` =
    call this function again with fresh statuses (:mod:`kafkasalt.zookeeper.membership` runs them).

    ``statuses`` is ``{minion_id: status}`` as for :func:`kafkasalt.zookeeper.status.ensemble_health`; it is needed to
    know the leader. The rules are in :data:`MEMBERSHIP_RULES`. Raises
    :class:`MembershipChangeRefused` (a :class:`PillarErrors`) with every reason.
    An unchanged member set returns ``[]`` (use :func:`kafkasalt.zookeeper.status.roll_order` for config-only changes).
    """
    old_ids = {m.minion_id for m in old_model.members}
    new_ids = {m.minion_id for m in new_model.members}
    added = sorted(new_ids - old_ids, key=lambda mid: new_model.member(mid).myid)
    removed = sorted(old_ids - new_ids, key=lambda mid: old_model.member(mid).myid)
    staying = sorted(old_ids & new_ids, key=lambda mid: old_model.member(mid).myid)
    members_key = _key("members")
    errors = []

    # R2: identity of staying members.
    for port_name in ("quorum", "election"):
        before, after = old_model.ports[port_name], new_model.ports[port_name]
        if before != after:
            errors.append(
                PillarError(
                    _key("ports", port_name),
                    f"changed from {before} to {after}: members on the old and the new port cannot reach each "
                    "other, so no rolling restart keeps quorum; stop every member, then start them all",
                )
            )
    for mid in staying:
        before, after = old_model.member(mid), new_model.member(mid)
        if before.myid != after.myid:
            errors.append(
                PillarError(
                    _key("members", mid, "myid"),
                    f"changed from {before.myid} to {after.myid}: a member's myid never changes "
                    "(remove it and add the host back under a new minion id and myid)",
                )
            )
        if before.address != after.address:
            errors.append(
                PillarError(
                    _key("members", mid, "address"),
                    f"changed from {before.address} to {after.address}: the other members would keep "
                    "calling the old address; replace the member instead (add a new one, then remove this one)",
                )
            )
        for port_name in ("quorum", "election"):
            follows_default = (before.ports[port_name], after.ports[port_name]) == (
                old_model.ports[port_name],
                new_model.ports[port_name],
            )
            if before.ports[port_name] != after.ports[port_name] and not follows_default:
                errors.append(
                    PillarError(
                        _key("members", mid, "ports", port_name),
                        f"{port_name} port changed from {before.ports[port_name]} to {after.ports[port_name]}: "
                        "members on the old and the new port cannot reach each other, so no rolling restart "
                        "keeps quorum; stop every member, then start them all with the new port",
                    )
                )
    # A myid still held by a removed member cannot be reused in the same change.
    removed_myids = {old_model.member(mid).myid: mid for mid in removed}
    for mid in added:
        myid = new_model.member(mid).myid
        if myid in removed_myids:
            errors.append(
                PillarError(
                    _key("members", mid, "myid"),
                    f"myid {myid} still belongs to {removed_myids[myid]}, which this change removes: use a fresh myid",
                )
            )
    if not added and not removed:
        if errors:
            raise MembershipChangeRefused(errors)
        return []

    # R1, R3, R4.
    if added and removed:
        errors.append(
            PillarError(
                members_key,
                f"adds {', '.join(added)} and removes {', '.join(removed)} in one change: a static ensemble "
                "cannot do both safely; grow first, then shrink in a second change",
            )
        )
    if added and len(added) >= _quorum(new_model.size):
        errors.append(
            PillarError(
                members_key,
                f"adds {len(added)} members to reach {new_model.size}: {len(added)} new members with empty data "
                f"would be a quorum ({_quorum(new_model.size)}) of the new ensemble on their own; "
                "grow in smaller steps (e.g. 3 -> 5 -> 7)",
            )
        )
    if removed and len(removed) >= _quorum(old_model.size):
        errors.append(
            PillarError(
                members_key,
                f"removes {len(removed)} of {old_model.size} members: the removed members are a quorum "
                f"({_quorum(old_model.size)}) of the old ensemble and could elect a leader of their own while "
                "the rest moves on, losing the quorum of either list; remove fewer members per change",
            )
        )
    if errors:
        raise MembershipChangeRefused(errors)

    # R5: state.
    if statuses is None:
        raise MembershipChangeRefused(
            [PillarError(members_key, "the current leader is unknown: pass the members' statuses (srvr/mntr)")]
        )
    serving = {mid for mid in old_ids | new_ids if _normalize_status(statuses.get(mid))[1]}
    leader = _leader_of(old_model, statuses)
    not_serving = [mid for mid in (staying if removed else sorted(old_ids)) if mid not in serving]
    if not_serving:
        errors.append(
            PillarError(
                members_key,
                f"{', '.join(not_serving)} not serving: every current member that stays must serve "
                "before a membership change",
            )
        )
    if leader is None:
        errors.append(
            PillarError(members_key, "no single leader among the current members: the ensemble must be healthy first")
        )
    if errors:
        raise MembershipChangeRefused(errors)

    steps = _grow_steps(old_model, new_model, added, leader) if added else _shrink_steps(
        old_model, new_model, removed, staying, leader, serving
    )
    _check_steps_keep_quorum(steps, old_model, new_model, leader, serving)
    return steps


def _grow_steps(old_model, new_model, added, leader):
    old_ids = [m.minion_id for m in old_model.members]
    steps = []
    running = set(old_ids)
    for mid in added:
        steps.append(
            _step(
                "start",
                mid,
                f"new member {mid} (myid {new_model.member(mid).myid}) starts with the {new_model.size}-member "
                f"list and joins leader {leader} as it finds it in that list",
                running,
                [leader],
                "serving",
                "new",
            )
        )
        running.add(mid)
    followers = [mid for mid in old_ids if mid != leader]
    for mid in followers:
        steps.append(
            _step(
                "reconfigure",
                mid,
                f"follower {mid} switches to the {new_model.size}-member list; leader {leader} keeps its quorum "
                f"of the old list meanwhile",
                running,
                [leader],
                "serving",
                "new",
            )
        )
    steps.append(
        _step(
            "reconfigure",
            leader,
            f"leader {leader} switches last: one election, held among members that all have the new list",
            running,
            [leader],
            "serving",
            "new",
        )
    )
    return steps


def _shrink_steps(old_model, new_model, removed, staying, leader, serving):
    old_ids = [m.minion_id for m in old_model.members]
    removed_followers = [mid for mid in removed if mid != leader]
    if leader in removed:
        # Hand leadership to a staying member: once every removed member is down the election
        # can only pick a staying one (R4 keeps the old quorum meanwhile).
        steps, running = [], {mid for mid in old_ids if mid in serving}
        for mid in removed_followers + [leader]:
            steps.append(
                _step(
                    "stop",
                    mid,
                    f"leader {leader} is being removed; stopping every removed member (the leader last) makes "
                    "the election pick a member that stays",
                    running,
                    [leader],
                    "stopped",
                    None,
                )
            )
            running.discard(mid)
        staying_quorum_alone = len(staying) - 1 >= old_model.quorum_size
        if not staying_quorum_alone:
            for mid in [mid for mid in removed if mid in serving]:
                steps.append(
                    _step(
                        "start",
                        mid,
                        f"{mid} runs again with its unchanged old list: the staying members need its vote to keep "
                        "the old quorum while they restart one by one",
                        running,
                        staying,
                        "serving",
                        "old",
                    )
                )
                running.add(mid)
        steps.append(
            _step(
                "replan",
                None,
                "leadership moved to a staying member: plan again with fresh statuses",
                running,
                staying,
                None,
                None,
            )
        )
        return steps

    steps = []
    running = {mid for mid in old_ids if mid in serving}
    followers = [mid for mid in staying if mid != leader]
    if len(staying) - 1 >= old_model.quorum_size:
        # The leader keeps its old-list quorum with staying members only: remove first, so
        # no removed member runs while lists are mixed.
        for mid in removed:
            steps.append(
                _step(
                    "stop",
                    mid,
                    f"removed member {mid} stops first; leader {leader} keeps {len(running) - 1} of "
                    f"{old_model.size} old-list voters ({old_model.quorum_size} needed)",
                    running,
                    [leader],
                    "stopped",
                    None,
                    decommission=True,
                )
            )
            running.discard(mid)
        roll_reason = "the staying members all have quorum without the removed ones"
    else:
        roll_reason = f"the removed members still vote so leader {leader} keeps its old-list quorum"
    for mid in followers:
        steps.append(
            _step(
                "reconfigure",
                mid,
                f"follower {mid} switches to the {new_model.size}-member list and follows leader {leader}; "
                + roll_reason,
                running,
                [leader],
                "serving",
                "new",
            )
        )
    steps.append(
        _step(
            "reconfigure",
            leader,
            f"leader {leader} switches last: the staying members elect a leader among themselves",
            running,
            [leader],
            "serving",
            "new",
        )
    )
    for mid in removed:
        if mid in running:
            # Still running the old list, it cannot follow the new-list leader: not serving, and
            # too few (R4) to elect a leader of its own.
            steps.append(
                _step(
                    "stop",
                    mid,
                    f"removed member {mid} stops: the new ensemble no longer lists it",
                    staying,
                    staying,
                    "stopped",
                    None,
                    decommission=True,
                )
            )
            running.discard(mid)
        elif not any(step["action"] == "stop" and step["minion_id"] == mid for step in steps):
            # Already down (R5 lets a dead member be removed): nothing to stop, but its files
            # must go so that it never starts again with the old list.
            steps.append(
                _step(
                    "stop",
                    mid,
                    f"removed member {mid} is down already; its service is removed so it never starts again",
                    staying,
                    staying,
                    "stopped",
                    None,
                    decommission=True,
                )
            )
    return steps


def _check_steps_keep_quorum(steps, old_model, new_model, leader, serving):
    """Replay the plan and refuse it if a step would leave the ensemble without a quorum.

    Each member runs the "old" list, the "new" list, or is "down". A member follows the acting
    leader only if that leader is in its own list; the leader counts followers from its own list.
    When the leader itself leaves, the members running one list must hold a majority of that
    list to elect a successor, and the two lists must not both hold one (two leaders).
    Each checked step gets a ``quorum`` annotation: the list that decides, voters serving
    during the step, and the majority needed.
    """
    lists = {"old": set(old_model.minion_ids), "new": set(new_model.minion_ids)}
    myids = {m.minion_id: m.myid for m in (*old_model.members, *new_model.members)}
    state = {mid: ("old" if mid in serving else "down") for mid in lists["old"]}
    state.update({mid: "down" for mid in lists["new"] - lists["old"]})
    acting, acting_list = leader, "old"

    def refuse(number, step, why):
        raise MembershipChangeRefused(
            [PillarError(_key("members"), f"step {number} ({step['action']} {step['minion_id']}) {why}")]
        )

    for number, step in enumerate(steps, 1):
        target, action = step["minion_id"], step["action"]
        if action == "replan":
            break
        if action in ("reconfigure", "stop") and target == acting:
            electors = {
                name: sorted(
                    (mid for mid, mode in state.items() if mode == name and mid != target), key=myids.get
                )
                for name in ("old", "new")
            }
            electable = [name for name in ("new", "old") if len(electors[name]) >= _quorum(len(lists[name]))]
            if not electable:
                refuse(number, step, "leaves no server list with a serving majority to elect a new leader")
            if len(electable) == 2:
                refuse(number, step, "would let the old and the new list each elect a leader")
            acting_list = electable[0]
            acting = electors[acting_list][-1]  # equal zxids: the highest myid wins
            step["quorum"] = {
                "list": acting_list,
                "serving_voters": len(electors[acting_list]),
                "needed": _quorum(len(lists[acting_list])),
            }
        elif action in ("reconfigure", "stop"):
            voters = [
                mid
                for mid, mode in state.items()
                if mode != "down" and mid != target and mid in lists[acting_list] and acting in lists[mode]
            ]
            needed = _quorum(len(lists[acting_list]))
            if len(voters) < needed:
                refuse(
                    number,
                    step,
                    f"leaves leader {acting} with {len(voters)} serving voters of its "
                    f"{len(lists[acting_list])}-member list, {needed} needed",
                )
            step["quorum"] = {"list": acting_list, "serving_voters": len(voters), "needed": needed}
        if action == "stop":
            state[target] = "down"
        elif action in ("start", "reconfigure"):
            new_mode = step["config"]
            if target != acting and acting not in lists[new_mode]:
                refuse(number, step, f"{target} would not find leader {acting} in its server list")
            state[target] = new_mode
    return steps


__all__ = ["MEMBERSHIP_RULES", "MembershipChangeRefused", "membership_change_plan"]

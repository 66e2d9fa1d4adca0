"""The ZooKeeper rolls as plans of gated steps (run by :mod:`kafkasalt.ops.steps`).

The gates read the ensemble's health verdict (:func:`kafkasalt.zookeeper.status.ensemble_health`
as a member reports it): a member restarts only while the ensemble is healthy, and the next
one only once it is healthy again (quorum, one leader, every follower synced). Followers go
first, the leader last, so the ensemble elects once.
"""

from __future__ import annotations

from kafkasalt.ops.steps import REPLAN, Plan, Step, gate


@gate("ensemble_healthy")
def ensemble_healthy(step, view):
    """The ensemble has a quorum, exactly one leader and every follower synced."""
    if view.get("verdict") == "healthy":
        return []
    return list(view.get("reasons") or []) or [f"ensemble {view.get('verdict', 'unknown')}"]


def plan_roll(order, reasons, name="zookeeper roll") -> Plan:
    """Restart ``order`` one member at a time (``reasons``: member -> why)."""
    steps = [Step("restart", member, reasons[member], before=(ensemble_healthy,), after=(ensemble_healthy,))
             for member in order]
    return Plan(name, steps, final=(ensemble_healthy,), final_label="the ensemble is not healthy after the roll")


def plan_tls_phase(number, ssl_quorum, members) -> Plan:
    """One port-unification phase of the quorum TLS switch: write every member's zoo.cfg for the
    phase, then (a ``replan`` step) roll whichever members the new files changed."""
    write = Step("reconfigure", tuple(members),
                 f"phase {number}: zoo.cfg with portUnification=true and sslQuorum={str(ssl_quorum).lower()}",
                 before=(ensemble_healthy,), params={"phase": number, "ssl_quorum": ssl_quorum,
                                                     "label_action": "write"})
    return Plan(f"quorum tls phase {number}", [write, Step(REPLAN, None, f"phase {number}: roll the changed members")],
                final=(ensemble_healthy,), final_label=f"the ensemble is not healthy after phase {number}")

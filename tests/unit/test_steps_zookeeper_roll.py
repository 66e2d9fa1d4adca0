"""The ZooKeeper roll and the quorum-TLS phases on the step engine, against a simulated ensemble
whose health verdict comes from the real ``ensemble_health`` rule."""

import pytest

from kafkasalt.ops import steps
from kafkasalt.zookeeper import roll as zkroll
from kafkasalt.zookeeper import status as zkstatus
from kafkasalt.zookeeper.model import EnsembleModel

from tests.unit.test_zookeeper_model import base_pillar

PILLAR = base_pillar(3)
MEMBERS = PILLAR["members"]


class SimEnsemble:
    """Members that stop serving on restart and serve again ``recover`` ticks later; restarting the
    leader triggers an election (highest myid serving wins, as with equal zxids)."""

    def __init__(self, leader="kafka3", recover=2):
        self.t = 0.0
        self.model = EnsembleModel.from_pillar(PILLAR, heap_mb_default=512)
        self.up = {m: True for m in MEMBERS}
        self.back_at = {}
        self.leader = leader
        self.recover = recover
        self.actions = []
        self.lost_quorum = []
        self.zoo_cfg = {m: "plain" for m in MEMBERS}
        self.running_cfg = dict(self.zoo_cfg)

    def clock(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds

    def tick(self):
        for m, at in list(self.back_at.items()):
            if self.t >= at:
                self.up[m] = True
                del self.back_at[m]
        if self.leader is None or not self.up.get(self.leader):
            serving = sorted((MEMBERS[m]["myid"], m) for m, up in self.up.items() if up)
            self.leader = serving[-1][1] if len(serving) >= self.model.quorum_size else None
        if sum(self.up.values()) < self.model.quorum_size:
            self.lost_quorum.append(self.t)

    def statuses(self):
        out = {}
        for m in MEMBERS:
            if not self.up[m] or self.leader is None:
                out[m] = {"serving": False, "error": "not serving"}
            elif m == self.leader:
                synced = sum(1 for x in MEMBERS if x != m and self.up[x])
                out[m] = {"serving": True, "mode": "leader", "zk_synced_followers": synced}
            else:
                out[m] = {"serving": True, "mode": "follower"}
        return out

    def health(self):
        return zkstatus.ensemble_health(self.model, self.statuses())

    def restart(self, member):
        self.actions.append(("restart", member, self.leader))
        self.up[member] = False
        self.running_cfg[member] = self.zoo_cfg[member]
        if member == self.leader:
            self.leader = None
        self.back_at[member] = self.t + self.recover
        self.tick()


class Driver:
    def __init__(self, sim, replan=None, on_act=None):
        self.sim, self._replan, self.on_act, self.events = sim, replan, on_act, []

    def observe(self, step, phase):
        self.sim.tick()
        return self.sim.health()

    def act(self, step):
        if step.action == "reconfigure":
            for m in step.targets:
                self.sim.zoo_cfg[m] = f"phase{step.params['phase']}"
            return {"written": list(step.targets)}
        self.sim.restart(step.target)
        if self.on_act:
            self.on_act(step)
        return {"restarted": step.target}

    def record(self, step, before, after):
        return {"leader_before": before.get("leader"), "leader_after": after.get("leader")}

    def replan(self):
        return self._replan() if self._replan else []

    def event(self, tag, data):
        self.events.append(tag)


TIMING = steps.Timing(gate_timeout=5, step_timeout=10, poll_interval=1)


def _order(sim, pending):
    return [m for m in zkstatus.roll_order(sim.model, sim.statuses()) if m in pending]


def test_roll_restarts_followers_first_the_leader_last_and_keeps_quorum():
    sim = SimEnsemble(leader="kafka2")
    order = _order(sim, MEMBERS)
    assert order == ["kafka1", "kafka3", "kafka2"]
    plan = zkroll.plan_roll(order, {m: "changed: zoo.cfg" for m in order})
    report = steps.run(plan, Driver(sim), TIMING, clock=sim.clock, sleep=sim.sleep)
    assert [a[1] for a in sim.actions] == ["kafka1", "kafka3", "kafka2"]
    assert sim.lost_quorum == []
    assert report["steps"][-1]["leader_before"] == "kafka2"
    assert report["steps"][-1]["leader_after"] != "kafka2"


def test_roll_halts_before_a_restart_while_the_ensemble_is_degraded():
    sim = SimEnsemble()
    sim.up["kafka1"] = False  # a member is down and stays down
    plan = zkroll.plan_roll(["kafka2", "kafka3"], {"kafka2": "x", "kafka3": "x"})
    with pytest.raises(steps.Halted) as halted:
        steps.run(plan, Driver(sim), TIMING, clock=sim.clock, sleep=sim.sleep)
    assert str(halted.value).startswith("step 1 (restart kafka2) not started: kafka1 is down")
    assert halted.value.gates[0] == "ensemble_healthy"
    assert sim.actions == []


def test_a_member_that_does_not_come_back_halts_the_roll_and_the_rest_is_untouched():
    sim = SimEnsemble()

    def never_back(step):
        sim.back_at.pop(step.target)

    plan = zkroll.plan_roll(["kafka1", "kafka2", "kafka3"], {m: "x" for m in MEMBERS})
    with pytest.raises(steps.Halted, match=r"step 1 \(restart kafka1\) did not complete within 10s"):
        steps.run(plan, Driver(sim, on_act=never_back), TIMING, clock=sim.clock, sleep=sim.sleep)
    assert [a[1] for a in sim.actions] == ["kafka1"]


def test_tls_phase_writes_every_zoo_cfg_then_rolls_what_changed_leader_last():
    sim = SimEnsemble(leader="kafka1")

    def replan():
        pending = [m for m in MEMBERS if sim.zoo_cfg[m] != sim.running_cfg[m]]
        order = _order(sim, pending)
        return zkroll.plan_roll(order, {m: "changed: zoo.cfg" for m in order}).steps

    plan = zkroll.plan_tls_phase(1, False, sorted(MEMBERS))
    shown = steps.preview(plan)
    assert shown["described"][0] == "1. write kafka1+kafka2+kafka3: phase 1: zoo.cfg with portUnification=true and sslQuorum=false"
    report = steps.run(plan, Driver(sim, replan=replan), TIMING, clock=sim.clock, sleep=sim.sleep)
    assert report["replans"] == 1
    assert [a[1] for a in sim.actions] == ["kafka2", "kafka3", "kafka1"]
    assert set(sim.running_cfg.values()) == {"phase1"}
    assert sim.lost_quorum == []
    # Resuming a phase whose files are written and rolled restarts nothing.
    sim.actions.clear()
    steps.run(zkroll.plan_tls_phase(1, False, sorted(MEMBERS)), Driver(sim, replan=replan), TIMING,
              clock=sim.clock, sleep=sim.sleep)
    assert sim.actions == []

"""Membership changes carried out against a simulated static ensemble.

The simulation follows the leader-election facts in ``kafkasalt.zookeeper.membership_rules.MEMBERSHIP_RULES``:
a member follows a leader only if each lists the other, a leader keeps serving while a majority
of its own list follows it, and an election in a list needs a majority of that list (equal zxids,
so the highest myid wins). After every action the test checks that a leader exists (the ensemble
kept a quorum) and that there were never two.
"""

import pytest

from kafkasalt.zookeeper import membership as zm
from kafkasalt.zookeeper import membership_rules as zk_rules
from kafkasalt.zookeeper import model as zk_model
from kafkasalt.zookeeper import status as zk_status
from tests.unit.test_zookeeper_model import base_pillar


def quorum(size):
    return size // 2 + 1


class SimulatedEnsemble:
    def __init__(self, pillar):
        self.pillar = pillar
        self.hosts = {}
        for mid, entry in pillar["members"].items():
            self.hosts[mid] = {"myid": entry["myid"], "address": entry["address"], "list": set(pillar["members"]),
                               "running": True, "stale": False}
        self.leader = None
        self.leaderless_after = []
        self.split_brain = False
        self.actions = []
        self.fail_on = None
        self.elect()

    # --- the ensemble ---------------------------------------------------------------------------
    def _up(self):
        return {mid for mid, h in self.hosts.items() if h["running"] and h["list"]}

    def _followers(self, leader):
        """Members following ``leader``: it is in their list and a majority of their list follows
        it too (what FastLeaderElection asks of a member that finds an established leader)."""
        up = self._up()
        knowing = {mid for mid in up if leader in self.hosts[mid]["list"]}
        return {mid for mid in knowing if len(self.hosts[mid]["list"] & (knowing | {leader})) >= quorum(len(self.hosts[mid]["list"]))}

    def _voters(self, leader):
        return self._followers(leader) & self.hosts[leader]["list"]

    def elect(self):
        if self.leader in self._up() and len(self._voters(self.leader)) >= quorum(len(self.hosts[self.leader]["list"])):
            return
        self.leader = None
        winners = []
        for members in {frozenset(self.hosts[mid]["list"]) for mid in self._up()}:
            voters = [mid for mid in self._up() if self.hosts[mid]["list"] == members and mid in members]
            if len(voters) >= quorum(len(members)):
                winners.append(max(voters, key=lambda mid: self.hosts[mid]["myid"]))
        if len(winners) > 1:
            self.split_brain = True
        self.leader = winners[0] if winners else None

    def _record(self, action, mid):
        self.actions.append((action, mid))
        if self.fail_on == (action, mid):
            self.fail_on = None
            raise RuntimeError(f"{action} {mid} failed")

    def _check(self, action):
        self.elect()
        if self.leader is None:
            self.leaderless_after.append(action)

    # --- the driver -----------------------------------------------------------------------------
    def statuses(self, hosts):
        result = {}
        for mid in hosts:
            host = self.hosts.get(mid)
            if not host or not host["running"] or not host["list"]:
                result[mid] = {"serving": False, "error": "not running"}
            elif mid == self.leader:
                result[mid] = {"mode": "leader", "zk_synced_followers": len(self._followers(mid)) - 1}
            elif self.leader and mid in self._followers(self.leader):
                result[mid] = {"mode": "follower"}
            else:
                result[mid] = {"serving": False, "error": "not serving"}
        return result

    def converge(self, mid):
        self._record("converge", mid)
        host = self.hosts.setdefault(mid, {"myid": self.pillar["members"][mid]["myid"], "list": set(),
                                           "running": False, "stale": False})
        wanted = set(self.pillar["members"])
        changed = []
        if host["list"] != wanted:
            host["list"] = wanted
            host["stale"] = host["running"]
            changed.append("zookeeper-zoo-cfg")
        if not host["running"]:
            host["running"] = True
            changed.append("zookeeper-service")
        self._check(("converge", mid))
        return changed

    def restart_pending(self, mid):
        return ["/etc/zookeeper/zoo.cfg"] if self.hosts[mid]["stale"] else []

    def restart(self, mid):
        self._record("restart", mid)
        host = self.hosts[mid]
        host["running"] = False
        self._check(("restart-stop", mid))
        host["running"], host["stale"] = True, False
        self._check(("restart", mid))

    def start(self, mid):
        self._record("start", mid)
        self.hosts[mid]["running"] = True
        self._check(("start", mid))

    def stop(self, mid):
        self._record("stop", mid)
        self.hosts[mid]["running"] = False
        self._check(("stop", mid))

    def decommission(self, mid):
        self._record("decommission", mid)
        self.hosts[mid]["list"] = set()
        return {"service": "removed", "zoo.cfg": "moved aside"}

    def event(self, tag, data):
        pass

    # --- what the runner would read --------------------------------------------------------------
    def deployed(self):
        result = {}
        for mid, host in self.hosts.items():
            if not host["list"]:
                result[mid] = None
                continue
            servers = {self.hosts[m]["myid"]: f"{self.hosts[m]['address']}:2888:3888" for m in host["list"]}
            result[mid] = {"myid": host["myid"], "servers": servers}
        return result


FAST = zm.Timing(gate_timeout=0, step_timeout=0, poll_interval=0)


def pillar_of(count):
    pillar = base_pillar(count)
    pillar["members"] = {mid: dict(entry) for mid, entry in pillar["members"].items()}
    return pillar


def run_change(sim, new_pillar):
    sim.pillar = new_pillar
    new_model = zk_model.EnsembleModel.from_pillar(new_pillar, heap_mb_default=512)
    hosts = sorted(set(sim.hosts) | set(new_pillar["members"]))

    def plan():
        return zm.plan_change(new_model, new_pillar, sim.deployed(), sim.statuses(hosts))

    first = plan()
    report = zm.execute(first["steps"], sim, lambda: plan()["steps"], hosts, final_model=new_model, timing=FAST)
    return first, report


def add_hosts(sim, pillar, *mids):
    for mid in mids:
        entry = pillar["members"][mid]
        sim.hosts[mid] = {"myid": entry["myid"], "address": entry["address"], "list": set(), "running": False,
                          "stale": False}


def test_grow_3_to_5_keeps_a_leader_throughout_and_ends_healthy():
    sim = SimulatedEnsemble(pillar_of(3))
    assert sim.leader == "kafka3"
    new = pillar_of(5)
    add_hosts(sim, new, "kafka4", "kafka5")
    first, report = run_change(sim, new)
    assert [(s["action"], s["minion_id"]) for s in first["steps"]] == [
        ("start", "kafka4"), ("start", "kafka5"), ("reconfigure", "kafka1"), ("reconfigure", "kafka2"),
        ("reconfigure", "kafka3"),
    ]
    assert [(s["action"], s["member"]) for s in report["steps"]] == [
        (s["action"], s["minion_id"]) for s in first["steps"]
    ]
    assert sim.leaderless_after == [] and not sim.split_brain
    assert all(h["list"] == set(new["members"]) and h["running"] for h in sim.hosts.values())
    # Only the old members restart; the leader's restart is the last one.
    restarts = [mid for action, mid in sim.actions if action == "restart"]
    assert restarts == ["kafka1", "kafka2", "kafka3"]
    assert report["steps"][-1]["leader_before"] == "kafka3"
    assert report["steps"][-1]["leader_after"] == "kafka5"


def test_shrink_5_to_3_when_the_leader_is_removed_hands_over_then_decommissions():
    sim = SimulatedEnsemble(pillar_of(5))
    assert sim.leader == "kafka5"
    first, report = run_change(sim, pillar_of(3))
    assert [(s["action"], s["minion_id"]) for s in first["steps"]][-1] == ("replan", None)
    assert report["replans"] == 1
    assert [(s["action"], s["member"]) for s in report["steps"]] == [
        ("stop", "kafka4"), ("stop", "kafka5"), ("start", "kafka4"), ("start", "kafka5"),
        ("reconfigure", "kafka1"), ("reconfigure", "kafka2"), ("reconfigure", "kafka3"),
        ("decommission", "kafka4"), ("decommission", "kafka5"),
    ]
    assert sim.leaderless_after == [] and not sim.split_brain
    assert sim.leader in ("kafka1", "kafka2", "kafka3")
    for mid in ("kafka4", "kafka5"):
        assert not sim.hosts[mid]["running"] and not sim.hosts[mid]["list"]
    assert all(sim.hosts[mid]["list"] == {"kafka1", "kafka2", "kafka3"} for mid in ("kafka1", "kafka2", "kafka3"))


def test_a_halted_grow_resumes_from_the_leaders_list():
    sim = SimulatedEnsemble(pillar_of(3))
    new = pillar_of(5)
    add_hosts(sim, new, "kafka4", "kafka5")
    sim.fail_on = ("restart", "kafka2")
    with pytest.raises(zm.MembershipError, match=r"step 4 \(reconfigure kafka2\) failed: restart kafka2 failed") as info:
        run_change(sim, new)
    # The halt says what was done before it.
    assert [(s["action"], s["member"]) for s in info.value.report["steps"]] == [
        ("start", "kafka4"), ("start", "kafka5"), ("reconfigure", "kafka1")]
    # kafka2 has the new list on disk but still runs the old one; the leader runs the old list.
    assert sim.hosts["kafka2"]["stale"]
    sim.actions.clear()
    first, report = run_change(sim, new)
    assert first["old_members"] == ["kafka1", "kafka2", "kafka3"]
    # Already-done steps are no-ops on the hosts: no second restart of kafka1.
    assert [mid for action, mid in sim.actions if action == "restart"] == ["kafka2", "kafka3"]
    assert sim.leaderless_after == [] and not sim.split_brain
    assert zk_status.ensemble_health(zk_model.EnsembleModel.from_pillar(new, heap_mb_default=512),
                              sim.statuses(list(new["members"])))["verdict"] == "healthy"


def test_a_halted_shrink_after_the_leader_switched_only_decommissions_what_is_left():
    sim = SimulatedEnsemble(pillar_of(5))
    sim.leader = "kafka3"  # as if leadership had been handed over already
    sim.fail_on = ("decommission", "kafka4")
    with pytest.raises(RuntimeError):
        run_change(sim, pillar_of(3))
    sim.actions.clear()
    first, report = run_change(sim, pillar_of(3))
    assert first["old_members"] == ["kafka1", "kafka2", "kafka3"]
    assert [(s["action"], s["member"]) for s in report["steps"]] == [
        ("decommission", "kafka4"), ("decommission", "kafka5"),
    ]
    assert not any(action == "restart" for action, _ in sim.actions)


def test_unchanged_members_plan_nothing():
    sim = SimulatedEnsemble(pillar_of(3))
    model = zk_model.EnsembleModel.from_pillar(pillar_of(3), heap_mb_default=512)
    plan = zm.plan_change(model, pillar_of(3), sim.deployed(), sim.statuses(model.minion_ids))
    assert plan == {"change": False, "old_members": model.minion_ids, "new_members": model.minion_ids, "steps": []}


def test_bare_hosts_plan_nothing():
    model = zk_model.EnsembleModel.from_pillar(pillar_of(3), heap_mb_default=512)
    plan = zm.plan_change(model, pillar_of(3), {"kafka1": None, "kafka2": None}, {})
    assert plan["change"] is False and plan["steps"] == []


def test_a_step_waits_for_its_gates_and_halts_with_the_reason():
    sim = SimulatedEnsemble(pillar_of(3))
    new = pillar_of(5)
    add_hosts(sim, new, "kafka4", "kafka5")
    sim.pillar = new
    model = zk_model.EnsembleModel.from_pillar(new, heap_mb_default=512)
    hosts = sorted(new["members"])
    steps = zm.plan_change(model, new, sim.deployed(), sim.statuses(hosts))["steps"]
    sim.hosts["kafka1"]["running"] = False  # a member dies after the plan was made
    sim.elect()
    with pytest.raises(zm.MembershipError) as info:
        zm.execute(steps, sim, lambda: [], hosts, timing=FAST)
    assert str(info.value) == "step 1 (start kafka4) not started: kafka1 is not serving"
    assert sim.actions == []


def test_a_member_that_does_not_come_back_halts_the_change():
    class NeverServes(SimulatedEnsemble):
        def converge(self, mid):
            changed = super().converge(mid)
            if mid == "kafka4":
                self.hosts[mid]["running"] = False  # crashed on start
                self.elect()
            return changed

    sim = NeverServes(pillar_of(3))
    new = pillar_of(5)
    add_hosts(sim, new, "kafka4", "kafka5")
    with pytest.raises(zm.MembershipError, match=r"step 1 \(start kafka4\) did not complete within 0s: kafka4 does not serve yet"):
        run_change(sim, new)
    assert ("converge", "kafka5") not in sim.actions


def test_running_members_take_the_leaders_list():
    deployed = {
        "kafka1": {"myid": 1, "servers": {1: "127.0.0.11:2888:3888", 2: "127.0.0.12:2888:3888", 3: "127.0.0.13:2888:3888"}},
        "kafka2": {"myid": 2, "servers": {1: "127.0.0.11:2888:3888", 2: "127.0.0.12:2888:3888", 3: "127.0.0.13:2888:3888",
                                          4: "127.0.0.14:2888:3888", 5: "127.0.0.15:2888:3888"}},
        "kafka3": {"myid": 3, "servers": {1: "127.0.0.11:2888:3888", 2: "127.0.0.12:2888:3888", 3: "127.0.0.13:2888:3888"}},
        "kafka4": {"myid": 4, "servers": {}},
        "kafka9": None,
    }
    statuses = {"kafka1": {"mode": "follower"}, "kafka2": {"mode": "follower"}, "kafka3": {"mode": "leader"}}
    members = zm.running_members(deployed, statuses)
    assert sorted(members) == ["kafka1", "kafka2", "kafka3"]
    assert members["kafka2"] == {"myid": 2, "address": "127.0.0.12", "ports": {"quorum": 2888, "election": 3888}}
    # Without a leader the lists must agree.
    with pytest.raises(zm.MembershipError, match="list different servers"):
        zm.running_members(deployed, {})


def test_running_members_name_a_silent_host_from_pillar_or_as_unreachable():
    servers = {1: "127.0.0.11:2888:3888", 2: "127.0.0.12:2888:3888", 3: "127.0.0.13:2888:3888"}
    deployed = {"kafka1": {"myid": 1, "servers": servers}, "kafka2": {"myid": 2, "servers": servers}}
    statuses = {"kafka1": {"mode": "leader"}, "kafka2": {"mode": "follower"}}
    assert sorted(zm.running_members(deployed, statuses, {"kafka3": {"myid": 3}})) == ["kafka1", "kafka2", "kafka3"]
    assert sorted(zm.running_members(deployed, statuses, {})) == ["kafka1", "kafka2", "unreachable-myid-3"]


def test_removing_a_dead_unreachable_member_goes_on_without_its_host():
    pillar5 = pillar_of(5)
    sim = SimulatedEnsemble(pillar5)
    sim.leader = "kafka3"  # a staying leader, so no handover is needed
    sim.hosts["kafka5"]["running"] = False
    sim.elect()
    assert sim.leader == "kafka3"
    deployed = sim.deployed()
    del deployed["kafka5"]  # its minion does not answer either
    new = pillar_of(3)
    model = zk_model.EnsembleModel.from_pillar(new, heap_mb_default=512)
    hosts = sorted(sim.hosts)
    plan = zm.plan_change(model, new, deployed, sim.statuses(hosts))
    assert [(s["action"], s["minion_id"], s["decommission"]) for s in plan["steps"]][-1] == (
        "stop", "unreachable-myid-5", True)
    sim.pillar = new
    report = zm.execute(plan["steps"], sim, lambda: [], hosts, final_model=model, timing=FAST)
    assert "by hand" in report["steps"][-1]["done"]["unreachable"]
    assert ("stop", "unreachable-myid-5") not in sim.actions


def test_stray_host_with_member_files_is_decommissioned():
    sim = SimulatedEnsemble(pillar_of(3))
    sim.hosts["kafka7"] = {"myid": 7, "address": "127.0.0.17", "list": {"kafka1", "kafka2", "kafka3", "kafka7"},
                           "running": False, "stale": False}
    model = zk_model.EnsembleModel.from_pillar(pillar_of(3), heap_mb_default=512)
    plan = zm.plan_change(model, pillar_of(3), sim.deployed(), sim.statuses(sorted(sim.hosts)))
    assert plan["change"] is True
    assert [(s["action"], s["minion_id"], s["decommission"]) for s in plan["steps"]] == [("stop", "kafka7", True)]
    assert zm.describe(plan["steps"]) == ["1. decommission kafka7: kafka7 still has member files but no server list names it"]


def test_unsafe_changes_are_refused_before_any_step():
    sim = SimulatedEnsemble(pillar_of(3))
    seven = pillar_of(7)
    add_hosts(sim, seven, "kafka4", "kafka5", "kafka6", "kafka7")
    model = zk_model.EnsembleModel.from_pillar(seven, heap_mb_default=512)
    with pytest.raises(zk_rules.MembershipChangeRefused, match="3 -> 5 -> 7"):
        zm.plan_change(model, seven, sim.deployed(), sim.statuses(sorted(sim.hosts)))


@pytest.mark.parametrize("line, parsed", [
    ("127.0.0.11:2888:3888", ("127.0.0.11", 2888, 3888)),
    ("zk1.example.com:2888:3888:participant", ("zk1.example.com", 2888, 3888)),
    ("[fd00::1]:2888:3888;2181", ("fd00::1", 2888, 3888)),
])
def test_parse_server_line(line, parsed):
    assert zm.parse_server_line(line) == parsed


def test_parse_server_line_refuses_garbage():
    with pytest.raises(ValueError):
        zm.parse_server_line("127.0.0.11")


def test_hosts_of_another_ensemble_are_left_out():
    sim = SimulatedEnsemble(pillar_of(3))
    deployed = sim.deployed()
    deployed["solo1"] = {"myid": 1, "servers": {1: "127.0.0.16:2888:3888"}}  # its own one-member ensemble
    model = zk_model.EnsembleModel.from_pillar(pillar_of(3), heap_mb_default=512)
    assert sorted(zm.deployed_hosts(deployed, model)) == ["kafka1", "kafka2", "kafka3"]
    plan = zm.plan_change(model, pillar_of(3), deployed, sim.statuses(model.minion_ids))
    assert plan["change"] is False


def test_settled_means_every_member_runs_the_pillar_list():
    sim = SimulatedEnsemble(pillar_of(3))
    model = zk_model.EnsembleModel.from_pillar(pillar_of(3), heap_mb_default=512)
    assert zm.settled(model, sim.deployed())
    five = zk_model.EnsembleModel.from_pillar(pillar_of(5), heap_mb_default=512)
    assert not zm.settled(five, sim.deployed())  # members to add
    half = sim.deployed()
    half["kafka2"]["servers"][4] = "127.0.0.14:2888:3888"  # one member switched lists already
    assert not zm.settled(model, half)
    assert not zm.settled(model, {"kafka1": None})  # bare hosts are not settled: the deploy writes them

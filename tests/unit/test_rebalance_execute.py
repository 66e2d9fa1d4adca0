"""The rebalance executor without Salt: batches, gates, resume, halts (simulated cluster)."""

import pytest

from kafkasalt.ops import steps
from kafkasalt.rebalance import execute, planner

FAST = steps.Timing(gate_timeout=0.05, step_timeout=0.05, poll_interval=0.01)


def test_no_broker_takes_part_in_more_than_the_cap_of_moves_per_batch():
    current = {("t", p): [1, 2, 3] for p in range(12)}
    moves = {("t", p): [1, 2, 4] for p in range(12)}  # every move: 3 -> 4
    batches = execute.batches(moves, current, cap=5)
    assert [len(b) for b in batches] == [5, 5, 2]
    for batch in batches:
        for broker in (3, 4):
            assert sum(broker in execute.involved(current[k], t) for k, t in batch.items()) <= 5


def test_leader_only_changes_cost_nothing_and_bad_caps_are_refused():
    current = {("t", p): [1, 2] for p in range(8)}
    moves = {("t", p): [2, 1] for p in range(8)}
    assert len(execute.batches(moves, current, cap=1)) == 1
    with pytest.raises(ValueError, match="max_moves_per_broker"):
        execute.batches(moves, current, cap=0)


def test_in_flight_reassignments_end_on_their_replicas_minus_the_removed_ones():
    running = [{"topic": "t", "partition": 0, "replicas": [1, 2, 3, 4], "adding": [4], "removing": [3]}]
    assert execute.in_flight_targets(running) == {("t", 0): [1, 2, 4]}


class Cluster:
    """Partitions that reach their target one poll after a move starts."""

    def __init__(self, assignment, brokers=(1, 2, 3, 4)):
        self.assignment = {k: list(v) for k, v in assignment.items()}
        self.moving = {}
        self.running = {b: True for b in brokers}
        self.started = []
        self.in_sync = True

    def view(self):
        topics = {}
        for (topic, partition), replicas in sorted(self.assignment.items()):
            isr = replicas if self.in_sync else replicas[:1]
            topics.setdefault(topic, {"partitions": []})["partitions"].append(
                {"partition": partition, "replicas": replicas, "isr": isr, "leader": replicas[0]})
        return {"topics": topics, "reassignments": sorted(execute.label(k) for k in self.moving),
                "registered": [b for b, up in self.running.items() if up], "processes": dict(self.running)}

    def observe(self, step, phase):
        view = self.view()
        for key, target in list(self.moving.items()):  # progress: done by the next look
            self.assignment[key] = list(target)
            del self.moving[key]
        return view

    def act(self, step):
        if step.params.get("wait_only"):
            return {}
        self.started.append(dict(step.params["moves"]))
        self.moving.update(step.params["moves"])
        return {"partitions": len(step.params["moves"])}

    def event(self, tag, data):
        pass


def _cluster_and_plan(partitions=20):
    current = {("orders", p): [1 + p % 3, 1 + (p + 1) % 3] for p in range(partitions)}
    proposal = planner.plan(current, [1, 2, 3, 4])
    return Cluster(current), proposal, current


def test_a_rebalance_runs_its_batches_and_ends_on_the_planned_layout():
    cluster, proposal, current = _cluster_and_plan()
    plan = execute.plan_execution(proposal.moves, current, cap=2)
    report = steps.run(plan, cluster, FAST)
    assert cluster.assignment == {**current, **proposal.moves}
    assert len(report["steps"]) == len(plan.steps) > 1
    assert sum(len(batch) for batch in cluster.started) == len(proposal.moves)


def test_a_dead_broker_halts_the_rebalance_before_the_next_batch():
    cluster, proposal, current = _cluster_and_plan()
    plan = execute.plan_execution(proposal.moves, current, cap=2)
    original = cluster.act

    def act(step):
        done = original(step)
        cluster.running[2] = False
        return done

    cluster.act = act
    with pytest.raises(steps.Halted) as halted:
        steps.run(plan, cluster, FAST)
    assert "broker 2 is down" in str(halted.value)
    assert len(cluster.started) == 1


def test_under_replicated_partitions_are_not_moved():
    cluster, proposal, current = _cluster_and_plan()
    cluster.in_sync = False
    with pytest.raises(steps.Halted) as halted:
        steps.run(execute.plan_execution(proposal.moves, current), cluster, FAST)
    assert "under-replicated" in str(halted.value) and cluster.started == []


def test_an_interrupted_rebalance_waits_for_its_moves_in_flight_then_goes_on():
    cluster, proposal, current = _cluster_and_plan()
    first = dict(list(proposal.moves.items())[:3])
    cluster.moving.update(first)  # left running by a killed runner
    start = {**current, **first}
    again = planner.plan(start, [1, 2, 3, 4])
    plan = execute.plan_execution(again.moves, start, in_flight=first)
    assert plan.steps[0].action == "finish-in-flight"
    steps.run(plan, cluster, FAST)
    assert cluster.assignment == {**start, **again.moves}


def test_a_reassignment_someone_else_started_halts_the_rebalance():
    cluster, proposal, current = _cluster_and_plan()
    cluster.moving[("other", 0)] = [1, 2]
    cluster.assignment[("other", 0)] = [3, 4]

    def observe(step, phase):  # the foreign move never finishes
        return cluster.view()

    cluster.observe = observe
    with pytest.raises(steps.Halted) as halted:
        steps.run(execute.plan_execution(proposal.moves, current), cluster, FAST)
    assert "not started by this rebalance run: other-0" in str(halted.value)

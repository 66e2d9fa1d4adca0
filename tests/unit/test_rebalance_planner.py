"""Partition rebalance planner: minimal moves, balance, racks, drains, report and CLI."""

import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from kafkasalt.rebalance import (PlanError, bounds, format_reassignment, plan, read_reassignment, read_sizes,
                                 reassignment_json, validate)
from kafkasalt.rebalance.synthetic import kafka_cluster, sizes_for

ROOT = Path(__file__).resolve().parents[2]


def racks_of(count, names="abc"):
    return {b: names[(b - 1) % len(names)] for b in range(1, count + 1)}


def check_plan(current, proposal, brokers, racks=None, drain=(), leader_ratio=1.1):
    """The hard rules and the balance goals every plan must meet."""
    targets = sorted(set(brokers) - set(drain))
    proposed = proposal.proposed
    counts, leaders = Counter(), Counter()
    for key, replicas in proposed.items():
        assert len(set(replicas)) == len(replicas), (key, replicas)
        assert len(replicas) == len(current[key]), "the replication factor never changes"
        assert set(replicas) <= set(targets), (key, replicas)
        if racks:
            rack_count = len({racks[b] for b in targets})
            used = [racks[b] for b in replicas]
            assert len(set(used)) == min(len(replicas), rack_count), (key, replicas, used)
        counts.update(replicas)
        leaders[replicas[0]] += 1
    # Only the partitions that change are listed, each with its new list.
    assert all(proposal.moves[key] != list(current[key]) for key in proposal.moves)
    assert {key for key in current if list(current[key]) != proposed[key]} == set(proposal.moves)
    groups = bounds.replica_groups(Counter(len(r) for r in current.values()), targets, racks)
    for members, total, _ in groups:
        floor_ = total // len(members)
        ceil_ = -(-total // len(members))
        assert all(floor_ <= counts[b] <= ceil_ for b in members), ({b: counts[b] for b in members}, floor_)
    lead = [leaders[b] for b in targets]
    assert max(lead) - min(lead) <= 2, leaders
    assert proposal.replica_moves <= 1.05 * proposal.replica_moves_bound + 1e-9
    if leader_ratio:
        assert proposal.leader_changes <= leader_ratio * proposal.leader_changes_bound + 1e-9
    # Applied, the plan is final: planning again moves nothing.
    again = plan(proposed, targets, racks={b: racks[b] for b in targets} if racks else None)
    assert again.moves == {}
    return counts, leaders


@pytest.mark.parametrize("old, new, partitions", [(3, 4, 300), (6, 7, 1000), (6, 9, 2000)])
def test_scale_out_moves_the_fewest_replicas_and_balances_counts_and_leaders(old, new, partitions):
    current = kafka_cluster(partitions, range(1, old + 1), rf=3, seed=old * 10 + new)
    brokers = list(range(1, new + 1))
    proposal = plan(current, brokers)
    counts, leaders = check_plan(current, proposal, brokers)
    assert proposal.replica_moves == proposal.replica_moves_bound
    assert all(counts[b] > 0 and leaders[b] > 0 for b in range(old + 1, new + 1))
    # The bound by hand: every old broker ends at floor/ceil of the mean.
    total = 3 * partitions
    assert proposal.replica_moves_bound >= sum(max(0, c - -(-total // new)) for c in Counter(
        b for r in current.values() for b in r).values())


def test_drained_broker_ends_empty_and_leads_nothing():
    current = kafka_cluster(1200, range(1, 7), rf=3, seed=5)
    held = sum(1 for r in current.values() if 6 in r)
    proposal = plan(current, list(range(1, 7)), drain=[6])
    counts, leaders = check_plan(current, proposal, list(range(1, 7)), drain=[6])
    assert counts[6] == 0 and leaders[6] == 0
    assert proposal.replica_moves >= held
    assert proposal.replica_moves <= 1.05 * proposal.replica_moves_bound
    # The drained broker may also be left off the broker list.
    assert plan(current, [1, 2, 3, 4, 5], drain=[6]).moves == proposal.moves


def test_three_racks_rf3_one_replica_per_rack_even_from_a_rack_unaware_layout():
    racks = racks_of(9)
    aware = kafka_cluster(900, range(1, 7), rf=3, seed=7, racks=racks_of(6))
    proposal = plan(aware, list(range(1, 10)), racks=racks)
    check_plan(aware, proposal, list(range(1, 10)), racks=racks)
    assert proposal.replica_moves == proposal.replica_moves_bound
    unaware = kafka_cluster(600, range(1, 7), rf=3, seed=7)  # racks named afterwards: some partitions break them
    assert any(len({racks[b] for b in r}) < 3 for r in unaware.values())
    proposal = plan(unaware, list(range(1, 7)), racks=racks_of(6))
    # Fixing a rack may move a leader replica where that saves a replica move (moves come
    # first), which the leader bound (balance only) does not count.
    check_plan(unaware, proposal, list(range(1, 7)), racks=racks_of(6), leader_ratio=None)
    assert proposal.replica_moves <= 1.05 * proposal.replica_moves_bound


def test_a_new_broker_in_one_rack_takes_only_that_racks_share():
    # 3 racks, RF 3: every rack holds one replica of every partition, so broker 7 (rack a)
    # shares rack a's replicas with brokers 1 and 4; racks b and c keep theirs (evened out
    # between their own brokers where Kafka's layout left them uneven).
    current = kafka_cluster(600, range(1, 7), rf=3, seed=8, racks=racks_of(6))
    proposal = plan(current, list(range(1, 8)), racks=racks_of(7))
    counts, _ = check_plan(current, proposal, list(range(1, 8)), racks=racks_of(7))
    assert counts[1] == counts[4] == counts[7] == 200
    assert counts[2] == counts[3] == 300
    racks = racks_of(7)
    for key, replicas in proposal.moves.items():  # every moved replica stays in its rack
        left, came = set(current[key]) - set(replicas), set(replicas) - set(current[key])
        assert sorted(racks[b] for b in left) == sorted(racks[b] for b in came)
    assert sum(1 for replicas in proposal.moves.values() if 7 in replicas) == 200


def test_an_already_balanced_cluster_yields_no_moves():
    current = {("t", i): [i % 6 + 1, (i + 1) % 6 + 1, (i + 2) % 6 + 1] for i in range(600)}
    proposal = plan(current, list(range(1, 7)))
    assert proposal.moves == {} and proposal.replica_moves == proposal.leader_changes == 0
    assert proposal.replica_moves_bound == proposal.leader_changes_bound == 0
    assert proposal.reassignment() == {"version": 1, "partitions": []}


def test_uneven_leaders_alone_are_fixed_by_reordering_replicas():
    # Balanced replicas (300 each), but broker 1 comes first wherever it is: it leads 300,
    # brokers 5 and 6 lead nothing.
    current = {}
    for i in range(600):
        replicas = [i % 6 + 1, (i + 1) % 6 + 1, (i + 2) % 6 + 1]
        if 1 in replicas:
            replicas.remove(1)
            replicas.insert(0, 1)
        current[("t", i)] = replicas
    assert Counter(r[0] for r in current.values()) == {1: 300, 2: 100, 3: 100, 4: 100}
    proposal = plan(current, list(range(1, 7)))
    _, leaders = check_plan(current, proposal, list(range(1, 7)))
    assert proposal.replica_moves == 0
    assert proposal.leader_changes == proposal.leader_changes_bound
    assert all(set(proposal.moves[key]) == set(current[key]) for key in proposal.moves)


def test_the_plan_is_deterministic():
    current = kafka_cluster(800, range(1, 7), rf=3, seed=9)
    sizes = sizes_for(current, seed=9)
    first = plan(current, list(range(1, 10)), drain=[2], sizes=sizes)
    shuffled = dict(reversed(list(current.items())))
    second = plan(shuffled, [9, 8, 7, 6, 5, 4, 3, 2, 1], drain=[2], sizes=sizes)
    assert first.moves == second.moves
    assert first.summary(10**8) == second.summary(10**8)


def test_sizes_balance_bytes_and_the_report_has_the_numbers():
    current = kafka_cluster(1500, range(1, 7), rf=3, seed=11)
    sizes = sizes_for(current, seed=11)
    proposal = plan(current, list(range(1, 10)), sizes=sizes)
    check_plan(current, proposal, list(range(1, 10)))
    summary = proposal.summary(throttle=50 * 1024 * 1024)
    after = summary["balance"]["after"]["mb"]
    assert after["max"] - after["min"] <= 0.05 * after["max"]
    assert summary["replica_moves"] == proposal.replica_moves
    assert summary["replica_moves_lower_bound"] == proposal.replica_moves_bound
    assert summary["leader_moves"] == proposal.leader_changes
    moved = sum(sizes[key] * len(set(proposal.moves[key]) - set(current[key])) for key in proposal.moves)
    assert summary["data_to_move_mb"] == round(moved / 2**20, 1)
    rows = {row["broker"]: row for row in summary["per_broker"]}
    assert rows[7]["replicas_before"] == 0 and rows[7]["replicas_after"] > 0
    assert rows[7]["mb_in"] == rows[7]["mb_after"]
    busiest = max(max(row["mb_in"], row["mb_out"]) for row in rows.values())
    assert summary["estimated_seconds"] == pytest.approx(busiest / 50, rel=0.01)
    assert plan(current, list(range(1, 10))).summary()["data_to_move_mb"] is None


def test_bounds_count_what_must_move():
    # 10 replicas over 3 brokers end 4/3/3. From 6, 4, 0 that takes 3 moves: only one broker may
    # keep 4, so 6 -> 4 (2) and 4 -> 3 (1); from 6, 3, 1 it takes 2.
    assert bounds.group_excess({1: 6, 2: 4, 3: 0}, 10, (1, 2, 3)) == 3
    assert bounds.group_excess({1: 6, 2: 3, 3: 1}, 10, (1, 2, 3)) == 2
    assert bounds.group_excess({1: 5, 2: 5, 3: 5}, 15, (1, 2, 3)) == 0
    assert bounds.replica_move_bound([((1, 2), 8, False)], {1: 4, 2: 4, 3: 4}, drained_replicas=4) == 4
    # Leaders: 4 brokers, 100 partitions; a band [24, 26] is reached from 40/20/20/20 in 14 changes.
    assert bounds.leader_change_bound({1: 40, 2: 20, 3: 20, 4: 20}, 100, [1, 2, 3, 4]) == 14
    # 3 racks and RF 3 pin each rack to one replica per partition; 4 racks and RF 3 do not.
    groups = bounds.replica_groups({3: 100}, [1, 2, 3, 4, 5, 6, 7], racks_of(7))
    assert sorted((g[0], g[1], g[2]) for g in groups) == [((1, 4, 7), 100, True), ((2, 5), 100, True),
                                                          ((3, 6), 100, True)]
    assert bounds.replica_groups({3: 100}, [1, 2, 3, 4], racks_of(4, "abcd")) == [((1, 2, 3, 4), 300, False)]


@pytest.mark.parametrize("kwargs, argument", [
    ({"brokers": [1, 2, 3, 4], "racks": {1: "a", 2: "b", 3: "c", 4: "a", 9: "b"}}, "racks"),
    ({"brokers": [1, 2, 3, 4], "racks": {1: "a", 2: "b", 3: "c"}}, "racks"),
    ({"brokers": [1, 2, 3], "drain": [3]}, "drain"),
    ({"brokers": [1, 2, 4]}, "brokers"),
    ({"brokers": [1, 2, 3], "drain": [8]}, "drain"),
    ({"brokers": []}, "brokers"),
    ({"brokers": [1, 2, 3], "sizes": {("t", 0): -1}}, "sizes"),
])
def test_bad_input_names_the_argument(kwargs, argument):
    current = {("t", 0): [1, 2, 3], ("t", 1): [2, 3, 1]}
    with pytest.raises(PlanError) as caught:
        validate(current, **kwargs)
    assert caught.value.argument == argument
    assert str(caught.value).startswith(f"{argument}: ")
    with pytest.raises(ValueError, match=f"^{argument}: "):
        plan(current, **kwargs)


@pytest.mark.parametrize("current, fragment", [
    ({("t", 0): [1, 1, 2]}, "twice"),
    ({("t", 0): []}, "no replicas"),
    ({("t", -1): [1]}, r"not a \(topic, partition\)"),
    ({("t", 0): [1, "2"]}, "not a broker id"),
])
def test_bad_assignments_are_refused(current, fragment):
    with pytest.raises(PlanError, match=fragment) as caught:
        validate(current, [1, 2, 3])
    assert caught.value.argument == "current"


def test_kafka_json_formats_round_trip():
    data = {"version": 1, "partitions": [{"topic": "a", "partition": 0, "replicas": [1, 2], "log_dirs": ["any", "any"]},
                                         {"topic": "b", "partition": 3, "replicas": [2, 1]}]}
    current = read_reassignment(data)
    assert current == {("a", 0): [1, 2], ("b", 3): [2, 1]}
    assert json.loads(format_reassignment(reassignment_json(current))) == {
        "version": 1, "partitions": [{"topic": "a", "partition": 0, "replicas": [1, 2]},
                                     {"topic": "b", "partition": 3, "replicas": [2, 1]}]}
    for bad in ({"partitions": [{"topic": "a", "partition": 0, "replicas": [1]}] * 2}, {"version": 2, "partitions": []},
                [1], {"partitions": [{"topic": "a", "partition": "0", "replicas": [1]}]}):
        with pytest.raises(PlanError):
            read_reassignment(bad)
    log_dirs = {"version": 1, "brokers": [
        {"broker": 1, "logDirs": [{"logDir": "/d", "error": None, "partitions": [
            {"partition": "my-topic-0", "size": 100, "offsetLag": 0, "isFuture": False},
            {"partition": "my-topic-0", "size": 900, "offsetLag": 0, "isFuture": True}]}]},
        {"broker": 2, "logDirs": [{"logDir": "/d", "error": None, "partitions": [
            {"partition": "my-topic-0", "size": 120, "offsetLag": 0, "isFuture": False}]}]}]}
    assert read_sizes(log_dirs) == {("my-topic", 0): 120}
    assert read_sizes({"partitions": [{"topic": "a", "partition": 1, "size": 5}]}) == {("a", 1): 5}
    assert read_sizes({"a-b-2": 7}) == {("a-b", 2): 7}


# --- the CLI, through a real subprocess --------------------------------------------------------

def run_cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "kafkasalt.rebalance", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_round_trip_lists_only_changes_and_applied_output_needs_nothing_more(tmp_path):
    current = kafka_cluster(600, [1, 2, 3], rf=3, seed=13, racks={1: "a", 2: "b", 3: "c"})
    (tmp_path / "current.json").write_text(json.dumps(reassignment_json(current)))
    sizes = sizes_for(current, seed=13)
    (tmp_path / "sizes.json").write_text(json.dumps({f"{t}-{p}": size for (t, p), size in sizes.items()}))
    result = run_cli("--current", "current.json", "--brokers", "1-4", "--racks", "1=a,2=b,3=c,4=a",
                     "--sizes", "sizes.json", "--throttle", "104857600", "--report", "report.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "replica moves (lower bound" in result.stderr and "MB to move" in result.stderr
    proposed = read_reassignment(json.loads(result.stdout))
    assert proposed and all(proposed[key] != current[key] for key in proposed)
    assert all(4 in replicas for replicas in proposed.values())  # broker 4 only takes rack a's share
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["replica_moves"] == report["replica_moves_lower_bound"] == 300  # rack a: 600 over brokers 1 and 4
    assert report["partitions_changed"] == len(proposed)
    applied = {**current, **proposed}
    (tmp_path / "applied.json").write_text(json.dumps(reassignment_json(applied)))
    again = run_cli("--current", "applied.json", "--brokers", "1,2,3,4", "--racks", "1=a,2=b,3=c,4=a", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == {"version": 1, "partitions": []}


ERROR_CASES = [
    (["--brokers", "1,2,3,4", "--racks", "1=a,2=b,3=c,9=a"], "--racks"),
    (["--brokers", "1,2,3", "--drain", "3"], "--drain"),
    (["--brokers", "1,2"], "--brokers"),
    (["--brokers", "1,x"], "--brokers"),
    (["--brokers", "1-4", "--throttle", "fast"], "--throttle"),
    (["--current", "malformed.json", "--brokers", "1,2,3"], "--current"),
    (["--current", "missing.json", "--brokers", "1,2,3"], "--current"),
]


def error_case_files(tmp_path, args):
    current = {("t", i): [1 + i % 3, 1 + (i + 1) % 3, 1 + (i + 2) % 3] for i in range(30)}
    (tmp_path / "current.json").write_text(json.dumps(reassignment_json(current)))
    (tmp_path / "malformed.json").write_text('{"version": 1, "partitions": [')
    return args if "--current" in args else ["--current", "current.json", *args]


@pytest.mark.parametrize("args, option", ERROR_CASES)
def test_cli_errors_are_one_line_naming_the_argument_and_print_nothing(tmp_path, monkeypatch, args, option):
    from kafkasalt.rebalance.__main__ import main
    monkeypatch.chdir(tmp_path)
    stdout, stderr = io.StringIO(), io.StringIO()
    assert main(error_case_files(tmp_path, args), stdout=stdout, stderr=stderr) == 2
    assert stdout.getvalue() == ""
    lines = stderr.getvalue().strip().splitlines()
    assert len(lines) == 1 and f"error: {option}:" in lines[0], stderr.getvalue()


@pytest.mark.parametrize("args, option", [ERROR_CASES[0], ERROR_CASES[5]])
def test_cli_errors_through_a_real_process_exit_2_with_nothing_on_stdout(tmp_path, args, option):
    result = run_cli(*error_case_files(tmp_path, args), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"error: {option}:" in lines[0], result.stderr

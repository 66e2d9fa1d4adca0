"""The JBOD planner: which replica moves to which log directory of one broker."""

import pytest

from kafkasalt.rebalance import disks


def _layout(**dirs):
    return {f"/d/{name}": {("t", p): size for p, size in replicas.items()} for name, replicas in dirs.items()}


def test_a_new_directory_gets_half_the_replicas_smallest_first():
    layout = _layout(a={p: 100 + p for p in range(10)}, b={})
    moves = disks.plan(layout, ["/d/a", "/d/b"])
    assert len(moves) == 5 and set(moves.values()) == {"/d/b"}
    assert sorted(p for _, p in moves) == [0, 1, 2, 3, 4]
    after = disks.spread(disks.apply(layout, moves), ["/d/a", "/d/b"])
    assert after["/d/a"]["replicas"] == after["/d/b"]["replicas"] == 5


def test_a_dropped_directory_is_emptied_into_the_others_and_nothing_else_moves():
    layout = _layout(a={0: 10, 1: 10}, b={2: 10, 3: 10}, c={4: 50, 5: 5})
    moves = disks.plan(layout, ["/d/a", "/d/b"])
    assert set(moves) == {("t", 4), ("t", 5)} and set(moves.values()) <= {"/d/a", "/d/b"}
    counts = {d: v["replicas"] for d, v in disks.spread(disks.apply(layout, moves), ["/d/a", "/d/b", "/d/c"]).items()}
    assert counts == {"/d/a": 3, "/d/b": 3, "/d/c": 0}


def test_balanced_directories_need_no_move_and_one_directory_is_left_alone():
    assert disks.plan(_layout(a={0: 1, 1: 1}, b={2: 1}), ["/d/a", "/d/b"]) == {}
    assert disks.plan(_layout(a={0: 1, 1: 1}), ["/d/a"]) == {}


def test_replicas_cannot_leave_when_no_wanted_directory_is_in_use_yet():
    with pytest.raises(ValueError, match="log_dirs: replicas must leave /d/a"):
        disks.plan(_layout(a={0: 1}), ["/d/new"])

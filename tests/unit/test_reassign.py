"""Replication-factor planning."""

import pytest

from kafkasalt.kafka.reassign import replication_factor_plan


def test_growing_keeps_the_preferred_leader_first_and_prefers_new_racks():
    plan = replication_factor_plan({0: [1, 2]}, [1, 2, 3, 4], 3, racks={1: "a", 2: "b", 3: "a", 4: "c"})
    assert plan == {0: [1, 2, 4]}


def test_growing_balances_added_replicas_across_brokers():
    plan = replication_factor_plan({0: [1], 1: [1], 2: [1]}, [1, 2, 3], 2)
    assert sorted(r[1] for r in plan.values()) == [2, 2, 3]
    assert all(r[0] == 1 for r in plan.values())


def test_shrinking_drops_from_the_end_and_unchanged_partitions_are_left_out():
    plan = replication_factor_plan({0: [3, 1, 2], 1: [1, 2]}, [1, 2, 3], 2)
    assert plan == {0: [3, 1]}


@pytest.mark.parametrize("rf", [0, 4, "3", True])
def test_bad_replication_factor_names_the_argument(rf):
    with pytest.raises(ValueError, match="replication_factor"):
        replication_factor_plan({0: [1]}, [1, 2, 3], rf)

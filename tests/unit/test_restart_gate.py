"""Restart gating rules (Strimzi's availability rule, controller last, rack batches)."""

from kafkasalt.ops import gates as gate


def topics(**partitions):
    """topics(orders=[(leader, replicas, isr), ...])"""
    return {name: {"partitions": [{"partition": i, "leader": leader, "replicas": replicas, "isr": isr}
                                  for i, (leader, replicas, isr) in enumerate(parts)]}
            for name, parts in partitions.items()}


def test_min_isr_kept_passes_when_every_partition_keeps_enough_in_sync_replicas():
    t = topics(orders=[(1, [1, 2, 3], [1, 2, 3]), (2, [2, 3, 1], [2, 3, 1])])
    check = gate.min_isr_kept_without(1, t, {"orders": 2})
    assert check.passed


def test_min_isr_kept_fails_with_the_partition_and_numbers():
    t = topics(orders=[(1, [1, 2, 3], [1, 2]), (2, [2, 3, 1], [2, 3, 1])])
    check = gate.min_isr_kept_without(1, t, {"orders": 2})
    assert not check.passed
    assert "orders-0 (isr [1, 2], min.insync.replicas 2)" in check.reason


def test_min_isr_uses_the_broker_default_for_topics_without_an_override():
    t = topics(logs=[(1, [1, 2], [1, 2])])
    assert gate.min_isr_kept_without(1, t, {}, default_min_isr=1).passed
    assert not gate.min_isr_kept_without(1, t, {}, default_min_isr=2).passed


def test_partitions_on_other_brokers_do_not_count():
    t = topics(elsewhere=[(2, [2, 3], [2])])
    assert gate.min_isr_kept_without(1, t, {"elsewhere": 2}).passed


def test_offline_and_under_replicated_partitions_are_named():
    t = topics(a=[(-1, [1, 2], []), (1, [1, 2], [1])])
    offline = gate.no_offline_partitions(t)
    under = gate.no_under_replicated(t)
    assert not offline.passed and "a-0" in offline.reason
    assert not under.passed and "a-1" in under.reason and "2 partition(s)" in under.reason


def test_reassignment_in_flight_blocks_unless_forced():
    assert not gate.no_reassignment_in_flight(["orders-0"]).passed
    assert gate.no_reassignment_in_flight(["orders-0"], force=True).passed
    assert gate.no_reassignment_in_flight([]).passed


def test_after_restart_needs_registration_and_full_replication():
    t = topics(a=[(1, [1, 2], [1, 2])])
    assert gate.passed(gate.after_restart(1, [1, 2], t))
    failed = gate.failures(gate.after_restart(3, [1, 2], t))
    assert [c.name for c in failed] == ["broker_registered"]


def test_controller_restarts_last():
    assert gate.restart_order([3, 1, 2], controller_id=1) == [2, 3, 1]
    assert gate.restart_order([3, 2], controller_id=1) == [2, 3]


def test_start_timeout_grows_with_data_and_is_capped():
    assert gate.start_timeout(0) == gate.BASE_START_TIMEOUT
    assert gate.start_timeout(10 * 2**30) == gate.BASE_START_TIMEOUT + 10 * gate.SECONDS_PER_GIB
    assert gate.start_timeout(10**15) == gate.MAX_START_TIMEOUT


def test_rack_batches_only_when_no_partition_has_two_replicas_in_a_rack():
    racks = {1: "a", 2: "b", 3: "c", 4: "a"}
    spread = topics(t=[(1, [1, 2, 3], [1, 2, 3]), (4, [4, 2, 3], [4, 2, 3])])
    batches, _ = gate.rack_batches([1, 2, 3, 4], racks, spread, controller_id=2)
    assert batches == [[1, 4], [3], [2]]
    doubled = topics(t=[(1, [1, 4], [1, 4])])
    batches, reason = gate.rack_batches([1, 4], racks, doubled, controller_id=1)
    assert batches is None and "rack a" in reason

"""kafka_topic states through Salt's loader dunders, over a fake cluster."""

import pytest

from _states import kafka_topic
from tests.unit.states.state_fakes import converge


@pytest.fixture
def configure_loader_modules(cluster, opts):
    return {kafka_topic: {"__salt__": cluster.salt_functions(), "__opts__": opts}}


def test_virtual_needs_the_kafka_module():
    assert kafka_topic.__virtual__() == "kafka_topic"


def test_present_creates_the_topic(cluster, opts):
    converge(lambda: kafka_topic.present("orders", partitions=6, replication_factor=3,
                                         config={"retention.ms": 604800000}),
             cluster, opts,
             changes={"created": {"partitions": 6, "replication_factor": 3, "config": {"retention.ms": "604800000"}}})
    state = cluster.topic_state("orders")
    assert (state["partitions"], state["replication_factor"], state["config"]) == (6, 3, {"retention.ms": "604800000"})


def test_present_grows_re_replicates_and_configures_the_topic(cluster, opts):
    cluster.add_topic("orders", 3, 2, config={"retention.ms": "1000", "cleanup.policy": "compact"})
    _, done, _, _ = converge(
        lambda: kafka_topic.present("orders", partitions=6, replication_factor=3, config={"retention.ms": 604800000}),
        cluster, opts,
        changes={"partitions": {"old": 3, "new": 6}, "replication_factor": {"old": 2, "new": 3},
                 "config": {"cleanup.policy": {"old": "compact", "new": None},
                            "retention.ms": {"old": "1000", "new": "604800000"}}})
    # Partitions added before the reassignment get the new replication factor too.
    assert {p: len(r) for p, r in cluster.topics["orders"]["assignment"].items()} == {p: 3 for p in range(6)}
    assert cluster.topics["orders"]["config"] == {"retention.ms": "604800000"}
    assert "partitions reassigned: orders:0, orders:1, orders:2, orders:3, orders:4, orders:5" in done["comment"]


def test_present_without_manage_config_leaves_other_keys(cluster, opts):
    cluster.add_topic("orders", 6, 3, config={"cleanup.policy": "compact"})
    converge(lambda: kafka_topic.present("orders", partitions=6, config={"retention.ms": 1000}, manage_config=False),
             cluster, opts, changes={"config": {"retention.ms": {"old": None, "new": "1000"}}})
    assert cluster.topics["orders"]["config"] == {"cleanup.policy": "compact", "retention.ms": "1000"}


def test_present_refuses_to_shrink_or_over_replicate(cluster, opts):
    cluster.add_topic("orders", 6, 3)
    for test in (True, False):
        opts["test"] = test
        shrink = kafka_topic.present("orders", partitions=3)
        assert shrink["result"] is False and "cannot shrink" in shrink["comment"] and shrink["changes"] == {}
        wide = kafka_topic.present("orders", partitions=6, replication_factor=4)
        assert wide["result"] is False and "more than the 3 brokers" in wide["comment"]
    assert not cluster.writes


def test_absent_deletes_the_topic(cluster, opts):
    cluster.add_topic("old-topic", 1, 1)
    converge(lambda: kafka_topic.absent("old-topic"), cluster, opts, changes={"deleted": "old-topic"})
    assert "old-topic" not in cluster.topics


def test_absent_leaves_internal_topics_unless_allowed(cluster, opts):
    cluster.add_topic("__consumer_offsets", 50, 3, internal=True)
    refused = kafka_topic.absent("__consumer_offsets")
    assert refused["result"] is False and "allow_internal" in refused["comment"]
    assert "__consumer_offsets" in cluster.topics
    converge(lambda: kafka_topic.absent("__consumer_offsets", allow_internal=True), cluster, opts,
             changes={"deleted": "__consumer_offsets"})

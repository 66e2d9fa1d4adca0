"""zookeeper_znode.present through Salt's loader dunders, over a fake ensemble."""

from unittest.mock import patch

import pytest
from salt.exceptions import CommandExecutionError

from _states import zookeeper_znode
from tests.unit.states.state_fakes import converge


@pytest.fixture
def configure_loader_modules(cluster, opts):
    return {zookeeper_znode: {"__salt__": cluster.salt_functions(), "__opts__": opts}}


def test_virtual_needs_the_zookeeper_module():
    assert zookeeper_znode.__virtual__() == "zookeeper_znode"


def test_present_creates_the_znode_with_its_data(cluster, opts):
    converge(lambda: zookeeper_znode.present("/kafka", acl=["sasl:kafka:cdrwa", "sasl:super:cdrwa"], data="x"),
             cluster, opts, changes={"created": "/kafka", "data": "updated"})
    assert cluster.znodes["/kafka"] == {"acl": ["sasl:kafka:cdrwa", "sasl:super:cdrwa"], "data": b"x"}


def test_present_sets_the_acl_of_an_existing_znode(cluster, opts):
    converge(lambda: zookeeper_znode.present("/", acl=["world:anyone:r", "sasl:super:cdrwa"]), cluster, opts,
             changes={"acl": {"old": ["world:anyone:cdrwa"], "new": ["sasl:super:cdrwa", "world:anyone:r"]}})


def test_present_under_test_on_an_unreachable_ensemble_plans_the_creation(cluster, opts):
    def unreachable(path, acl, data=None, dry_run=False):
        raise CommandExecutionError("no ZooKeeper member answered")

    opts["test"] = True
    with patch.dict(zookeeper_znode.__salt__, {"zookeeper_ensemble.znode_ensure": unreachable}):
        planned = zookeeper_znode.present("/kafka", acl=["sasl:super:cdrwa"])
        opts["test"] = False
        failed = zookeeper_znode.present("/kafka", acl=["sasl:super:cdrwa"])
    assert planned["result"] is None
    assert planned["changes"] == {"created": "/kafka", "acl": {"new": ["sasl:super:cdrwa"]}}
    assert failed["result"] is False and failed["comment"] == "no ZooKeeper member answered"

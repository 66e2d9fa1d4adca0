"""ZooKeeper membership changes on the lab: grow 3 -> 5 and shrink 5 -> 3 under load.

Two spare bare hosts (zk4, zk5) join the lab; the override pillar adds them to
``zookeeper:members`` and later removes them. Kafka keeps running on the ensemble throughout
(only ``zookeeper.deploy`` runs, so the brokers' connect string stays on the three original
members). A kazoo writer keeps writing through the whole change: no acknowledged write may be
lost and no write may fail, which is the proof that a quorum was kept at every step.
"""

import json
import os
import time

import pytest

from lab.saltlab import SPARE_HOSTS
from tests.conftest import bench
from tests.integration.conftest import ZkWriter, host_file

pytestmark = pytest.mark.lab

ORIGINAL = ["kafka1", "kafka2", "kafka3"]
GROWN = {"zookeeper": {"members": {"zk4": {"myid": 4, "address": SPARE_HOSTS["zk4"]},
                                   "zk5": {"myid": 5, "address": SPARE_HOSTS["zk5"]}}}}


@pytest.fixture(scope="module")
def spares(lab, ensure_deployed):
    ensure_deployed()
    started = time.monotonic()
    lab.add_hosts(SPARE_HOSTS)
    bench(f"zookeeper membership: two spare bare hosts joined the lab in {time.monotonic() - started:.1f}s")
    yield lab
    lab.set_override({})
    lab.remove_hosts(list(SPARE_HOSTS))


def _health(lab, asker="kafka1"):
    return lab.salt_json(asker, "zookeeper_ensemble.health")[asker]


def _per_step(steps):
    return ", ".join(f"{s['action']} {s['member']} {s['seconds']}s" for s in steps)


def _membership(run):
    step = run.steps.get("zookeeper-membership")
    assert step is not None, f"no membership step ran: {list(run.steps)}"
    return step


def test_grow_plan_under_test_mode_touches_nothing(spares):
    lab = spares
    lab.set_override(GROWN)
    # What zookeeper.deploy's membership step reports under test=True (the orchestration wiring
    # of test=True is covered by the TLS switch module).
    proc = lab.salt_run("zookeeper_ensemble.change_membership", "test=True", "--out=json", check=False)
    step = json.loads(proc.stdout)
    assert step["result"] is None, step
    planned = step["changes"]["steps"]
    assert [line.split(":")[0] for line in planned[:2]] == ["1. start zk4", "2. start zk5"]
    assert all(" reconfigure " in line for line in planned[2:]), planned
    assert step["changes"]["to"] == ORIGINAL + ["zk4", "zk5"]
    for host in SPARE_HOSTS:
        assert host_file(lab, host, "/etc/zookeeper/zoo.cfg") is None
    assert len(_health(lab)["serving"]) == 3


def test_grow_3_to_5_keeps_quorum_and_loses_no_write(spares, orchestrate, lab_secrets):
    lab = spares
    lab.set_override(GROWN)
    leader_before = _health(lab)["leader"]
    with ZkWriter(lab_secrets["zk_super"], "/grow-test") as writer:
        run = orchestrate("zookeeper.deploy")
    assert run.succeeded, run.text()[-4000:]
    steps = _membership(run)["changes"]["steps"]
    order = [(s["action"], s["member"]) for s in steps]
    followers = [m for m in ORIGINAL if m != leader_before]
    assert order == [("start", "zk4"), ("start", "zk5")] + [("reconfigure", m) for m in followers] + [
        ("reconfigure", leader_before)]
    health = _health(lab, "zk5")
    assert health["verdict"] == "healthy", health
    assert len(health["members"]) == 5 and health["synced_followers"] == 4
    # Every member has its pillar files: the deploy's own converge step found nothing to change.
    assert not [c for c in run.host_changes() if not c.startswith("master/")], run.host_changes()
    bench(f"zookeeper membership 3 -> 5: {run.seconds:.1f}s in total, per step {_per_step(steps)}; {writer.summary()}")
    writer.assert_clean()
    assert lab.salt_json("kafka1", "kafka.health")["kafka1"]["verdict"] == "healthy"


def test_second_run_on_five_members_changes_nothing(spares, orchestrate):
    lab = spares
    lab.set_override(GROWN)
    run = orchestrate("zookeeper.deploy")
    assert run.succeeded, run.text()[-3000:]
    assert "zookeeper-membership" not in run.steps
    assert run.host_changes() == []


def test_shrink_5_to_3_decommissions_the_removed_members(spares, orchestrate, lab_secrets):
    lab = spares
    lab.set_override(GROWN)
    leader_before = _health(lab)["leader"]
    lab.set_override({})
    with ZkWriter(lab_secrets["zk_super"], "/shrink-test") as writer:
        run = orchestrate("zookeeper.deploy")
    assert run.succeeded, run.text()[-4000:]
    membership = _membership(run)["changes"]
    steps = membership["steps"]
    order = [(s["action"], s["member"]) for s in steps]
    # The removed members are decommissioned last, after every staying member switched lists.
    assert order[-2:] == [("decommission", "zk4"), ("decommission", "zk5")], order
    reconfigured = [m for action, m in order if action == "reconfigure"]
    assert sorted(reconfigured) == ORIGINAL
    if leader_before in SPARE_HOSTS:
        # The leader was being removed: leadership was handed to a staying member first.
        assert membership["replans"] == 1 and order[0][0] == "stop", order
    health = _health(lab)
    assert health["verdict"] == "healthy", health
    assert len(health["members"]) == 3 and health["synced_followers"] == 2
    for host in SPARE_HOSTS:
        assert host_file(lab, host, "/etc/zookeeper/zoo.cfg") is None
        assert host_file(lab, host, "/etc/zookeeper/zoo.cfg.decommissioned")
        assert host_file(lab, host, "/etc/supervisor/conf.d/zookeeper.conf") is None
        assert "zookeeper" not in lab.nsenter(host, ["supervisorctl", "status"], check=False).stdout
        # Data stays for the operator to archive or delete.
        assert os.path.exists(lab.host_path(host, "/var/lib/zookeeper/data/myid"))
    bench(f"zookeeper membership 5 -> 3 (leader before: {leader_before}, replans {membership['replans']}): "
          f"{run.seconds:.1f}s in total, per step {_per_step(steps)}; {writer.summary()}")
    writer.assert_clean()
    assert lab.salt_json("kafka1", "kafka.health")["kafka1"]["verdict"] == "healthy"


def test_refused_membership_change_names_the_key_and_changes_nothing(spares, orchestrate):
    lab = spares
    # Growing while a staying member's myid changes would give two servers one identity: refused.
    bad = {"zookeeper": {"members": dict(GROWN["zookeeper"]["members"], kafka2={"myid": 9})}}
    lab.set_override(bad)
    run = orchestrate("zookeeper.deploy")
    assert not run.succeeded
    text = run.text()
    assert "zookeeper:members:kafka2:myid" in text and "changed from 2 to 9" in text, text[-2000:]
    for host in SPARE_HOSTS:
        assert host_file(lab, host, "/etc/zookeeper/zoo.cfg") is None
    assert lab.nsenter("kafka2", ["cat", "/var/lib/zookeeper/data/myid"]).stdout.strip() == "2"
    lab.set_override({})
    assert _health(lab)["verdict"] == "healthy"

"""ZooKeeper ensemble on the lab: from bare hosts, secured, idempotent, rolled safely."""

import os
import time

import pytest

from tests.conftest import bench

from kafkasalt.zookeeper import client as zkclient
from tests.integration.conftest import ZK_CONNECT, ZkWriter, host_file

pytestmark = pytest.mark.lab

MEMBERS = ("kafka1", "kafka2", "kafka3")


def _zoo_cfg_present(lab):
    return [h for h in MEMBERS if host_file(lab, h, "/etc/zookeeper/zoo.cfg")]


@pytest.mark.parametrize("bad, key", [
    ({"members": {"kafka4": {"myid": 4, "address": "127.0.0.14"}}}, "zookeeper:members"),
    ({"members": {"kafka2": {"myid": 1}}}, "zookeeper:members:kafka2:myid"),
    ({"ports": {"client": 2888}}, "zookeeper:ports"),
    ({"four_letter_words": ["*"]}, "zookeeper:four_letter_words"),
])
def test_bad_pillar_is_refused_before_any_host_changes(lab, orchestrate, pillar_override, bad, key):
    pillar_override({"zookeeper": bad})
    run = orchestrate("zookeeper.deploy")
    assert not run.succeeded
    assert key in run.text(), run.text()[-2000:]
    assert _zoo_cfg_present(lab) == []


def test_test_mode_on_bare_hosts_reports_changes_and_touches_nothing(lab, orchestrate):
    run = orchestrate("zookeeper.deploy", "test=True")
    members = run.steps["zookeeper-members"]
    reported = members["changes"]["ret"]
    for host in MEMBERS:
        would = {v["__id__"] for v in reported[host].values() if v["result"] is None}
        assert {"zookeeper-zoo-cfg", "zookeeper-myid", "zookeeper-service"} <= would
    assert _zoo_cfg_present(lab) == []
    assert not any("zookeeper" in lab.nsenter(h, ["supervisorctl", "status"], check=False).stdout for h in MEMBERS)


def test_bare_hosts_to_quorum(lab, orchestrate):
    run = orchestrate("zookeeper.deploy")
    assert run.succeeded, run.text()[-3000:]
    bench(f"zookeeper: bare hosts to quorum {run.seconds:.1f}s")
    health = lab.salt_json("kafka1", "zookeeper_ensemble.health")["kafka1"]
    assert health["verdict"] == "healthy", health
    modes = sorted(m["mode"] for m in health["members"].values())
    assert modes == ["follower", "follower", "leader"]
    # Secrets are 0600 and owned by the service user.
    for path in ("/etc/zookeeper/jaas.conf", "/etc/zookeeper/java.args"):
        st = os.stat(lab.host_path("kafka1", path))
        assert oct(st.st_mode & 0o777) == "0o600", path


def test_second_run_changes_nothing(orchestrate):
    run = orchestrate("zookeeper.deploy")
    assert run.succeeded
    assert run.host_changes() == []
    bench(f"zookeeper: idempotent re-run {run.seconds:.1f}s, 0 changes")


def test_anonymous_client_cannot_write(lab):
    from kazoo.client import KazooClient

    client = KazooClient(hosts=ZK_CONNECT, timeout=5)
    try:
        client.start(timeout=10)
        with pytest.raises(Exception):
            client.create("/anonymous-write", b"x")
    except Exception:
        pass  # enforce.auth refuses the session outright: also a refusal
    finally:
        client.stop()
        client.close()
    with zkclient.session(ZK_CONNECT, "super", lab.lab_secrets()["zk_super"]) as client:
        assert not client.exists("/anonymous-write")


def test_sasl_user_with_right_password_works_wrong_password_refused(lab_secrets):
    with zkclient.session(ZK_CONNECT, "kafka", lab_secrets["zk_kafka"]) as client:
        assert client.exists("/") is not None
    with pytest.raises(zkclient.ZkUnavailable):
        with zkclient.session(ZK_CONNECT, "kafka", "not-the-password", timeout=5):
            pass


def test_root_acl_lets_only_authenticated_principals_write(lab):
    reply = lab.salt_json("kafka1", "zookeeper_ensemble.znode_get", "/")["kafka1"]
    assert sorted(reply["acl"]) == ["sasl:super:cdrwa", "world:anyone:r"]


def test_config_change_rolls_followers_then_leader_without_losing_writes(lab, orchestrate, pillar_override, lab_secrets):
    leader_before = lab.salt_json("kafka1", "zookeeper_ensemble.health")["kafka1"]["leader"]
    with ZkWriter(lab_secrets["zk_super"], "/roll-test") as writer:
        pillar_override({"zookeeper": {"config": {"tickTime": 2500}}})
        run = orchestrate("zookeeper.deploy")
    assert run.succeeded, run.text()[-3000:]
    roll = run.steps["zookeeper-roll"]["changes"]
    assert len(roll["restarted"]) == 3
    assert roll["restarted"][-1] == leader_before, roll
    per_member = roll["seconds"]
    bench(f"zookeeper roll: {per_member} (s per member), {writer.summary()}")
    writer.assert_clean()


def test_killed_member_makes_ensemble_degraded_with_quorum_held(lab):
    health = lab.salt_json("kafka1", "zookeeper_ensemble.health")["kafka1"]
    follower = next(h for h, m in health["members"].items() if m.get("mode") == "follower")
    asker = next(h for h in MEMBERS if h != follower)
    lab.nsenter(follower, ["supervisorctl", "stop", "zookeeper"])
    try:
        degraded = lab.salt_json(asker, "zookeeper_ensemble.health")[asker]
        assert degraded["verdict"] == "degraded", degraded
        assert any(follower in reason for reason in degraded["reasons"]), degraded["reasons"]
        serving = [h for h, m in degraded["members"].items() if m.get("serving")]
        assert len(serving) >= 2
    finally:
        lab.nsenter(follower, ["supervisorctl", "start", "zookeeper"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if lab.salt_json(asker, "zookeeper_ensemble.health")[asker]["verdict"] == "healthy":
            break
        time.sleep(1)
    else:
        pytest.fail("ensemble did not recover after the member restarted")

"""ZooKeeper from the OS packages (``zookeeper:install: package``) on a bare lab host.

A host of its own (solo1) gets a one-member ensemble from Debian's ``zookeeper`` package
(3.8.0) instead of the Apache tarball; the same states lay out zoo.cfg, JAAS, java.args and the
service, and the same checks apply: SASL enforced, anonymous writes refused, a second run
changes nothing. It runs beside the lab's ensemble, which must not notice it.
"""

import json
import time

import pytest

from kafkasalt.zookeeper import client as zkclient
from lab.saltlab import SOLO_HOSTS
from tests.conftest import bench

pytestmark = pytest.mark.lab

HOST, ADDRESS = next(iter(SOLO_HOSTS.items()))


@pytest.fixture(scope="module")
def solo(lab, lab_secrets, ensure_deployed):
    ensure_deployed()  # the lab's own ensemble runs beside it
    lab.set_solo_pillar({
        "kafka_host": {"service_manager": "supervisord", "kernel_tuning": {"apply_live": False}, "nofile": 16384},
        "zookeeper": {
            "install": "package",
            "version": "3.8.0",
            "allow_single_member": True,
            "members": {HOST: {"myid": 1, "address": ADDRESS}},
            "heap_mb": 256,
            "sasl": {"super_password": lab_secrets["zk_super"], "quorum_password": lab_secrets["zk_quorum"],
                     "users": {"kafka": {"password": lab_secrets["zk_kafka"]}}},
        },
    })
    lab.add_hosts(SOLO_HOSTS)
    yield lab
    lab.remove_hosts(list(SOLO_HOSTS))


def _apply(lab):
    proc = lab.salt(HOST, "state.apply", "zookeeper", "--out=json", "--static", check=False, timeout=900)
    return proc, json.loads(proc.stdout)[HOST]


def test_package_install_from_bare_host_serves_with_sasl_enforced(solo, lab_secrets):
    lab = solo
    started = time.monotonic()
    proc, states = _apply(lab)
    assert proc.returncode == 0, proc.stdout[-3000:]
    failed = {k: v["comment"] for k, v in states.items() if v["result"] is not True}
    assert not failed, failed
    key, install = next((k, v) for k, v in states.items() if v["__id__"] == "zookeeper-release")
    assert key.startswith("pkg_|-"), key  # the OS packages, not the tarball
    bench(f"zookeeper from the OS package: bare host to serving {time.monotonic() - started:.1f}s "
          f"({install['comment'][:60]})")
    status = lab.salt_json(HOST, "zookeeper_ensemble.status")[HOST]
    assert status["serving"] and status["mode"] == "standalone", status
    assert status["version"] == "3.8.0"
    with open(lab.host_path(HOST, "/etc/zookeeper/java.args")) as fh:
        assert "/usr/share/java/zookeeper.jar:" in fh.read()
    health = lab.salt_json(HOST, "zookeeper_ensemble.health")[HOST]
    assert health["verdict"] == "healthy", health
    connect = f"{ADDRESS}:2181"
    with zkclient.session(connect, "kafka", lab_secrets["zk_kafka"]) as client:
        assert client.exists("/") is not None
    with pytest.raises(zkclient.ZkUnavailable):
        with zkclient.session(connect, "kafka", "not-the-password", timeout=5):
            pass


def test_package_member_second_run_changes_nothing_and_lab_ensemble_is_untouched(solo, orchestrate):
    lab = solo
    proc, states = _apply(lab)
    assert proc.returncode == 0
    assert [v["__id__"] for v in states.values() if v.get("changes")] == []
    # Two ensembles under one master: the runners refuse to guess which one is meant...
    refused = lab.salt_run("zookeeper_ensemble.plan", "--out=json", check=False)
    assert "2 different ensembles" in refused.stdout + refused.stderr, refused.stdout[-2000:]
    # ...and, targeted at the lab's, plan no membership change for the other's host.
    plan = json.loads(lab.salt_run("zookeeper_ensemble.membership_plan", "tgt=* and not solo*",
                                   "tgt_type=compound", "--out=json").stdout)
    assert plan["change"] is False, plan
    assert lab.salt_json("kafka1", "zookeeper_ensemble.health")["kafka1"]["verdict"] == "healthy"

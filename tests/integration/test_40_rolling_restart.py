"""Safe rolling restarts and pillar-driven config changes on the lab cluster."""

import json
import threading
import time

import pytest

from tests.conftest import bench

from tests.integration.conftest import KafkaAudit
from tests.integration.test_20_kafka_deploy import client_config

pytestmark = pytest.mark.lab

BROKERS = ("kafka1", "kafka2", "kafka3")


@pytest.fixture(scope="module")
def roll_lab(ensure_deployed):
    """A healthy cluster; the module's pillar changes accumulate and the override is cleared at
    the end. The brokers then have static changes pending (back to the lab pillar), which the
    next kafka.deploy rolls with its own change: no roll is spent only on undoing a test."""
    lab = ensure_deployed()
    yield lab
    lab.set_override({})


def pids(lab):
    # supervisorctl exits 7 and prints 0 while a program is not running (between the stop and
    # the start of a restart): that is an answer ("0"), not a failure of the lab.
    return {h: lab.nsenter(h, ["supervisorctl", "pid", "kafka"], check=False).stdout.strip() for h in BROKERS}


def set_kafka_override(lab, config=None, brokers=None):
    kafka = {}
    if config:
        kafka["config"] = config
    if brokers:
        kafka["brokers"] = brokers
    lab.set_override({"kafka": kafka})


def test_dynamic_change_restarts_nothing_and_is_visible_live(roll_lab, orchestrate):
    lab = roll_lab
    before = pids(lab)
    set_kafka_override(lab, config={"log.cleaner.threads": 2})
    run = orchestrate("kafka.deploy")
    assert run.succeeded, run.text()[-4000:]
    applied = run.steps["kafka-dynamic-config"]["changes"]
    assert applied.get("cluster_default") == {"log.cleaner.threads": "2"}, applied
    assert run.steps["kafka-rolling-restart"]["changes"] == {}
    assert pids(lab) == before
    defaults = lab.salt_json("kafka1", "kafka.broker_configs")["kafka1"]
    assert defaults.get("log.cleaner.threads") == "2", defaults


def test_test_mode_prints_the_plan_with_order_and_reasons(roll_lab):
    lab = roll_lab
    set_kafka_override(lab, config={"log.cleaner.threads": 2, "queued.max.requests": 600})
    lab.salt("*", "state.apply", "kafka", "--out=quiet")  # files only; the state never restarts
    proc = lab.salt_run("kafka.rolling_restart", "test=True", "--out=json", check=False)
    plan = json.loads(proc.stdout)
    steps = plan["changes"]["plan"]
    assert [len(s["brokers"]) for s in steps] == [1, 1, 1]
    controller = lab.salt_json("kafka1", "kafka.describe_cluster")["kafka1"]["controller_id"]
    last = steps[-1]["brokers"][0]
    assert last == f"kafka{controller}"
    assert "active controller" in steps[-1]["reasons"][last]
    assert all("queued.max.requests" in reason for s in steps for reason in s["reasons"].values())


def test_full_roll_loses_no_acknowledged_message(roll_lab, orchestrate):
    lab = roll_lab
    topic = "roll-safety"
    lab.salt_json("kafka1", "kafka.create_topic", topic, "3", "3", '{"min.insync.replicas": "2"}')
    with KafkaAudit(lab, topic, client_config(lab)) as audit:
        run = orchestrate("kafka.deploy")  # queued.max.requests (static) from the previous test rolls all three
    assert run.succeeded, run.text()[-4000:]
    roll = run.steps["kafka-rolling-restart"]["changes"]
    assert sorted(roll["restarted"]) == list(BROKERS), roll
    bench(f"roll of 3 brokers: {run.steps['kafka-rolling-restart']['duration'] / 1000:.1f}s, "
          f"per broker {roll['seconds']}, gate overhead per step {roll['gate_overhead_seconds']}; "
          f"{audit.summary()}")
    audit.assert_clean()


def test_static_change_on_one_broker_restarts_exactly_that_broker(roll_lab, orchestrate):
    lab = roll_lab
    before = pids(lab)
    set_kafka_override(lab, config={"log.cleaner.threads": 2, "queued.max.requests": 600},
                       brokers={"kafka2": {"config": {"queued.max.requests": 700}}})
    run = orchestrate("kafka.deploy")
    assert run.succeeded, run.text()[-4000:]
    assert run.steps["kafka-rolling-restart"]["changes"]["restarted"] == ["kafka2"]
    after = pids(lab)
    assert [h for h in BROKERS if after[h] != before[h]] == ["kafka2"]


def test_killed_broker_mid_roll_halts_the_roll_and_a_rerun_completes(roll_lab, orchestrate):
    lab = roll_lab
    set_kafka_override(lab, config={"log.cleaner.threads": 2, "queued.max.requests": 650},
                       brokers={"kafka2": {"config": {"queued.max.requests": 700}}})
    lab.salt("*", "state.apply", "kafka", "--out=quiet")
    plan = json.loads(lab.salt_run("kafka.rolling_restart", "test=True", "--out=json", check=False).stdout)["changes"]["plan"]
    order = [step["brokers"][0] for step in plan]
    assert len(order) >= 2, plan
    first, victim = order[0], order[1]  # kill the next broker in line while the first one restarts
    first_pid = pids(lab)[first]
    result = {}

    def roll():
        proc = lab.salt_run("kafka.rolling_restart", "start_timeout=40", "--out=json", check=False)
        result["proc"] = proc

    lab.salt_json("kafka1", "kafka.create_topic", "kill-drill", "3", "3", '{"min.insync.replicas": "2"}')
    audit = KafkaAudit(lab, "kill-drill", client_config(lab))
    audit.__enter__()
    thread = threading.Thread(target=roll)
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and pids(lab)[first] == first_pid:
        time.sleep(0.2)
    victim_pid = pids(lab)[victim]
    assert victim_pid.isdigit() and victim_pid != "0", f"{victim} is not running: {victim_pid!r}"  # never kill -9 0
    lab.nsenter(victim, ["kill", "-9", victim_pid])
    lab.nsenter(victim, ["supervisorctl", "stop", "kafka"], check=False)
    thread.join(300)
    out = json.loads(result["proc"].stdout)
    assert out.get("result") is False, out
    # The roll halts before or at the victim, never past it, and names the dead broker: the
    # gates ask each host's service manager, so the kill shows at once (not only when its
    # ZooKeeper session expires or its followers fall out of the ISR).
    victim_id = int(victim.removeprefix("kafka"))
    assert f"broker {victim_id} is down" in out["Error"], out["Error"]
    assert "brokers_running" in out["gates"] or "others_running" in out["gates"], out
    assert victim not in out.get("changes", {}).get("restarted", [])
    bench(f"halted roll: {out['Error'][:300]}")
    # Until the killed broker's session expires a new process with its id exits at once.
    deadline = time.monotonic() + 90
    while True:
        started = lab.nsenter(victim, ["supervisorctl", "start", "kafka"], check=False)
        if started.returncode == 0 or "already started" in started.stdout:
            break
        assert time.monotonic() < deadline, started.stdout + started.stderr
        time.sleep(3)
    verified = lab.salt_run("kafka.verify_cluster", "timeout=180", "--out=json", check=False)
    assert json.loads(verified.stdout).get("result") is True, verified.stdout[-2000:]
    rerun = lab.salt_run("kafka.rolling_restart", "--out=json", check=False)
    completed = json.loads(rerun.stdout)
    audit.__exit__(None, None, None)
    assert completed.get("result") is True, completed
    assert lab.salt_json("kafka1", "kafka.health")["kafka1"]["verdict"] == "healthy"
    bench(f"kill -9 of the next broker mid-roll, halt, restart, re-run: {audit.summary()}")
    # With min.insync.replicas 2 of 3 and one broker killed, acks=all writes may wait but none
    # that was acknowledged may be lost.
    assert not audit.lost_messages, audit.lost_messages[:10]


def test_mtls_required_refuses_foreign_certificates(roll_lab, orchestrate, pillar_override, tmp_path):
    # Last in this module: clients of the tests before it connect without a certificate. Going
    # back to the default is left to the next kafka.deploy (roll_lab's teardown clears the
    # override), which rolls it together with whatever else that deploy changes.
    from kafka.admin import KafkaAdminClient
    from kafkasalt.security import pki

    lab = roll_lab
    pillar_override({"kafka": {"tls": {"client_auth": "required"}}})
    run = orchestrate("kafka.deploy")
    assert run.succeeded, run.text()[-4000:]
    rolled = run.steps["kafka-rolling-restart"]["changes"].get("restarted", [])
    assert sorted(rolled) == list(BROKERS), run.steps["kafka-rolling-restart"]
    # No client certificate: refused.
    with pytest.raises(Exception):
        KafkaAdminClient(**client_config(lab), bootstrap_timeout_ms=10000).list_topics()
    # A certificate from another CA: refused.
    other_key, other_ca = pki.create_ca("not our CA")
    key, cert = pki.issue_cert(other_key, other_ca, "intruder", server=False, client=True)
    foreign = tmp_path / "foreign.pem"
    foreign.write_text(pki.pem_keystore(key, cert, other_ca))
    with pytest.raises(Exception):
        KafkaAdminClient(**client_config(lab, ssl_certfile=str(foreign), ssl_keyfile=str(foreign)),
                         bootstrap_timeout_ms=10000).list_topics()
    # Our CA's client certificate (the one the module uses): accepted.
    assert isinstance(lab.salt_json("kafka1", "kafka.list_topics")["kafka1"], list)
    ours = tmp_path / "ours.pem"
    ours.write_text(open(lab.host_path("kafka1", "/etc/kafka/tls/admin-keystore.pem")).read())
    KafkaAdminClient(**client_config(lab, ssl_certfile=str(ours), ssl_keyfile=str(ours)), bootstrap_timeout_ms=10000).list_topics()

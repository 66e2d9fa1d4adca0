"""Safe rolling restarts and pillar-driven config changes on the lab cluster."""

import itertools
import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from lab.saltlab import VENV_BIN
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
    lab.kill_program(victim, "kafka", pids(lab)[victim])
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


# --- failure drills: a fault during a roll stops it with a named reason, every time -------------

# A fresh static value per drill (and per session: a kept lab remembers the last one), so every
# broker has a restart pending.
_QUEUED = itertools.count(1000 + int(time.time()) % 50000)


def _pending_roll(lab):
    """A static change on every broker (files written, nothing restarted); the roll's order.
    Starts from a healthy cluster: every ZooKeeper member and broker running (the state starts a
    stopped broker, never restarts a running one)."""
    for host in BROKERS:
        lab.nsenter(host, ["supervisorctl", "start", "zookeeper"], check=False)
    set_kafka_override(lab, config={"log.cleaner.threads": 2, "queued.max.requests": next(_QUEUED)})
    lab.salt("*", "state.apply", "kafka", "--out=quiet")
    verified = lab.salt_run("kafka.verify_cluster", "timeout=120", "--out=json", check=False)
    assert json.loads(verified.stdout).get("result") is True, verified.stdout[-2000:]
    planned = json.loads(lab.salt_run("kafka.rolling_restart", "test=True", "--out=json", check=False).stdout)
    order = [step["brokers"][0] for step in planned.get("changes", {}).get("plan", [])]
    assert len(order) == 3, planned
    return order


def _status(lab, host, program="kafka"):
    return lab.nsenter(host, ["supervisorctl", "status", program], check=False).stdout


def _running_pid(lab, host):
    """The broker's pid once supervisord has it RUNNING (a restart returns then), else None."""
    match = re.search(r"RUNNING\s+pid (\d+)", _status(lab, host))
    return match.group(1) if match else None


def _wait_restarted_and_running(lab, host, old_pid, timeout=90):
    """Until ``host``'s broker is RUNNING with a new pid: its restart returns now and the roll
    polls its after-restart gates. Polls that one host only, to act within a fraction of a
    second (a broker that comes back at once passes its after-gates within a few)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = _running_pid(lab, host)
        if pid and pid != old_pid:
            return pid
        time.sleep(0.05)
    raise AssertionError(f"{host} was not restarted within {timeout}s: {_status(lab, host)}")


def _kill_broker(lab, host, pid=None):
    """kill -9, then keep it down (supervisord would restart an unexpected exit): a dead broker."""
    lab.kill_program(host, "kafka", pid or pids(lab)[host])


def _start_broker(lab, host):
    # Until the killed broker's ZooKeeper session expires a new process with its id exits at once.
    deadline = time.monotonic() + 90
    while True:
        started = lab.nsenter(host, ["supervisorctl", "start", "kafka"], check=False)
        if started.returncode == 0 or "already started" in started.stdout:
            return
        assert time.monotonic() < deadline, started.stdout + started.stderr
        time.sleep(3)


class _Roll(threading.Thread):
    """``salt-run kafka.rolling_restart`` in the background; ``out()`` joins and parses it."""

    def __init__(self, lab, *args):
        super().__init__(daemon=True)
        self.lab, self.args, self.proc = lab, args, None
        self.started_at = time.monotonic()

    def run(self):
        self.proc = self.lab.salt_run("kafka.rolling_restart", "start_timeout=40", *self.args, "--out=json",
                                      check=False, timeout=400)
        self.seconds = time.monotonic() - self.started_at  # the roll's own time, to its return

    def out(self):
        self.join(400)
        assert self.proc is not None, "the roll did not return within 400s"
        return json.loads(self.proc.stdout)


def _rerun_completes(lab, audit, label):
    verified = lab.salt_run("kafka.verify_cluster", "timeout=180", "--out=json", check=False)
    assert json.loads(verified.stdout).get("result") is True, verified.stdout[-2000:]
    rerun = json.loads(lab.salt_run("kafka.rolling_restart", "start_timeout=60", "--out=json", check=False).stdout)
    audit.__exit__(None, None, None)
    assert rerun.get("result") is True, rerun
    assert lab.salt_json("kafka1", "kafka.health")["kafka1"]["verdict"] == "healthy"
    bench(f"{label}: re-run restarted {rerun.get('changes', {}).get('restarted')}; {audit.summary()}")
    assert audit.acked, "the audit producer acknowledged nothing: the no-loss check would prove nothing"
    assert not audit.lost_messages, audit.lost_messages[:10]
    return rerun


def _audit(lab, topic):
    lab.salt_json("kafka1", "kafka.create_topic", topic, "3", "3", '{"min.insync.replicas": "2"}')
    audit = KafkaAudit(lab, topic, client_config(lab))
    audit.__enter__()
    return audit


def test_broker_killed_during_its_own_after_restart_gate_halts_naming_it(roll_lab):
    lab = roll_lab
    order = _pending_roll(lab)
    first = order[0]
    first_pid = pids(lab)[first]
    audit = _audit(lab, "kill-self-drill")
    roll = _Roll(lab)
    roll.start()
    new_pid = _wait_restarted_and_running(lab, first, first_pid)
    _kill_broker(lab, first, new_pid)  # its new process started; now it dies while its after-gates poll
    out = roll.out()
    first_id = int(first.removeprefix("kafka"))
    assert out.get("result") is False, out
    assert f"broker {first_id}" in out["Error"], out["Error"]
    assert "restarted_stays_up" in out["gates"], out  # fatal: no waiting out the timeout
    assert not out.get("changes", {}).get("restarted"), out
    bench(f"kill -9 of the restarting broker in its after-gate: halted after {roll.seconds:.0f}s: {out['Error'][:300]}")
    _start_broker(lab, first)
    _rerun_completes(lab, audit, "kill -9 of the restarting broker, halt, restart, re-run")


def test_rolled_broker_killed_while_a_later_one_restarts_halts_naming_it(roll_lab):
    lab = roll_lab
    order = _pending_roll(lab)
    rolled, later = order[0], order[1]
    later_pid = pids(lab)[later]
    audit = _audit(lab, "kill-rolled-drill")
    roll = _Roll(lab)
    roll.start()
    _wait_restarted_and_running(lab, later, later_pid, timeout=150)
    _kill_broker(lab, rolled)  # already rolled; the later broker is in its after-restart gate
    out = roll.out()
    rolled_id = int(rolled.removeprefix("kafka"))
    assert out.get("result") is False, out  # never green with a broker down
    assert f"broker {rolled_id} is down" in out["Error"], out["Error"]
    assert "others_running" in out["gates"] or "brokers_running" in out["gates"], out
    assert order[2] not in out.get("changes", {}).get("restarted", []), out
    bench(f"kill -9 of a rolled broker during a later after-gate: halted after {roll.seconds:.0f}s: {out['Error'][:300]}")
    _start_broker(lab, rolled)
    _rerun_completes(lab, audit, "kill -9 of a rolled broker, halt, restart, re-run")


def _zookeeper_follower(lab):
    members = lab.salt_json("kafka1", "zookeeper_ensemble.health")["kafka1"]["members"]
    return next(m for m, st in sorted(members.items()) if (st or {}).get("mode") == "follower")


def test_zookeeper_member_stopped_during_a_roll_halts_naming_it(roll_lab):
    lab = roll_lab
    order = _pending_roll(lab)
    first = order[0]
    first_pid = pids(lab)[first]
    member = _zookeeper_follower(lab)
    audit = _audit(lab, "zk-stop-drill")
    roll = _Roll(lab)
    roll.start()
    _wait_restarted_and_running(lab, first, first_pid)
    lab.nsenter(member, ["supervisorctl", "stop", "zookeeper"])
    try:
        out = roll.out()
    finally:
        lab.nsenter(member, ["supervisorctl", "start", "zookeeper"], check=False)
    if out.get("result") is False:
        assert f"ZooKeeper member {member} is down" in out["Error"], out["Error"]
        assert {"zookeeper_members_running", "zookeeper_members_serving", "zookeeper_quorum"} & set(out["gates"]), out
    else:  # a correct finish is only possible with every member serving again
        assert out.get("result") is True, out
    bench(f"ZooKeeper member {member} stopped mid-roll: {out.get('Error', 'completed')[:300]} after {roll.seconds:.0f}s")
    deadline = time.monotonic() + 60
    while lab.salt_json("kafka1", "zookeeper_ensemble.health")["kafka1"].get("verdict") != "healthy":
        assert time.monotonic() < deadline, "ZooKeeper did not become healthy again"
        time.sleep(1)
    _rerun_completes(lab, audit, f"ZooKeeper member {member} stopped mid-roll, started, re-run")


def test_master_killed_mid_orchestration_and_a_rerun_finishes(roll_lab, orchestrate):
    lab = roll_lab
    order = _pending_roll(lab)
    first_pid = pids(lab)[order[0]]
    audit = _audit(lab, "master-kill-drill")
    cmd = [os.path.join(VENV_BIN, "salt-run"), "-c", lab.master_conf_dir, "state.orchestrate", "kafka.deploy", "--out=json"]
    orchestration = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=lab.env())
    try:
        # Mid-roll: the first broker's restart has begun (its old process is gone).
        deadline = time.monotonic() + 150
        while pids(lab)[order[0]] == first_pid:
            assert time.monotonic() < deadline, "the orchestration never began the roll"
            time.sleep(0.2)
        master = int(open(lab.master_pidfile).read())
        os.killpg(os.getpgid(master), signal.SIGKILL)  # the master and every process of it, at once
        # salt-run (Salt 3008.3) waits for its minion calls forever once the master is gone: the
        # orchestration dies with its master, as it would on the master's host.
        try:
            orchestration.wait(10)
            fate = f"returned rc {orchestration.returncode}"
        except subprocess.TimeoutExpired:
            fate = "hung, killed 10s after the master"  # it also hung when waited for 30 s and 120 s
    finally:
        if orchestration.poll() is None:
            orchestration.kill()
            orchestration.wait(10)
    time.sleep(6)  # the broker restart in flight finishes on its minion (stop, then start: startsecs 3)
    bench(f"master killed mid-roll: the orchestration {fate}; broker processes afterwards: {pids(lab)}")
    deadline = time.monotonic() + 30
    while lab.master_running() or _master_ports_busy():
        assert time.monotonic() < deadline, "the killed master's processes are still there"
        time.sleep(0.5)
    lab.start_master()
    lab.wait_for_minions()
    run = orchestrate("kafka.deploy")
    audit.__exit__(None, None, None)
    assert run.succeeded, run.text()[-4000:]
    assert all(p.isdigit() and p != "0" for p in pids(lab).values()), pids(lab)
    assert lab.salt_json("kafka1", "kafka.health")["kafka1"]["verdict"] == "healthy"
    pending = lab.salt_json("*", "kafka.restart_pending")
    assert sorted(pending) == list(BROKERS) and not any(r["changed_files"] for r in pending.values()), pending
    bench(f"master kill -9 mid-orchestration, restart, re-run ({run.seconds:.0f}s): "
          f"re-run restarted {run.steps['kafka-rolling-restart']['changes'].get('restarted')}; {audit.summary()}")
    assert audit.acked, "the audit producer acknowledged nothing: the no-loss check would prove nothing"
    assert not audit.lost_messages, audit.lost_messages[:10]


def _master_ports_busy():
    import socket

    for port in (45505, 45506):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
    return False


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

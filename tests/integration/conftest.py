"""The integration layer: real ZooKeeper and Kafka deployed by Salt onto the three-host lab.

The session starts from bare hosts (the lab is purged first), deploys through orchestration
exactly as an operator would, and tears the lab down at the end (KAFKASALT_KEEP_LAB=1 keeps it;
KAFKASALT_REUSE_LAB=1 starts from the running lab instead of bare hosts).
Modules run in name order: ZooKeeper, the Kafka deploy, day-2 management, rolling restarts.
"""

import glob
import json
import os
import threading
import time

import pytest

from lab.saltlab import Lab
from tests.conftest import bench

pytestmark = pytest.mark.lab


class Orchestration:
    """Parsed result of one ``salt-run state.orchestrate``."""

    def __init__(self, proc, seconds):
        self.proc = proc
        self.seconds = seconds
        self.stdout = proc.stdout
        try:
            self.data = json.loads(proc.stdout)
        except json.JSONDecodeError:
            self.data = None

    @property
    def steps(self):
        """``{state id: return}`` of the orchestration (empty when it failed to render)."""
        if not isinstance(self.data, dict):
            return {}
        master = next(iter((self.data.get("data") or {}).values()), {})
        if not isinstance(master, dict):
            return {}
        return {key.split("_|-")[1]: value for key, value in master.items() if isinstance(value, dict)}

    @property
    def succeeded(self):
        return self.proc.returncode == 0 and bool(self.steps) and all(s.get("result") is not False for s in self.steps.values())

    def host_changes(self):
        """Every state that changed something on a host, as ``host/state-id``."""
        changed = []
        for step_id, step in self.steps.items():
            changes = step.get("changes") or {}
            if isinstance(changes.get("ret"), dict):
                for host, states in changes["ret"].items():
                    if isinstance(states, dict):
                        changed += [f"{host}/{v.get('__id__')}" for v in states.values()
                                    if isinstance(v, dict) and v.get("changes")]
            elif changes:
                changed.append(f"master/{step_id}")
        return changed

    def text(self):
        return self.stdout + self.proc.stderr


@pytest.fixture(scope="session")
def lab():
    lab = Lab()
    if os.environ.get("KAFKASALT_REUSE_LAB") != "1":  # 1: keep a running lab (iterate on one test)
        lab.down(purge=True)
    took = lab.up()
    bench(f"lab up from scratch: {took:.1f}s")
    yield lab
    if os.environ.get("KAFKASALT_KEEP_LAB") != "1":
        # Thrown away (the next session purges it first): no graceful shutdown to wait for.
        lab.down(kill=True)


@pytest.fixture(scope="session")
def orchestrate(lab):
    def run(sls, *args, timeout=1200):
        started = time.monotonic()
        proc = lab.salt_run("state.orchestrate", sls, *args, "--out=json", check=False, timeout=timeout)
        return Orchestration(proc, time.monotonic() - started)

    return run


@pytest.fixture(scope="session")
def ensure_deployed(lab, orchestrate):
    """Make sure a healthy cluster runs (deploys if an earlier module did not); returns the lab."""

    def ensure():
        health = lab.salt_json("kafka1", "kafka.health").get("kafka1")
        if not (isinstance(health, dict) and health.get("verdict") == "healthy"):
            run = orchestrate("kafka.deploy")
            assert run.succeeded, run.text()[-4000:]
        return lab

    return ensure


@pytest.fixture(scope="session")
def lab_secrets(lab):
    return lab.lab_secrets()


@pytest.fixture()
def pillar_override(lab):
    """Set an override pillar for one test; the lab pillar is restored afterwards."""
    applied = []

    def apply(data):
        applied.append(data)
        lab.set_override(data)

    yield apply
    if applied:
        lab.set_override({})


def host_file(lab, host, path):
    real = lab.host_path(host, path)
    return real if os.path.exists(real) else None


ZK_CONNECT = "127.0.0.11:2181,127.0.0.12:2181,127.0.0.13:2181"


class ZkWriter:
    """A SASL kazoo client creating one znode every 50 ms under ``path`` until stopped, retrying
    through connection loss, so a test can prove that no acknowledged write was lost and measure
    the longest pause in acknowledgements."""

    def __init__(self, super_password, path, hosts=ZK_CONNECT):
        self.password, self.path, self.hosts = super_password, path, hosts
        self.acked, self.failed, self.ack_times = [], [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _client(self):
        from kazoo.client import KazooClient

        return KazooClient(hosts=self.hosts, timeout=10,
                           sasl_options={"mechanism": "DIGEST-MD5", "username": "super", "password": self.password},
                           connection_retry={"max_tries": -1, "delay": 0.2, "max_delay": 1})

    def _run(self):
        from kazoo.exceptions import NodeExistsError

        client = self._client()
        client.start(timeout=15)
        client.ensure_path(self.path)
        n = 0
        while not self._stop.is_set():
            try:
                client.retry(client.create, f"{self.path}/w{n:06d}", b"x")
                self.acked.append(n)
                self.ack_times.append(time.monotonic())
            except NodeExistsError:
                self.acked.append(n)  # applied, but the reply was lost with the connection; the retry found it
                self.ack_times.append(time.monotonic())
            except Exception as exc:  # counted: a write the ensemble did not acknowledge
                self.failed.append((n, repr(exc)))
            n += 1
            time.sleep(0.05)
        client.stop()
        client.close()

    def __enter__(self):
        self._thread.start()
        time.sleep(2)
        return self

    def __exit__(self, *exc):
        time.sleep(2)
        self._stop.set()
        self._thread.join(30)

    @property
    def longest_pause(self):
        """Seconds of the longest gap between two acknowledged writes."""
        gaps = [b - a for a, b in zip(self.ack_times, self.ack_times[1:])]
        return max(gaps, default=0.0)

    def summary(self):
        """Read the writes back and say how they fared (for a benchmark line); then
        :meth:`assert_clean` fails the test on a lost or failed write."""
        self.lost_writes = self.lost()
        return (f"writes acked {len(self.acked)}, failed {len(self.failed)}, lost {len(self.lost_writes)}, "
                f"longest pause {self.longest_pause:.1f}s")

    def assert_clean(self):
        assert self.lost_writes == [], f"acknowledged writes lost: {self.lost_writes[:5]}"
        assert not self.failed, self.failed[:5]

    def lost(self):
        """Acknowledged writes that the ensemble no longer has (read back, then cleaned up)."""
        from kafkasalt.zookeeper import client as zkclient

        with zkclient.session(self.hosts, "super", self.password) as client:
            stored = {int(name[1:]) for name in client.get_children(self.path)}
            client.delete(self.path, recursive=True)
        return sorted(set(self.acked) - stored)


class KafkaAudit:
    """An idempotent acks=all producer writing numbered messages to ``topic`` every 20 ms while
    a cluster change runs, and the audit afterwards: a consumer reads the topic back and every
    acknowledged message must be there. ``summary()`` gives sent / acked / failed / lost and the
    longest gap between two acknowledgements (the producer's stall)."""

    def __init__(self, lab, topic, config):
        self.lab, self.topic, self.config = lab, topic, config
        self.acked, self.failed, self.ack_times = [], [], []
        self.lost_messages = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        from kafka import KafkaProducer

        producer = KafkaProducer(acks="all", enable_idempotence=True, retries=2**31 - 1, linger_ms=5,
                                 delivery_timeout_ms=120000, max_block_ms=120000, **self.config)
        n = 0
        while not self._stop.is_set():
            future = producer.send(self.topic, str(n).encode())
            try:
                future.get(timeout=120)
                self.acked.append(n)
                self.ack_times.append(time.monotonic())
            except Exception as exc:  # counted: a message the cluster did not acknowledge
                self.failed.append((n, repr(exc)))
            n += 1
            time.sleep(0.02)
        producer.close()

    def __enter__(self):
        self._thread.start()
        time.sleep(3)
        return self

    def __exit__(self, *exc):
        time.sleep(3)
        self._stop.set()
        self._thread.join(180)

    @property
    def longest_stall(self):
        gaps = [b - a for a, b in zip(self.ack_times, self.ack_times[1:])]
        return max(gaps, default=0.0)

    def audit(self, timeout=120):
        """Read the topic back from the start up to its end offsets (taken after the producer
        stopped, so they cover every acknowledged message); returns the acknowledged messages
        that are missing. Reading to known end offsets ends as soon as the data is read, instead
        of waiting out an idle timeout after the last record."""
        from kafka import KafkaConsumer, TopicPartition

        # No group: no committed offsets, so every audit reads the whole topic again.
        consumer = KafkaConsumer(group_id=None, enable_auto_commit=False, **self.config)
        try:
            deadline = time.monotonic() + timeout
            partitions = None
            while not partitions:
                partitions = consumer.partitions_for_topic(self.topic)
                if not partitions:
                    assert time.monotonic() < deadline, f"topic {self.topic} has no partitions"
                    time.sleep(0.5)
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            seen = set()
            while any(consumer.position(tp) < end[tp] for tp in tps):
                assert time.monotonic() < deadline, (
                    f"audit of {self.topic} did not reach the end offsets {end} within {timeout}s")
                for records in consumer.poll(timeout_ms=1000).values():
                    seen.update(int(m.value) for m in records)
        finally:
            consumer.close()
        self.lost_messages = sorted(set(self.acked) - seen)
        return self.lost_messages

    def summary(self):
        if self.lost_messages is None:
            self.audit()
        return (f"messages sent {len(self.acked) + len(self.failed)}, acked {len(self.acked)}, "
                f"failed {len(self.failed)}, lost {len(self.lost_messages)}, "
                f"longest producer stall {self.longest_stall:.1f}s")

    def assert_clean(self):
        if self.lost_messages is None:
            self.audit()
        assert not self.lost_messages, f"acknowledged messages lost: {self.lost_messages[:10]}"
        assert not self.failed, self.failed[:5]


def leaked_secrets(lab, secrets):
    """Files of the master job cache, Salt and service logs and minion proc files that contain
    one of ``secrets`` or a private key (``[]`` when none does)."""
    places = glob.glob(os.path.join(lab.master_dir, "var", "cache", "salt", "master", "jobs", "**", "*"), recursive=True)
    places += glob.glob(os.path.join(lab.root, "**", "var", "log", "salt", "*"), recursive=True)
    places += glob.glob(os.path.join(lab.root, "hosts", "*", "salt", "var", "cache", "salt", "minion", "proc", "*"))
    places += glob.glob(os.path.join(lab.root, "hosts", "*", "fs", "var", "log", "**", "*"), recursive=True)
    leaked = []
    for path in places:
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as fh:
            data = fh.read()
        if any(secret.encode() in data for secret in secrets):
            leaked.append(path)
        if b"PRIVATE KEY" in data:
            leaked.append(path + " (private key)")
    return leaked

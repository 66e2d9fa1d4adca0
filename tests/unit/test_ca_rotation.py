"""CA rotation without Salt: the master's store, what a host holds and renders, the phase the
cluster is in, and the plan run through the step engine against a simulated cluster."""

import os


import pytest

from kafkasalt.kafka import tls_reload
from kafkasalt.ops import steps
from kafkasalt.security import pki, rotation
from kafkasalt.security.pki_store import PkiStore


@pytest.fixture()
def store(tmp_path):
    return PkiStore(str(tmp_path / "pki"), "orders")


def _section(store, which, ca_cert, part="broker", name="broker-kafka1", server=True):
    key, cert, _ = store.certificate(name, ["kafka1"] if server else [], [], server=server, which=which)
    return {"ca_cert": ca_cert, part: {"key": key, "cert": cert}}


def _pillar(store, part="broker"):
    tls = _section(store, "current", store.ca_cert(), part)
    upcoming = store.next_ca_cert()
    if upcoming:
        tls["next"] = _section(store, "next", upcoming, part)
    return tls


# --- the master's store -------------------------------------------------------------------------


def test_a_rotation_creates_one_new_ca_with_its_own_name(store):
    old = store.ca_cert()
    assert store.next_ca_cert() is None
    new, created = store.start_rotation()
    again, created_again = store.start_rotation()
    assert created and not created_again and again == new
    assert pki.describe_cert(new)["subject"] != pki.describe_cert(old)["subject"]
    _, cert, _ = store.certificate("broker-kafka1", ["kafka1"], [], which="next")
    assert pki.cert_matches(cert, ca_cert_pem=new)[0]
    _, current_cert, _ = store.certificate("broker-kafka1", ["kafka1"], [])
    assert pki.cert_matches(current_cert, ca_cert_pem=old)[0]


def test_next_certificates_need_a_pending_rotation(store):
    with pytest.raises(ValueError, match="no CA rotation is pending"):
        store.certificate("broker-kafka1", ["kafka1"], [], which="next")


def test_promotion_makes_the_new_ca_sign_and_retires_the_old(store):
    old = store.ca_cert()
    new, _ = store.start_rotation()
    _, issued_next, _ = store.certificate("client-app", (), (), server=False, which="next")
    retired = store.promote()
    assert store.ca_cert() == new and store.next_ca_cert() is None
    assert open(os.path.join(retired, "ca.crt")).read() == old
    # What the rotation issued is what the store serves afterwards: nothing is re-issued.
    _, cert, reason = store.certificate("client-app", (), (), server=False)
    assert cert == issued_next and reason is None
    assert store.promote() is None


@pytest.mark.parametrize("moved", range(0, 7))
def test_a_promotion_interrupted_after_any_rename_is_completed_by_the_next_use(store, moved):
    new, _ = store.start_rotation()
    store.certificate("client-app", (), (), server=False, which="next")
    root = store.directory
    partial = os.path.join(root, "retired", "20261202T000000.partial")
    os.makedirs(partial)
    renames = [(os.path.join(root, n), os.path.join(partial, n)) for n in ("ca.crt", "ca.key", "issued")]
    renames += [(os.path.join(root, "next", n), os.path.join(root, n)) for n in ("issued", "ca.key", "ca.crt")]
    for source, target in renames[:moved]:
        os.replace(source, target)
    reopened = PkiStore(root, "orders")
    assert reopened.ca_cert() == new
    assert reopened.next_ca_cert() is None
    assert os.path.isdir(os.path.join(root, "retired", "20261202T000000"))
    assert not os.path.exists(os.path.join(root, "next"))


# --- one host: what it holds and renders ---------------------------------------------------------


def test_a_host_moves_forward_through_the_phases_and_never_back(store):
    store.start_rotation()
    tls = _pillar(store)
    old, new = tls["ca_cert"], tls["next"]["ca_cert"]
    files = {}

    def read(path):
        return files.get(path)

    def write(material):
        files["/etc/kafka/tls/truststore.pem"] = material.trust()
        files["/etc/kafka/tls/keystore.pem"] = material.keystore("broker")

    # A host with the old files only: a normal state run already adds the new CA (always safe).
    write(rotation.Material(tls))  # no phase: what the host held before the rotation
    assert rotation.host_material(tls, None, read).phase == "trust"
    write(rotation.host_material(tls, None, read))
    assert pki.bundle_fingerprints(files["/etc/kafka/tls/truststore.pem"]) == [pki.fingerprint(old), pki.fingerprint(new)]
    assert rotation.completed_phase(old, new, [files["/etc/kafka/tls/truststore.pem"]],
                                    [files["/etc/kafka/tls/keystore.pem"]]) == "trust"
    write(rotation.host_material(tls, "reissue", read))
    assert pki.keystore_leaf(files["/etc/kafka/tls/keystore.pem"], (new,))["issued_by"] == pki.fingerprint(new)
    # A later run without a phase (or asking for an earlier one) keeps the new certificate.
    assert rotation.host_material(tls, None, read).phase == "reissue"
    assert rotation.host_material(tls, "trust", read).phase == "reissue"
    write(rotation.host_material(tls, "drop", read))
    assert pki.bundle_fingerprints(files["/etc/kafka/tls/truststore.pem"]) == [pki.fingerprint(new)]
    assert rotation.host_material(tls, None, read).phase == "drop"
    assert rotation.completed_phase(old, new, [files["/etc/kafka/tls/truststore.pem"]],
                                    [files["/etc/kafka/tls/keystore.pem"]]) == "drop"


def test_after_promotion_a_host_renders_exactly_what_it_holds(store):
    store.start_rotation()
    tls = _pillar(store)
    dropped = rotation.Material(tls, "drop")
    held = (dropped.trust(), dropped.keystore("broker"))
    store.promote()
    after = rotation.Material(_pillar(store))
    assert (after.trust(), after.keystore("broker")) == held


def test_held_phase_of_a_host_is_its_most_advanced_file(store):
    store.start_rotation()
    tls = _pillar(store)
    old, new = tls["ca_cert"], tls["next"]["ca_cert"]
    trusting = rotation.Material(tls, "trust")
    reissued = rotation.Material(tls, "reissue")
    assert rotation.held_phase(old, new, [old], [trusting.keystore("broker")]) is None
    assert rotation.held_phase(old, new, [trusting.trust(), old], []) == "trust"
    assert rotation.completed_phase(old, new, [trusting.trust(), old], []) is None
    assert rotation.held_phase(old, new, [trusting.trust()], [trusting.keystore("broker"), reissued.keystore("broker")]) == "reissue"
    assert rotation.completed_phase(old, new, [trusting.trust()], [trusting.keystore("broker"), reissued.keystore("broker")]) == "trust"
    assert rotation.held_phase(old, None, [old], []) is None


def test_an_unknown_phase_is_refused():
    with pytest.raises(ValueError, match="phase must be one of trust, reissue, drop"):
        rotation.effective_phase("retrust", None)


# --- a broker reloads its stores ----------------------------------------------------------------


class _Listener:
    def __init__(self, name):
        self.config_prefix = f"listener.name.{name}."


def test_each_reload_alternates_between_two_spellings_of_the_same_file():
    path = "/etc/kafka/tls/keystore.pem"
    assert tls_reload.alternate(path, None) == "/etc/kafka/tls/./keystore.pem"
    assert tls_reload.alternate(path, "/etc/kafka/tls/./keystore.pem") == path
    assert tls_reload.alternate(path, path) == "/etc/kafka/tls/./keystore.pem"
    ops = tls_reload.reload_operations([_Listener("client"), _Listener("internal")], path,
                                       "/etc/kafka/tls/truststore.pem",
                                       {"listener.name.client.ssl.keystore.location": "/etc/kafka/tls/./keystore.pem"})
    assert ops == {
        "listener.name.client.ssl.keystore.location": ("SET", path),
        "listener.name.client.ssl.truststore.location": ("SET", "/etc/kafka/tls/./truststore.pem"),
        "listener.name.internal.ssl.keystore.location": ("SET", "/etc/kafka/tls/./keystore.pem"),
        "listener.name.internal.ssl.truststore.location": ("SET", "/etc/kafka/tls/./truststore.pem"),
    }


def test_a_trust_store_counts_as_loaded_when_older_than_the_process_or_stamped_by_it(tmp_path):
    trust = tmp_path / "truststore.pem"
    trust.write_text("CA")
    changed = os.stat(trust).st_mtime
    assert tls_reload.truststore_loaded(str(trust), 42, changed + 1, {})
    assert not tls_reload.truststore_loaded(str(trust), 42, changed - 1, {})
    stamp = tls_reload.write_stamp(str(tmp_path / "stamp.json"), 42, str(trust), str(tmp_path / "none"))
    assert tls_reload.read_stamp(str(tmp_path / "stamp.json")) == stamp
    assert tls_reload.truststore_loaded(str(trust), 42, changed - 1, stamp)
    assert not tls_reload.truststore_loaded(str(trust), 43, changed - 1, stamp)  # another process
    trust.write_text("CA and another")
    assert not tls_reload.truststore_loaded(str(trust), 42, changed - 1, stamp)  # changed since the reload
    assert not tls_reload.truststore_loaded(str(trust), None, None, stamp)


# --- the cluster: phase, plan and a simulated run -----------------------------------------------


class SimulatedCluster:
    """Hosts that hold a phase; brokers reload at once, members restart when asked."""

    def __init__(self, brokers=("kafka1", "kafka2", "kafka3"), members=("kafka1", "kafka2", "kafka3")):
        self.members = list(members)
        self.held = {h: None for h in sorted(set(brokers) | set(members))}
        self.brokers = set(brokers)
        self.down = set()
        self.acted = []
        self.crash_after = None

    def holding(self, host):
        return {"phase": self.held[host], "problems": [],
                "kafka": ({"running": host not in self.down, "keystore_loaded": True, "truststore_loaded": True}
                          if host in self.brokers else None),
                "zookeeper": ({"member": True, "running": True, "pending": []} if host in self.members else None)}

    def holdings(self):
        return {h: self.holding(h) for h in self.held}

    # the engine's driver
    def observe(self, step, phase):
        return {"holdings": self.holdings(), "zookeeper": {"verdict": "healthy"}, "kafka": {"verdict": "healthy"}}

    def act(self, step):
        if self.crash_after is not None and len(self.acted) >= self.crash_after:
            raise KeyboardInterrupt("master killed")
        self.acted.append((step.params["phase"], step.target))
        self.held[step.target] = rotation.later(self.held[step.target], step.params["phase"])
        return {"changed": ["/etc/kafka/tls/truststore.pem"]}

    def event(self, tag, data):
        pass


FAST = steps.Timing(gate_timeout=0.05, step_timeout=0.05, poll_interval=0.01)


def test_a_rotation_is_three_phases_of_one_step_per_host_members_first():
    cluster = SimulatedCluster(brokers=("kafka1", "kafka2", "kafka3", "kafka4"))
    plan = rotation.plan_rotation(cluster.holdings(), members=cluster.members)
    assert [(s.params["phase"], s.target) for s in plan.steps][:4] == [
        ("trust", "kafka1"), ("trust", "kafka2"), ("trust", "kafka3"), ("trust", "kafka4")]
    assert len(plan.steps) == 12
    assert all(s.params["restart_member"] == (s.target != "kafka4") for s in plan.steps)
    steps.run(plan, cluster, FAST)
    assert rotation.cluster_phase(cluster.holdings()) == "promote"


def test_an_interrupted_rotation_resumes_from_what_the_hosts_hold():
    cluster = SimulatedCluster()
    cluster.crash_after = 4  # the master dies in the second phase
    with pytest.raises(KeyboardInterrupt):
        steps.run(rotation.plan_rotation(cluster.holdings(), members=cluster.members), cluster, FAST)
    assert rotation.cluster_phase(cluster.holdings()) == "reissue"
    cluster.crash_after = None
    done_before = list(cluster.acted)
    report = steps.run(rotation.plan_rotation(cluster.holdings(), members=cluster.members), cluster, FAST)
    assert cluster.acted[len(done_before)] == ("reissue", "kafka2")  # kafka1 already holds reissue: skipped
    assert [s["targets"] for s in report["skipped"]] == [["kafka1"]]
    assert rotation.cluster_phase(cluster.holdings()) == "promote"


def test_a_broker_that_dies_during_a_rotation_halts_it_naming_the_broker():
    cluster = SimulatedCluster()
    plan = rotation.plan_rotation(cluster.holdings(), members=cluster.members)
    original = cluster.act

    def act(step):
        done = original(step)
        if len(cluster.acted) == 2:
            cluster.down.add("kafka3")
        return done

    cluster.act = act
    with pytest.raises(steps.Halted) as halted:
        steps.run(plan, cluster, FAST)
    assert "broker on kafka3 is down" in str(halted.value)
    assert ("trust", "kafka3") not in cluster.acted


def test_a_phase_never_starts_before_every_host_completed_the_one_before():
    cluster = SimulatedCluster()
    step = rotation.plan_rotation(cluster.holdings(), members=cluster.members).steps[3]  # reissue kafka1
    cluster.held.update(kafka1="trust", kafka2="trust")
    reasons = rotation.every_host_through_phase.reasons(step, cluster.observe(step, "before"))
    assert reasons == ["kafka3: holds nothing of the rotation, not trust (phase trust)"]


def test_a_host_whose_broker_still_serves_the_old_certificate_has_not_completed_the_phase():
    holding = {"phase": "reissue", "kafka": {"running": True, "keystore_loaded": False, "truststore_loaded": True},
               "zookeeper": {"member": True, "running": True, "pending": ["/etc/zookeeper/tls/member.pem"]}}
    assert rotation.host_done("reissue", holding) == [
        "its broker does not serve the certificate on disk",
        "its ZooKeeper member started before /etc/zookeeper/tls/member.pem changed"]


def test_pem_helpers_read_bundles_and_key_stores(store):
    old = store.ca_cert()
    new, _ = store.start_rotation()
    assert pki.bundle_fingerprints(old + new) == [pki.fingerprint(old), pki.fingerprint(new)]
    assert pki.bundle_fingerprints("") == [] and pki.bundle_fingerprints("garbage") == []
    key, cert, _ = store.certificate("broker-kafka1", ["kafka1"], [], which="next")
    leaf = pki.keystore_leaf(pki.pem_keystore(key, cert, new), (old, new))
    assert leaf == {"fingerprint": pki.fingerprint(cert), "issued_by": pki.fingerprint(new)}
    assert pki.keystore_leaf(None) is None


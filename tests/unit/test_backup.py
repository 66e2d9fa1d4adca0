"""kafkasalt.kafka.backup: the document, the pure diff (backup vs live -> ordered actions), the
crash-safe 0600 file, and apply's dispatch (against recording fakes)."""

import copy
import json
import os
import stat

import pytest

from kafkasalt.kafka import backup
from kafkasalt.security import scram

ALICE = scram.to_zk_string(scram.make_credential("alice-secret", "SCRAM-SHA-512", 8192, salt=b"alicesalt"))
ALICE_NEW = scram.to_zk_string(scram.make_credential("rotated", "SCRAM-SHA-512", 4096, salt=b"othersalt"))
ADMIN_SRC = scram.to_zk_string(scram.make_credential("source-admin", "SCRAM-SHA-512", 4096, salt=b"adminsalt"))
ADMIN_DST = scram.to_zk_string(scram.make_credential("target-admin", "SCRAM-SHA-512", 4096, salt=b"adminsal2"))
READ_ORDERS = {"resource_type": "TOPIC", "resource_name": "orders", "pattern_type": "LITERAL",
               "principal": "User:alice", "host": "*", "operation": "READ", "permission": "ALLOW"}
WRITE_ORDERS = dict(READ_ORDERS, operation="WRITE")


def make_backup(**sections):
    document = {"format": backup.FORMAT, "format_version": backup.FORMAT_VERSION, "kafka_version": "3.9.2",
                "cluster_id": "src", "taken_at": "2026-12-02T07:00:00Z", "mode": "zookeeper", "brokers": [1, 2, 3],
                "topics": {"orders": {"partitions": 6, "replication_factor": 3,
                                      "configs": {"retention.ms": "86400000", "cleanup.policy": "delete"}},
                           "events": {"partitions": 2, "replication_factor": 3, "configs": {}}},
                "users": {"alice": {"SCRAM-SHA-512": ALICE}, "admin": {"SCRAM-SHA-512": ADMIN_SRC}},
                "quotas": {"users": {"alice": {"producer_byte_rate": "1048576"}},
                           "clients": {"reporting": {"request_percentage": "50"}}},
                "acls": [WRITE_ORDERS, READ_ORDERS],
                "broker_configs": {"": {"log.cleaner.threads": "2", "listener.name.x.ssl.key.password": None},
                                   "1": {"leader.replication.throttled.rate": "1000"},
                                   "7": {"follower.replication.throttled.rate": "5"}},
                "groups": {"app": {"state": "Empty", "members": 0,
                                   "offsets": [{"topic": "orders", "partition": 0, "offset": 42, "metadata": ""},
                                               {"topic": "orders", "partition": 1, "offset": 7, "metadata": "m"}]}},
                "unrestorable": [{"section": "broker_configs", "resource": "cluster-wide",
                                  "key": "listener.name.x.ssl.key.password", "reason": "sensitive"}]}
    document.update(sections)
    return document


def empty_live(**sections):
    live = {"cluster_id": "dst", "brokers": [1, 2, 3], "topics": {},
            "users": {"admin": {"SCRAM-SHA-512": ADMIN_DST}}, "quotas": {"users": {}, "clients": {}},
            "acls": [], "broker_configs": {"": {}}, "groups": {}}
    live.update(sections)
    return live


def kinds(plan):
    return [action.kind for action in plan.actions]


def simulate(plan, live):
    """What the cluster holds after ``plan``'s actions (the model the real apply must match)."""
    live = copy.deepcopy(live)
    for action in plan.actions:
        p = action.payload
        if action.kind == "create_topic":
            live["topics"][action.target] = {"partitions": p["partitions"],
                                             "replication_factor": p["replication_factor"],
                                             "configs": dict(p["configs"])}
        elif action.kind == "set_topic_configs":
            configs = live["topics"][action.target]["configs"]
            configs.update(p["set"])
            for key in p["delete"]:
                configs.pop(key)
        elif action.kind == "upsert_user":
            live["users"][action.target] = dict(p["credentials"])
        elif action.kind == "set_quotas":
            live["quotas"][p["entity_type"]][p["name"]] = dict(p["quotas"])
        elif action.kind == "add_acl":
            live["acls"].append(dict(p["binding"]))
        elif action.kind == "set_broker_configs":
            live["broker_configs"].setdefault(p["broker"], {}).update(p["set"])
        elif action.kind == "set_group_offsets":
            group = live["groups"].setdefault(action.target, {"state": "Empty", "members": 0, "offsets": []})
            have = {(o["topic"], o["partition"]): o for o in group["offsets"]}
            for key, (offset, metadata) in p["offsets"].items():
                topic, _, partition = key.rpartition(":")
                have[(topic, int(partition))] = {"topic": topic, "partition": int(partition), "offset": offset,
                                                 "metadata": metadata}
            group["offsets"] = sorted(have.values(), key=lambda o: (o["topic"], o["partition"]))
    return live


# --------------------------------------------------------------------------- diff
def test_an_empty_cluster_gets_everything_in_apply_order():
    plan = backup.diff(make_backup(), empty_live(), keep_users={"admin"})
    assert plan.refused is None
    assert kinds(plan) == ["create_topic", "create_topic", "upsert_user", "set_quotas", "set_quotas",
                           "add_acl", "add_acl", "set_broker_configs", "set_broker_configs", "set_group_offsets"]
    assert [a.target for a in plan.actions[:2]] == ["events", "orders"]
    create = plan.actions[1].payload
    assert create == {"partitions": 6, "replication_factor": 3,
                      "configs": {"retention.ms": "86400000", "cleanup.policy": "delete"}}
    assert plan.counts() == {"create_topic": 2, "upsert_user": 1, "set_quotas": 2, "add_acl": 2,
                             "set_broker_configs": 2, "set_group_offsets": 1}


def test_restoring_twice_changes_nothing():
    document = make_backup()
    first = backup.diff(document, empty_live(), keep_users={"admin"})
    after = simulate(first, empty_live())
    second = backup.diff(document, after, keep_users={"admin"})
    assert second.actions == [] and second.refused is None  # a matching cluster is not "refused"


def test_a_cluster_holding_topics_is_refused_unless_forced():
    live = empty_live(topics={"payments": {"partitions": 1, "replication_factor": 3, "configs": {}}})
    plan = backup.diff(make_backup(), live, keep_users={"admin"})
    assert plan.refused and "payments" in plan.refused and "force=True" in plan.refused
    with pytest.raises(backup.BackupError, match="restore refused"):
        backup.apply(plan, admin=None)
    forced = backup.diff(make_backup(), live, keep_users={"admin"}, force=True)
    assert forced.refused is None and "create_topic" in kinds(forced)


def test_internal_topics_do_not_make_a_cluster_non_empty():
    live = empty_live(topics={"__consumer_offsets": {"partitions": 50, "replication_factor": 3, "configs": {}}})
    assert backup.diff(make_backup(), live, keep_users={"admin"}).refused is None


def test_partition_and_replication_mismatches_are_reported_never_fixed():
    live = empty_live(topics={"orders": {"partitions": 3, "replication_factor": 2,
                                         "configs": {"retention.ms": "86400000", "cleanup.policy": "delete"}}})
    plan = backup.diff(make_backup(), live, keep_users={"admin"}, force=True)
    assert {(m["field"], m["backup"], m["live"]) for m in plan.mismatches} == {
        ("partitions", 6, 3), ("replication_factor", 3, 2)}
    assert [a.target for a in plan.actions if a.kind in ("create_topic", "set_topic_configs")] == ["events"]


def test_topic_overrides_converge_set_and_removed():
    live = empty_live(topics={"orders": {"partitions": 6, "replication_factor": 3,
                                         "configs": {"retention.ms": "1000", "segment.ms": "60000"}},
                              "events": {"partitions": 2, "replication_factor": 3, "configs": {}}})
    plan = backup.diff(make_backup(), live, keep_users={"admin"}, force=True)
    change = next(a for a in plan.actions if a.kind == "set_topic_configs")
    assert change.target == "orders"
    assert change.payload == {"set": {"cleanup.policy": "delete", "retention.ms": "86400000"}, "delete": ["segment.ms"]}
    assert "remove segment.ms" in change.detail


def test_the_targets_own_users_are_kept_and_said_so():
    plan = backup.diff(make_backup(), empty_live(), keep_users={"admin"})
    assert [a.target for a in plan.actions if a.kind == "upsert_user"] == ["alice"]
    assert plan.skipped[0]["user"] == "admin" and "kept" in plan.skipped[0]["reason"]
    # Without the protection the admin would be overwritten, which would lock the target out.
    unprotected = backup.diff(make_backup(), empty_live())
    assert sorted(a.target for a in unprotected.actions if a.kind == "upsert_user") == ["admin", "alice"]


def test_a_user_with_another_credential_is_updated_an_equal_one_left_alone():
    live = empty_live(users={"alice": {"SCRAM-SHA-512": ALICE_NEW}})
    plan = backup.diff(make_backup(), live, keep_users={"admin"})
    upsert = next(a for a in plan.actions if a.kind == "upsert_user")
    assert upsert.detail.startswith("update SCRAM user alice: SCRAM-SHA-512 (8192 iterations)")
    assert not [a for a in backup.diff(make_backup(), empty_live(users={"alice": {"SCRAM-SHA-512": ALICE}}),
                                       keep_users={"admin"}).actions if a.kind == "upsert_user"]


def test_no_key_material_in_what_is_printed():
    plan = backup.diff(make_backup(), empty_live())
    printed = json.dumps(plan.summary()) + repr(plan.actions)
    for credential in (ALICE, ADMIN_SRC):
        for field in credential.split(","):
            if not field.startswith("iterations="):
                assert field.split("=", 1)[1] not in printed


def test_sensitive_broker_configs_are_unrestorable_and_never_set():
    plan = backup.diff(make_backup(), empty_live(), keep_users={"admin"})
    cluster_wide = next(a for a in plan.actions if a.kind == "set_broker_configs" and a.target == "cluster-wide")
    assert cluster_wide.payload == {"broker": "", "set": {"log.cleaner.threads": "2"}}
    assert plan.unrestorable[0]["key"] == "listener.name.x.ssl.key.password"


def test_broker_configs_of_a_broker_the_target_lacks_are_skipped():
    plan = backup.diff(make_backup(), empty_live(), keep_users={"admin"})
    assert {a.target for a in plan.actions if a.kind == "set_broker_configs"} == {"cluster-wide", "1"}
    assert any(s.get("broker") == "7" for s in plan.skipped)


def test_acls_only_the_cluster_has_are_left_in_place():
    extra = dict(READ_ORDERS, principal="User:carol")
    plan = backup.diff(make_backup(), empty_live(acls=[READ_ORDERS, extra]), keep_users={"admin"})
    assert [a.payload["binding"] for a in plan.actions if a.kind == "add_acl"] == [WRITE_ORDERS]


def test_group_offsets_only_for_groups_without_members():
    busy = {"app": {"state": "Stable", "members": 2, "offsets": []}}
    plan = backup.diff(make_backup(), empty_live(groups=busy), keep_users={"admin"})
    assert "set_group_offsets" not in kinds(plan)
    assert any(s.get("group") == "app" and "2 active member(s)" in s["reason"] for s in plan.skipped)
    partial = {"app": {"state": "Empty", "members": 0,
                       "offsets": [{"topic": "orders", "partition": 0, "offset": 42, "metadata": ""}]}}
    plan = backup.diff(make_backup(), empty_live(groups=partial), keep_users={"admin"})
    offsets = next(a for a in plan.actions if a.kind == "set_group_offsets").payload["offsets"]
    assert offsets == {"orders:1": [7, "m"]}


def test_offsets_of_topics_outside_the_backup_are_skipped():
    groups = {"app": {"state": "Empty", "members": 0,
                      "offsets": [{"topic": "gone", "partition": 0, "offset": 3, "metadata": ""}]}}
    plan = backup.diff(make_backup(groups=groups), empty_live(), keep_users={"admin"})
    assert "set_group_offsets" not in kinds(plan)
    assert any("gone" in s["reason"] for s in plan.skipped)


def test_quotas_converge_per_entity():
    live = empty_live(quotas={"users": {"alice": {"producer_byte_rate": "1", "consumer_byte_rate": "9"}},
                              "clients": {"reporting": {"request_percentage": "50"}}})
    plan = backup.diff(make_backup(), live, keep_users={"admin"})
    quotas = [a for a in plan.actions if a.kind == "set_quotas"]
    assert [(a.target, a.payload["quotas"]) for a in quotas] == [("users/alice", {"producer_byte_rate": "1048576"})]


@pytest.mark.parametrize("change, message", [
    ({"format": "other"}, "is not a kafkasalt-metadata-backup document"),
    ({"format_version": 2}, "format_version 2; this code reads version 1"),
    ({"topics": []}, "section 'topics' is missing or not a dict"),
    ({"acls": {}}, "section 'acls' is missing or not a list"),
])
def test_documents_of_another_format_are_refused(change, message):
    with pytest.raises(backup.BackupError, match=message):
        backup.diff(make_backup(**change), empty_live())


# --------------------------------------------------------------------------- files
def test_write_is_0600_and_round_trips(tmp_path):
    path = backup.write(make_backup(), tmp_path / "b" / "cluster.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert backup.read(path) == make_backup()
    assert os.listdir(tmp_path / "b") == ["cluster.json"]  # no temporary file left


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = backup.write(make_backup(), tmp_path / "cluster.json")
    original = open(path).read()

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(backup.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        backup.write(make_backup(cluster_id="other"), path)
    assert open(path).read() == original
    assert os.listdir(tmp_path) == ["cluster.json"]


def test_read_names_what_is_wrong(tmp_path):
    with pytest.raises(backup.BackupError, match="cannot read backup"):
        backup.read(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(backup.BackupError, match="not JSON"):
        backup.read(bad)


# --------------------------------------------------------------------------- apply
class RecordingAdmin:
    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def record(*args, **kwargs):
            self.calls.append((name, args, kwargs))
        return record


class MemoryZk:
    """The three kazoo calls apply uses, over a dict of path -> bytes."""

    def __init__(self, nodes=None):
        self.nodes = dict(nodes or {})
        self.sequence = 0

    def exists(self, path):
        return path in self.nodes

    def get(self, path):
        return self.nodes[path], None

    def set(self, path, data):
        self.nodes[path] = data

    def create(self, path, data, acl=None, makepath=False, sequence=False):
        if sequence:
            path, self.sequence = f"{path}{self.sequence:010d}", self.sequence + 1
        self.nodes[path] = data


def test_apply_dispatches_in_order_and_merges_user_znodes():
    zk = MemoryZk({"/kafka/config/changes": b"",
                   "/kafka/config/users/alice": scram.user_znode_data({}, {"SCRAM-SHA-512": ALICE_NEW,
                                                                           "consumer_byte_rate": "5"})})
    admin = RecordingAdmin()
    plan = backup.diff(make_backup(), empty_live(), keep_users={"admin"})
    done = backup.apply(plan, admin, zk, "/kafka")
    assert [d["action"] for d in done] == kinds(plan)
    names = [call[0] for call in admin.calls]
    assert names == ["create_topic", "create_topic", "add_acls", "add_acls", "alter_broker_config",
                     "alter_broker_config", "alter_group_offsets"]
    assert admin.calls[-1][1] == ("app", {("orders", 0): (42, ""), ("orders", 1): (7, "m")})
    alice = scram.parse_user_znode(zk.nodes["/kafka/config/users/alice"])
    # The credential comes from the backup, the quota from the backup's quota action.
    assert alice == {"SCRAM-SHA-512": ALICE, "producer_byte_rate": "1048576"}
    assert scram.parse_user_znode(zk.nodes["/kafka/config/clients/reporting"]) == {"request_percentage": "50"}
    announced = sorted(json.loads(v)["entity_path"] for k, v in zk.nodes.items() if "config_change_" in k)
    assert announced == ["clients/reporting", "users/alice", "users/alice"]


def test_apply_refuses_a_corrupt_credential_before_writing():
    document = make_backup(users={"alice": {"SCRAM-SHA-512": "salt=AAAA,iterations=4096"}})
    zk = MemoryZk()
    plan = backup.diff(document, empty_live(), keep_users={"admin"})
    plan.actions = [a for a in plan.actions if a.kind == "upsert_user"]
    with pytest.raises(ValueError, match="exactly the fields"):
        backup.apply(plan, RecordingAdmin(), zk, "")
    assert zk.nodes == {}


def test_users_need_zookeeper():
    plan = backup.diff(make_backup(), empty_live(), keep_users={"admin"})
    with pytest.raises(backup.BackupError, match="needs a ZooKeeper session"):
        backup.apply(plan, RecordingAdmin(), None)

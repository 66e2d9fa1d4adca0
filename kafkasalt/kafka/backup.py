"""Metadata backup and restore of a ZooKeeper-mode Kafka cluster.

:func:`collect` reads one versioned document from a running cluster (through the admin client
and, for what the brokers never reveal, ZooKeeper): topics (partitions, replication factor,
overrides), SCRAM users as Kafka stores them (salt, stored and server keys, iterations; never a
password), user and client-id quotas, ACLs, cluster-wide and per-broker dynamic configs, and
consumer group committed offsets. :func:`write` puts it on disk with mode 0600, atomically.

:func:`diff` is pure: a backup and the live state of a cluster (the same shape, from
:func:`collect`) give an ordered :class:`Plan` of actions, plus what cannot or will not be
restored, with the reason. :func:`apply` carries a plan out. Applied twice, the second diff is
empty: every action converges on the backup's value and nothing is recreated blindly.

What the document can hold, and what it cannot:

- Sensitive dynamic configs (passwords of listeners, keystores) come back from Kafka as null.
  They are recorded by name under ``unrestorable`` and never written.
- SCRAM keys are read from ``<chroot>/config/users``: DescribeUserScramCredentials returns only
  the mechanism and iterations. So users (and quotas, which live in the same znodes) are backed
  up and restored through ZooKeeper; a KRaft cluster has no such store.
- User-and-client-id quotas (``/config/users/<user>/clients/<id>``) and IP quotas are not
  collected.

Secrets policy: an :class:`Action`'s ``detail`` (what runners print) never holds key material;
the keys travel in ``payload``, which ``repr`` leaves out.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os

from kafkasalt.kafka import zk_users
from kafkasalt.security import acl as acl_model
from kafkasalt.security import scram

FORMAT = "kafkasalt-metadata-backup"
FORMAT_VERSION = 1
SECTIONS = ("topics", "users", "quotas", "acls", "broker_configs", "groups")
# Topics Kafka creates and owns: never backed up, never counted as "a cluster holding topics".
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})
# Actions, in the order they are applied: topics before their configs and offsets, users
# before the ACLs naming them, cluster-wide broker configs before per-broker ones.
ORDER = ("create_topic", "set_topic_configs", "upsert_user", "set_quotas", "add_acl",
         "set_broker_configs", "set_group_offsets")


class BackupError(RuntimeError):
    """A backup cannot be read, or a restore is refused; the message says why."""


class RestoreRefused(BackupError):
    """The plan must not run (see :attr:`Plan.refused`); ``plan`` is its printable summary."""

    def __init__(self, message, plan=None):
        super().__init__(message)
        self.plan = plan


# --------------------------------------------------------------------------- collect
def collect(admin, zk=None, chroot="", kafka_version=None, now=None):
    """Read the cluster's metadata into one backup document (a JSON-friendly dict).

    ``admin`` is a :class:`~kafkasalt.kafka.admin.KafkaAdmin`; ``zk`` a started kazoo client
    allowed to read Kafka's ``<chroot>/config`` (without it, users and quotas are empty and
    the document says so under ``unrestorable``). ``kafka_version`` is recorded as given (the
    protocol does not tell a broker's release).
    """
    state = live_state(admin, zk, chroot)
    taken_at = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    unrestorable = [{"section": "broker_configs", "resource": resource or "cluster-wide", "key": key,
                     "reason": "sensitive: Kafka returns its value as null, so it cannot be backed up"}
                    for resource, configs in sorted(state["broker_configs"].items())
                    for key, value in sorted(configs.items()) if value is None]
    if zk is None:
        unrestorable.append({"section": "users", "resource": "*", "key": None,
                             "reason": "no ZooKeeper session: SCRAM keys and quotas were not read"})
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "kafka_version": kafka_version,
            "cluster_id": state.pop("cluster_id"), "taken_at": taken_at, "mode": "zookeeper",
            **state, "unrestorable": unrestorable}


def live_state(admin, zk=None, chroot=""):
    """The sections of a backup document as the cluster holds them now (see :func:`collect`),
    with the cluster id and the registered broker ids."""
    cluster = admin.describe_cluster()
    described = admin.describe_topics()
    names = [name for name, info in described.items() if not info["internal"] and name not in INTERNAL_TOPICS]
    configs = admin.topics_configs(names)
    topics = {name: {"partitions": len(described[name]["partitions"]),
                     "replication_factor": described[name]["replication_factor"],
                     "configs": configs.get(name, {})} for name in names}
    users, quotas = {}, {"users": {}, "clients": {}}
    if zk is not None:
        for name, config in zk_users.entity_configs(zk, chroot, "users").items():
            credentials = {key: value for key, value in config.items() if key in scram.MECHANISMS}
            if credentials:
                users[name] = credentials
            limits = {key: value for key, value in config.items() if key not in scram.MECHANISMS}
            if limits:
                quotas["users"][name] = limits
        quotas["clients"] = zk_users.entity_configs(zk, chroot, "clients")
    acls = [dataclasses.asdict(binding) for binding in admin.list_acls()]
    broker_configs = {"": admin.broker_configs(None)}
    for broker in cluster["brokers"]:
        found = admin.broker_configs(broker["id"])
        if found:
            broker_configs[str(broker["id"])] = found
    group_ids = admin.list_groups()
    states = admin.group_states(group_ids)
    offsets = admin.committed_offsets(group_ids)
    groups = {}
    for group_id in group_ids:
        committed = offsets.get(group_id) or {}
        if not committed and states[group_id]["members"] == 0:
            continue
        groups[group_id] = {"state": states[group_id]["state"], "members": states[group_id]["members"],
                            "offsets": [{"topic": t, "partition": p, "offset": offset, "metadata": metadata}
                                        for (t, p), (offset, metadata) in sorted(committed.items())]}
    return {"cluster_id": cluster.get("cluster_id"), "brokers": sorted(b["id"] for b in cluster["brokers"]),
            "topics": topics, "users": users, "quotas": quotas, "acls": sorted(acls, key=_acl_key),
            "broker_configs": broker_configs, "groups": groups}


def _acl_key(entry):
    return tuple(entry[field] for field in ("resource_type", "resource_name", "pattern_type", "principal",
                                            "host", "operation", "permission"))


# --------------------------------------------------------------------------- files
def dumps(document):
    """The document as the file holds it: JSON, keys sorted, one trailing newline."""
    return json.dumps(document, indent=1, sort_keys=True) + "\n"


def write(document, path):
    """Write ``document`` to ``path`` with mode 0600, crash-safe: a temporary file in the same
    directory, flushed and fsynced, renamed over ``path``, then the directory fsynced. A reader
    (or a crash) sees the old file or the new one, never part of one. Returns ``path``."""
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(dumps(document))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


def read(path):
    """Load and check a backup file; raises :class:`BackupError` naming what is wrong."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as exc:
        raise BackupError(f"cannot read backup {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise BackupError(f"{path} is not a backup: not JSON ({exc.msg} at line {exc.lineno})") from None
    return check(document, path)


def check(document, where="backup"):
    """``document`` if it is a backup of a format this code reads, else :class:`BackupError`."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BackupError(f"{where} is not a {FORMAT} document")
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise BackupError(f"{where} has format_version {version!r}; this code reads version {FORMAT_VERSION}")
    for section in SECTIONS:
        expected = list if section == "acls" else dict
        if not isinstance(document.get(section), expected):
            raise BackupError(f"{where}: section {section!r} is missing or not a {expected.__name__}")
    return document


# --------------------------------------------------------------------------- plan
@dataclasses.dataclass(frozen=True)
class Action:
    """One change of a restore. ``detail`` is what a person reads (never key material);
    ``payload`` is what :func:`apply` sends, left out of ``repr``."""

    kind: str
    target: str
    detail: str
    payload: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

    def describe(self):
        """``{"action", "target", "detail"}``: the printable form."""
        return {"action": self.kind, "target": self.target, "detail": self.detail}


@dataclasses.dataclass
class Plan:
    """The ordered actions of a restore, and what it leaves alone: ``mismatches`` (differences
    it will not fix, e.g. a partition count), ``skipped`` (kept on purpose, with the reason),
    ``unrestorable`` (from the backup). ``refused`` is set when the restore must not run."""

    actions: list
    mismatches: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)
    unrestorable: list = dataclasses.field(default_factory=list)
    refused: str | None = None

    def summary(self):
        """The printable plan: no key material."""
        return {"actions": [action.describe() for action in self.actions], "mismatches": list(self.mismatches),
                "skipped": list(self.skipped), "unrestorable": list(self.unrestorable), "refused": self.refused}

    def counts(self):
        """``{action kind: n}`` in apply order."""
        found = {}
        for action in self.actions:
            found[action.kind] = found.get(action.kind, 0) + 1
        return {kind: found[kind] for kind in ORDER if kind in found}


def diff(backup, live, keep_users=(), force=False):
    """The :class:`Plan` that brings ``live`` (from :func:`live_state`) to ``backup``. Pure.

    - Missing topics are created with the backup's partitions, replication factor and
      overrides; an existing topic's overrides converge on the backup's (set and removed). A
      different partition count or replication factor is reported under ``mismatches`` and
      never "fixed" (Kafka cannot remove partitions; adding some would move keys).
    - Users are written with the backup's stored credentials unless named in ``keep_users``
      (the target's own super and inter-broker users: overwriting them would lock the brokers
      out). Quotas converge per entity.
    - ACLs missing from the cluster are added; ACLs only the cluster has are left in place.
    - Broker configs: the backup's non-null values are set; per-broker configs of a broker id
      the cluster does not have are skipped, with the reason.
    - Group offsets are set where they differ, only for groups without active members.
    - A plan with actions is ``refused`` when the cluster holds a non-internal topic, unless
      ``force``. A cluster that already matches gives an empty plan, refused or not.
    """
    check(backup)
    keep_users = set(keep_users or ())
    actions, mismatches, skipped = [], [], []
    live_topics = live.get("topics") or {}

    for name, wanted in sorted(backup["topics"].items()):
        current = live_topics.get(name)
        configs = dict(wanted.get("configs") or {})
        if current is None:
            actions.append(Action("create_topic", name, f"create topic {name}: {wanted['partitions']} partition(s), "
                                  f"replication factor {wanted['replication_factor']}, {len(configs)} override(s)",
                                  {"partitions": wanted["partitions"],
                                   "replication_factor": wanted["replication_factor"], "configs": configs}))
            continue
        for field in ("partitions", "replication_factor"):
            if current[field] != wanted[field]:
                mismatches.append({"topic": name, "field": field, "backup": wanted[field], "live": current[field],
                                   "note": "reported only: a restore never deletes or adds partitions or replicas"})
        have = current.get("configs") or {}
        to_set = {key: value for key, value in sorted(configs.items()) if have.get(key) != value}
        to_delete = sorted(key for key in have if key not in configs)
        if to_set or to_delete:
            actions.append(Action("set_topic_configs", name,
                                  f"topic {name}: set {', '.join(f'{k}={v}' for k, v in to_set.items()) or 'nothing'}"
                                  + (f"; remove {', '.join(to_delete)}" if to_delete else ""),
                                  {"set": to_set, "delete": to_delete}))

    live_users = live.get("users") or {}
    for name, credentials in sorted(backup["users"].items()):
        mechanisms = ", ".join(f"{m} ({_iterations(value)} iterations)" for m, value in sorted(credentials.items()))
        if name in keep_users:
            if live_users.get(name) != credentials:
                skipped.append({"user": name, "reason": "the target cluster's own super or inter-broker user: "
                                                        "its credential is kept"})
            continue
        if live_users.get(name) != credentials:
            verb = "update" if name in live_users else "create"
            actions.append(Action("upsert_user", name, f"{verb} SCRAM user {name}: {mechanisms} as stored in the backup",
                                  {"credentials": dict(credentials)}))

    live_quotas = live.get("quotas") or {}
    for entity_type in ("users", "clients"):
        have_all = live_quotas.get(entity_type) or {}
        for name, limits in sorted((backup["quotas"].get(entity_type) or {}).items()):
            if have_all.get(name, {}) != limits:
                actions.append(Action("set_quotas", f"{entity_type}/{name}",
                                      f"{entity_type[:-1]} {name} quotas: "
                                      + ", ".join(f"{k}={v}" for k, v in sorted(limits.items())),
                                      {"entity_type": entity_type, "name": name, "quotas": dict(limits)}))

    have_acls = {_acl_key(entry) for entry in live.get("acls") or []}
    for entry in sorted(backup["acls"], key=_acl_key):
        if _acl_key(entry) not in have_acls:
            binding = acl_model.AclBinding(**entry)
            actions.append(Action("add_acl", f"{entry['resource_type']}:{entry['resource_name']}",
                                  f"add ACL {binding}", {"binding": dict(entry)}))

    live_brokers = {str(broker) for broker in live.get("brokers") or []}
    live_configs = live.get("broker_configs") or {}
    for resource, configs in sorted(backup["broker_configs"].items()):
        label = f"broker {resource}" if resource else "cluster-wide broker default"
        if resource and live_brokers and resource not in live_brokers:
            if configs:
                skipped.append({"broker": resource, "reason": f"no broker {resource} in the target cluster: "
                                                              f"its {len(configs)} dynamic config(s) are not applied"})
            continue
        have = live_configs.get(resource) or {}
        to_set = {key: value for key, value in sorted(configs.items()) if value is not None and have.get(key) != value}
        if to_set:
            actions.append(Action("set_broker_configs", resource or "cluster-wide",
                                  f"{label}: set " + ", ".join(f"{k}={v}" for k, v in to_set.items()),
                                  {"broker": resource, "set": to_set}))

    wanted_topics = set(backup["topics"]) | set(live_topics)
    live_groups = live.get("groups") or {}
    for group_id, group in sorted(backup["groups"].items()):
        current = live_groups.get(group_id) or {}
        have = {(o["topic"], o["partition"]): o["offset"] for o in current.get("offsets") or []}
        to_set, missing_topics = {}, set()
        for entry in group.get("offsets") or []:
            if entry["topic"] not in wanted_topics:
                missing_topics.add(entry["topic"])
                continue
            if have.get((entry["topic"], entry["partition"])) != entry["offset"]:
                to_set[(entry["topic"], entry["partition"])] = (entry["offset"], entry.get("metadata") or "")
        if missing_topics:
            skipped.append({"group": group_id, "reason": f"offsets of topics not in the backup are not restored: "
                                                         f"{', '.join(sorted(missing_topics))}"})
        if not to_set:
            continue
        if current.get("members"):
            skipped.append({"group": group_id, "reason": f"{current['members']} active member(s): offsets can only "
                                                         f"be set on a group without members"})
            continue
        actions.append(Action("set_group_offsets", group_id,
                              f"group {group_id}: commit {len(to_set)} offset(s) on "
                              + ", ".join(sorted({t for t, _ in to_set})),
                              {"offsets": {f"{t}:{p}": list(v) for (t, p), v in sorted(to_set.items())}}))

    actions.sort(key=lambda action: ORDER.index(action.kind))
    refused = None
    foreign = sorted(name for name in live_topics if name not in INTERNAL_TOPICS)
    if actions and foreign and not force:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        refused = (f"the cluster is not empty: it holds {len(foreign)} topic(s) ({shown}); "
                   f"restore with force=True to merge the backup into it")
    return Plan(actions, mismatches, skipped, list(backup.get("unrestorable") or []), refused)


def _iterations(zk_string):
    for token in str(zk_string).split(","):
        name, _, value = token.partition("=")
        if name == "iterations":
            return value
    return "?"


# --------------------------------------------------------------------------- apply
def apply(plan, admin, zk=None, chroot="", acl=None):
    """Carry out ``plan``'s actions in order; returns the described actions done.

    Users and quotas are written into ``zk`` (ZooKeeper mode; new znodes get ``acl``), the rest
    through ``admin``. Raises :class:`BackupError` for a refused plan before changing anything.
    """
    if plan.refused:
        raise RestoreRefused(f"restore refused: {plan.refused}", plan.summary())
    if zk is None and any(a.kind in ("upsert_user", "set_quotas") for a in plan.actions):
        raise BackupError("restoring SCRAM users and quotas needs a ZooKeeper session (ZooKeeper-mode cluster)")
    done = []
    for action in plan.actions:
        payload = action.payload
        if action.kind == "create_topic":
            admin.create_topic(action.target, payload["partitions"], payload["replication_factor"],
                               config=payload["configs"] or None)
        elif action.kind == "set_topic_configs":
            admin.alter_topic_config(action.target, set_configs=payload["set"] or None,
                                     delete_keys=payload["delete"] or None)
        elif action.kind == "upsert_user":
            _write_user(zk, chroot, action.target, payload["credentials"], acl)
        elif action.kind == "set_quotas":
            _write_quotas(zk, chroot, payload["entity_type"], payload["name"], payload["quotas"], acl)
        elif action.kind == "add_acl":
            admin.add_acls([acl_model.AclBinding(**payload["binding"])])
        elif action.kind == "set_broker_configs":
            admin.alter_broker_config(payload["broker"] or None, set_configs=payload["set"])
        elif action.kind == "set_group_offsets":
            offsets = {}
            for key, (offset, metadata) in payload["offsets"].items():
                topic, _, partition = key.rpartition(":")
                offsets[(topic, int(partition))] = (offset, metadata)
            admin.alter_group_offsets(action.target, offsets)
        else:  # pragma: no cover - diff only makes the kinds above
            raise BackupError(f"unknown action {action.kind!r}")
        done.append(action.describe())
    return done


def _current_config(zk, chroot, entity_type, name):
    path = zk_users._path(chroot, f"/config/{entity_type}/{scram.sanitize_entity_name(name)}")
    return scram.parse_user_znode(zk.get(path)[0]) if zk.exists(path) else {}


def _write_user(zk, chroot, name, credentials, acl):
    # Validate before writing: a corrupt backup must not put an unreadable credential in place.
    for mechanism, text in credentials.items():
        scram.from_zk_string(text, mechanism)
    config = {key: value for key, value in _current_config(zk, chroot, "users", name).items()
              if key not in scram.MECHANISMS}
    config.update(credentials)
    zk_users.write_entity_config(zk, chroot, "users", name, config, acl=acl)


def _write_quotas(zk, chroot, entity_type, name, quotas, acl):
    current = _current_config(zk, chroot, entity_type, name)
    config = {key: value for key, value in current.items() if key in scram.MECHANISMS}
    config.update(quotas)
    zk_users.write_entity_config(zk, chroot, entity_type, name, config, acl=acl)


def restore(document, admin, zk=None, chroot="", keep_users=(), force=False, test=False, acl=None):
    """Diff ``document`` against the cluster and (unless ``test``) apply the plan.

    Returns ``{"plan": Plan.summary(), "counts", "applied": [...]}``; raises
    :class:`RestoreRefused` when the plan is refused and ``test`` is false.
    """
    plan = diff(document, live_state(admin, zk, chroot), keep_users=keep_users, force=force)
    result = {"plan": plan.summary(), "counts": plan.counts(), "applied": []}
    if test or not plan.actions:
        return result
    result["applied"] = apply(plan, admin, zk, chroot, acl=acl)
    return result


# --------------------------------------------------------------------------- sessions
class ClusterSession:
    """What collect and restore need for one cluster of the pillar, opened on the master:
    the admin client (the super user over the admin listener, the ``kafka_tls`` client
    certificate when it uses TLS) and a ZooKeeper session as ZooKeeper's super user (SCRAM
    keys and quotas live there in ZooKeeper mode).

    ``model`` is the :class:`~kafkasalt.kafka.model.ClusterModel`, ``ensemble`` its
    :class:`~kafkasalt.zookeeper.model.EnsembleModel`, ``kafka_tls``/``zookeeper_tls`` a broker's
    TLS pillar (from the ``kafka_pki`` ext_pillar), ``private_dir`` where the TLS client files
    are written (0600). Use as a context manager; both connections close on exit.
    """

    def __init__(self, model, ensemble, kafka_tls=None, zookeeper_tls=None, private_dir=None):
        self.model = model
        self.ensemble = ensemble
        self.kafka_tls = kafka_tls or {}
        self.zookeeper_tls = zookeeper_tls or {}
        self.private_dir = private_dir
        self.admin = None
        self.zk = None
        self._zk_context = None

    @property
    def chroot(self):
        """Kafka's chroot in ZooKeeper ('' for the root)."""
        return self.model.zookeeper_chroot

    @property
    def keep_users(self):
        """The cluster's own super and inter-broker users: a restore never overwrites them."""
        return {self.model.super_user.name, self.model.inter_broker_user.name}

    def znode_acl(self):
        """ACL of the znodes a restore creates: the brokers' ZooKeeper user and the super user."""
        from kafkasalt.zookeeper import client as zkclient

        return [zkclient.parse_acl(f"sasl:{self.model.zookeeper_user}:cdrwa"), zkclient.parse_acl("sasl:super:cdrwa")]

    def _tls_files(self, tls, prefix):
        from kafkasalt.common.files import write_private
        from kafkasalt.security import pki

        if tls.get("error"):
            raise BackupError(tls["error"])
        if isinstance(tls.get("next"), dict):
            raise BackupError("a CA rotation is pending: finish it (salt-run kafka.rotate_ca) before a backup or "
                              "a restore")
        client = tls.get("client") or {}
        if not tls.get("ca_cert") or not client.get("key"):
            raise BackupError(f"no {prefix} TLS client material in pillar: enable the kafka_pki ext_pillar")
        os.makedirs(self.private_dir, mode=0o700, exist_ok=True)
        ca_file = os.path.join(self.private_dir, f"{prefix}-ca.pem")
        key_file = os.path.join(self.private_dir, f"{prefix}-client.pem")
        write_private(ca_file, tls["ca_cert"])
        write_private(key_file, pki.pem_keystore(client["key"], client["cert"], tls["ca_cert"]))
        return ca_file, key_file

    def __enter__(self):
        from kafkasalt.kafka.admin import KafkaAdmin
        from kafkasalt.kafka.admin.connection import ConnectionSettings
        from kafkasalt.zookeeper import client as zkclient

        listener = self.model.admin_listener
        ca_file = cert_file = None
        if listener.uses_tls:
            ca_file, cert_file = self._tls_files(self.kafka_tls, "kafka")
        settings = ConnectionSettings(
            bootstrap_servers=self.model.bootstrap_servers(), security_protocol=listener.protocol,
            sasl_mechanism=self.model.sasl_mechanism, username=self.model.super_user.name,
            password=self.model.super_user.password.reveal(), ca_file=ca_file, cert_file=cert_file,
            key_file=cert_file, client_id="salt-master-backup")
        tls = None
        if self.ensemble.tls.enabled:
            tls = zkclient.TlsFiles(*self._tls_files(self.zookeeper_tls, "zookeeper"))
        self.admin = KafkaAdmin(settings)
        try:
            self._zk_context = zkclient.session(self.model.zookeeper_connect(chroot=False), "super",
                                                self.ensemble.super_password.reveal(), tls=tls)
            self.zk = self._zk_context.__enter__()
        except BaseException:
            self.admin.close()
            raise
        return self

    def __exit__(self, *exc_info):
        try:
            if self._zk_context is not None:
                self._zk_context.__exit__(*exc_info)
        finally:
            self.admin.close()

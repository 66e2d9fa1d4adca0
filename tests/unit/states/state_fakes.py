"""Plain-Python stand-ins for what the state modules call, over one small in-memory cluster.

``FakeCluster.salt_functions()`` is a ``__salt__`` with the execution-module functions the
states use (same names and parameters as ``_modules/kafka.py`` and
``_modules/zookeeper_ensemble.py``; ``test_state_fakes.py`` keeps them in step). ``converge``
drives one state call through test=True, the real run and the re-run.
"""

import copy

from salt.exceptions import CommandExecutionError, SaltInvocationError

from kafkasalt.security import acl

DEFAULT_MECHANISM = "SCRAM-SHA-512"


class FakeCluster:
    """Three brokers, their topics, SCRAM users and ACLs, ZooKeeper znodes, a minion's files,
    services and pillar secrets. Every write is recorded in ``writes``."""

    def __init__(self):
        self.brokers = [1, 2, 3]
        self.topics = {}  # name -> {"internal": bool, "config": {key: str}, "assignment": {partition: [ids]}}
        self.reassigning = {}  # topic -> {partition: [ids]} until verified
        self.users = {}  # name -> {mechanism: {"iterations": int, "password": str}}
        self.acls = set()  # acl.AclBinding
        self.znodes = {"/": {"acl": ["world:anyone:cdrwa"], "data": b""}}
        self.files = {}  # path -> text (mode 0600)
        self.services = {}  # name -> {"registered": bool, "running": bool, "pid": int | None}
        self.dynamic = {"wanted": {}, "applied": {}}  # cluster-wide dynamic broker configs
        self.pillar = {}  # pillar key -> secret
        self.writes = []

    def snapshot(self):
        return copy.deepcopy({k: v for k, v in vars(self).items() if k != "writes"})

    def _write(self, function, *args):
        self.writes.append((function, *args))

    def add_topic(self, name, partitions, replication_factor, config=None, internal=False):
        self.topics[name] = {"internal": internal, "config": {str(k): str(v) for k, v in (config or {}).items()},
                             "assignment": {p: self._replicas(p, replication_factor) for p in range(partitions)}}

    def _replicas(self, partition, replication_factor):
        return [self.brokers[(partition + i) % len(self.brokers)] for i in range(replication_factor)]

    def _topic(self, name):
        if name not in self.topics:
            raise CommandExecutionError(f"topic {name} does not exist")
        return self.topics[name]

    def _secret(self, key):
        if key not in self.pillar:
            raise SaltInvocationError(f"password_pillar: no pillar key {key}")
        return self.pillar[key]

    # --- kafka: topics -------------------------------------------------------------------------
    def topic_state(self, name):
        if name not in self.topics:
            return {"exists": False, "broker_ids": list(self.brokers)}
        topic = self.topics[name]
        return {"exists": True, "internal": topic["internal"], "partitions": len(topic["assignment"]),
                "replication_factor": len(topic["assignment"][0]), "assignment": copy.deepcopy(topic["assignment"]),
                "config": dict(topic["config"]), "broker_ids": list(self.brokers),
                "reassigning": [f"{name}-{p}" for p in self.reassigning.get(name, {})]}

    def create_topic(self, name, partitions, replication_factor=None, config=None):
        if name in self.topics:
            raise CommandExecutionError(f"topic '{name}' already exists")
        self._write("create_topic", name)
        self.add_topic(name, int(partitions), int(replication_factor or 3), config)
        return {"name": name, "partitions": partitions, "replication_factor": replication_factor, "config": config}

    def delete_topic(self, name, allow_internal=False):
        if self._topic(name)["internal"] and not allow_internal:
            raise SaltInvocationError(f"{name} is internal")
        self._write("delete_topic", name)
        del self.topics[name]
        return {"deleted": name}

    def alter_topic_config(self, name, set_configs=None, delete_keys=None):
        config = self._topic(name)["config"]
        self._write("alter_topic_config", name)
        config.update({str(k): str(v) for k, v in (set_configs or {}).items()})
        for key in delete_keys or ():
            config.pop(key, None)
        return {"set": sorted(set_configs or {}), "deleted": sorted(delete_keys or ())}

    def add_partitions(self, name, total):
        assignment = self._topic(name)["assignment"]
        if total <= len(assignment):
            raise CommandExecutionError(f"topic {name} already has {len(assignment)} partitions")
        self._write("add_partitions", name, total)
        replication_factor = len(assignment[0])
        for partition in range(len(assignment), total):
            assignment[partition] = self._replicas(partition, replication_factor)
        return {"name": name, "partitions": total}

    def plan_replication_factor(self, name, replication_factor):
        assignment = self._topic(name)["assignment"]
        wanted = {p: self._replicas(p, int(replication_factor)) for p in assignment}
        return {f"{name}:{p}": replicas for p, replicas in wanted.items() if replicas != assignment[p]}

    def execute_reassignment(self, plan, throttle_bytes=None):
        self._write("execute_reassignment", sorted(plan))
        for key, replicas in plan.items():
            topic, _, partition = key.rpartition(":")
            self.reassigning.setdefault(topic, {})[int(partition)] = list(replicas)
        return {"started": sorted(plan)}

    def verify_reassignment(self, plan):
        # The reassignment completes when it is first verified.
        for topic, moves in self.reassigning.items():
            self.topics[topic]["assignment"].update(moves)
        self.reassigning = {}
        return {"done": True, "pending": []}

    # --- kafka: SCRAM users --------------------------------------------------------------------
    def user_ensure(self, name, password_pillar, mechanism=None, iterations=4096, via="auto", dry_run=False):
        password = self._secret(password_pillar)
        mechanism = mechanism or DEFAULT_MECHANISM
        existing = self.users.get(name, {}).get(mechanism)
        if existing is None:
            reason = "credential missing"
        elif existing["iterations"] != iterations:
            reason = f"iterations {existing['iterations']} != wanted {iterations}"
        elif existing["password"] != password:
            reason = "password rotated"  # what the admin path reports for a changed password
        else:
            return {"changed": False, "reason": "credential up to date", "via": "admin"}
        if not dry_run:
            self._write("user_ensure", name, mechanism)
            self.users.setdefault(name, {})[mechanism] = {"iterations": iterations, "password": password}
        return {"changed": True, "reason": reason, "via": "admin"}

    def list_users(self):
        return {name: {m: {"iterations": c["iterations"]} for m, c in sorted(creds.items())}
                for name, creds in sorted(self.users.items()) if creds}

    def user_delete(self, name, mechanism=None):
        creds = self.users.get(name, {})
        removed = [m for m in sorted(creds) if mechanism in (None, m)]
        if not removed:
            raise CommandExecutionError(f"SCRAM user {name} has no credential to delete")
        self._write("user_delete", name, mechanism)
        for m in removed:
            del creds[m]
        return {"deleted": removed}

    # --- kafka: ACLs ---------------------------------------------------------------------------
    def list_acls(self, principal=None, resource_type=None, resource_name=None):
        return [b.as_dict() for b in sorted(self.acls)
                if principal in (None, b.principal) and resource_type in (None, b.resource_type)
                and resource_name in (None, b.resource_name)]

    def add_acls(self, bindings):
        parsed = acl.parse_bindings(bindings, key="bindings")
        self._write("add_acls", sorted(str(b) for b in parsed))
        self.acls.update(parsed)
        return [b.as_dict() for b in parsed]

    def remove_acls(self, bindings):
        parsed = acl.parse_bindings(bindings, key="bindings")
        self._write("remove_acls", sorted(str(b) for b in parsed))
        self.acls.difference_update(parsed)
        return [b.as_dict() for b in parsed]

    # --- kafka: client files -------------------------------------------------------------------
    def write_client_properties(self, path, username, password_pillar, owner="root", dry_run=False):
        password = self._secret(password_pillar)
        wanted = {f"{path}.ca.pem": "-----BEGIN CERTIFICATE-----\nfake CA\n-----END CERTIFICATE-----\n",
                  path: ("security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
                         "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
                         f'username="{username}" password="{password}";\n')}
        changed = [p for p, text in wanted.items() if self.files.get(p) != text]
        if changed and not dry_run:
            self._write("write_client_properties", changed)
            self.files.update({p: wanted[p] for p in changed})
        return {"changed": changed}

    # --- zookeeper_ensemble: znodes ------------------------------------------------------------
    def znode_ensure(self, path, acl, data=None, dry_run=False):
        wanted = sorted(acl)
        changes = {}
        node = self.znodes.get(path)
        if node is None:
            changes["created"] = path
            node = {"acl": wanted, "data": b""}
        elif node["acl"] != wanted:
            changes["acl"] = {"old": node["acl"], "new": wanted}
        if data is not None and node["data"] != data.encode():
            changes["data"] = "updated"
        if changes and not dry_run:
            self._write("znode_ensure", path)
            self.znodes[path] = {"acl": wanted, "data": data.encode() if data is not None else node["data"]}
        return changes

    def salt_functions(self):
        """The ``__salt__`` the state modules get."""
        return {
            "kafka.topic_state": self.topic_state,
            "kafka.create_topic": self.create_topic,
            "kafka.delete_topic": self.delete_topic,
            "kafka.alter_topic_config": self.alter_topic_config,
            "kafka.add_partitions": self.add_partitions,
            "kafka.plan_replication_factor": self.plan_replication_factor,
            "kafka.execute_reassignment": self.execute_reassignment,
            "kafka.verify_reassignment": self.verify_reassignment,
            "kafka.user_ensure": self.user_ensure,
            "kafka.list_users": self.list_users,
            "kafka.user_delete": self.user_delete,
            "kafka.list_acls": self.list_acls,
            "kafka.add_acls": self.add_acls,
            "kafka.remove_acls": self.remove_acls,
            "kafka.write_client_properties": self.write_client_properties,
            "zookeeper_ensemble.znode_ensure": self.znode_ensure,
            # Only looked up by kafka_orchestrate's __virtual__ (the master has it); runner
            # calls go through saltglue.runner, faked by FakeSaltglue.
            "saltutil.runner": self.no_saltutil_runner,
        }

    @staticmethod
    def no_saltutil_runner(name, **kwargs):
        raise AssertionError("kafka_orchestrate must not call saltutil.runner (it leaks a RunnerClient)")


class FakeService:
    """kafkasalt.ops.service.Service over ``FakeCluster.services``."""

    def __init__(self, cluster, name, manager="systemd"):
        if manager not in ("systemd", "supervisord"):
            raise ValueError(f"manager: must be systemd or supervisord, not {manager!r}")
        self.cluster, self.name, self.manager = cluster, name, manager

    def _read(self, key):
        return self.cluster.services.get(self.name, {}).get(key, False if key != "pid" else None)

    def _set(self, **values):
        entry = self.cluster.services.setdefault(self.name, {"registered": False, "running": False, "pid": None})
        entry.update(values)

    def registered(self):
        return self._read("registered")

    def running(self):
        return self._read("running")

    def register(self):
        self.cluster._write("register", self.name)
        self._set(registered=True)

    def start(self):
        self.cluster._write("start", self.name)
        self._set(running=True, pid=4242)

    def wait_running(self, timeout=60):
        return self._read("running")

    def main_pid(self):
        return self._read("pid")


class FakeSaltglue:
    """kafkasalt.saltglue as kafka_orchestrate uses it: ``runner()`` calls fake runners that
    return what this extension's runners return (``result``, ``changes``, ``comment``)."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.calls = []
        self.runners = {"kafka.apply_config": self.apply_config, "kafka.verify_cluster": self.verify_cluster,
                        "kafka.broken": self.broken}

    def runner(self, opts, name, kwarg=None):
        self.calls.append((name, dict(kwarg or {})))
        return self.runners[name](**(kwarg or {}))

    def apply_config(self, test=False):
        dynamic = self.cluster.dynamic
        pending = {k: v for k, v in dynamic["wanted"].items() if dynamic["applied"].get(k) != v}
        if not pending:
            return {"result": True, "changes": {}, "comment": "no dynamic config change pending"}
        changes = {"cluster_default": pending}
        if test:
            return {"result": None, "changes": changes, "comment": "would apply dynamic configs live (no restart)"}
        self.cluster._write("apply_config", sorted(pending))
        dynamic["applied"].update(pending)
        return {"result": True, "changes": changes, "comment": "dynamic configs applied live, no restart"}

    def verify_cluster(self):
        return {"result": True, "changes": {}, "comment": "cluster healthy: brokers [1, 2, 3], controller 1"}

    def broken(self):
        return {"Error": "no broker host answered kafka.health", "result": False, "replies": {"kafka1": None}}


def converge(call, cluster, opts, changes, secrets=()):
    """Run ``call()`` under test=True, for real, again for real and again under test=True.

    test=True must report ``changes`` with result None and leave the cluster alone; the real
    run must make them and report exactly the same ``changes``; both re-runs must be no-ops
    (result True, no changes). ``secrets`` must not appear in any return. Returns the four
    returns.
    """
    before = cluster.snapshot()
    opts["test"] = True
    planned = call()
    assert planned["result"] is None, planned
    assert planned["changes"] == changes
    assert cluster.snapshot() == before, "test=True changed the cluster"
    assert not cluster.writes, f"test=True wrote: {cluster.writes}"

    opts["test"] = False
    done = call()
    assert done["result"] is True, done
    assert done["changes"] == changes
    assert cluster.snapshot() != before, "the real run changed nothing"

    writes = list(cluster.writes)
    again = call()
    assert again["result"] is True, again
    assert again["changes"] == {}
    assert cluster.writes == writes, f"the re-run wrote: {cluster.writes[len(writes):]}"

    opts["test"] = True
    checked = call()
    assert checked["result"] is True, checked
    assert checked["changes"] == {}
    opts["test"] = False

    for ret in (planned, done, again, checked):
        for secret in secrets:
            assert secret not in repr(ret), f"secret in {ret}"
    return planned, done, again, checked

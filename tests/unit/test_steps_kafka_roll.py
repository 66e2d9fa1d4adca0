"""The Kafka roll on the step engine, against a simulated cluster that follows the ISR and
controller rules and checks its invariants after every tick and every action."""

import pytest

from kafkasalt.kafka import roll
from kafkasalt.ops import steps


class SimKafka:
    """Brokers that go down on restart, come back after ``recover`` ticks, rejoin every ISR
    ``catchup`` ticks later; leadership and the controller move as Kafka moves them."""

    def __init__(self, broker_ids=(1, 2, 3), topics=None, min_isr=2, controller=3, recover=3, catchup=2, racks=None):
        self.t = 0.0
        self.brokers = {b: {"up": True, "registered": True, "process": True, "back_at": None, "isr_at": None,
                            "stuck": False} for b in broker_ids}
        self.partitions = []
        for topic, (count, rf) in (topics or {"orders": (6, 3)}).items():
            ids = sorted(broker_ids)
            for p in range(count):
                replicas = [ids[(p + i) % len(ids)] for i in range(rf)]
                self.partitions.append({"topic": topic, "partition": p, "replicas": replicas,
                                        "leader": replicas[0], "isr": list(replicas)})
        self.min_isr = {t: min_isr for t in (topics or {"orders": None})}
        self.controller = controller
        self.recover, self.catchup = recover, catchup
        self.racks = racks or {}
        self.reassignments = []
        self.actions = []
        self.violations = []
        self.allow_below_min_isr = False

    # -- time ---------------------------------------------------------------------------------
    def clock(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds

    def tick(self):
        for b, st in self.brokers.items():
            if not st["up"] and st["back_at"] is not None and self.t >= st["back_at"] and not st["stuck"]:
                st.update(up=True, registered=True, process=True, back_at=None, isr_at=self.t + self.catchup)
                if self.controller is None:
                    self.controller = b
            if st["up"] and st["isr_at"] is not None and self.t >= st["isr_at"]:
                st["isr_at"] = None
                for part in self.partitions:
                    if b in part["replicas"] and b not in part["isr"]:
                        part["isr"].append(b)
                    if part["leader"] == -1:
                        part["leader"] = b
        self.check()

    # -- faults and actions ---------------------------------------------------------------------
    def _down(self, b, process):
        st = self.brokers[b]
        st.update(up=False, registered=False, process=process, isr_at=None)
        for part in self.partitions:
            if b in part["isr"]:
                part["isr"].remove(b)
            if part["leader"] == b:
                part["leader"] = part["isr"][0] if part["isr"] else -1
        if self.controller == b:
            up = sorted(x for x, s in self.brokers.items() if s["up"])
            self.controller = up[0] if up else None

    def restart(self, b):
        if not self.brokers[b]["process"] and not self.brokers[b]["up"] and self.brokers[b]["back_at"] is None:
            raise RuntimeError(f"restart of broker {b} failed: its process was stopped")
        self.actions.append(("restart", b, self.controller))
        self._down(b, process=True)
        self.brokers[b]["back_at"] = self.t + self.recover
        self.check()

    def kill(self, b):
        self.actions.append(("kill", b, self.controller))
        self._down(b, process=False)
        self.brokers[b]["back_at"] = None

    def check(self):
        if self.allow_below_min_isr:
            return
        for part in self.partitions:
            if len(part["isr"]) < self.min_isr[part["topic"]] and len(part["replicas"]) >= self.min_isr[part["topic"]]:
                self.violations.append((self.t, part["topic"], part["partition"], list(part["isr"])))

    # -- what a driver observes ---------------------------------------------------------------
    def view(self):
        topics = {}
        for part in self.partitions:
            topics.setdefault(part["topic"], {"partitions": []})["partitions"].append(
                {"partition": part["partition"], "leader": part["leader"], "replicas": list(part["replicas"]),
                 "isr": list(part["isr"])})
        return {"topics": topics, "min_isr": dict(self.min_isr), "default_min_isr": 1,
                "reassignments": list(self.reassignments),
                "registered": sorted(b for b, s in self.brokers.items() if s["registered"]),
                "controller": self.controller, "expected": sorted(self.brokers),
                "processes": {b: s["process"] for b, s in self.brokers.items()}}


class SimDriver:
    def __init__(self, sim, hosts, on_act=None, on_observe=None):
        self.sim, self.hosts, self.events = sim, hosts, []
        self.by_host = {h: b for b, h in hosts.items()}
        self.on_act, self.on_observe = on_act, on_observe
        self.observations = 0

    def observe(self, step, phase):
        self.sim.tick()
        self.observations += 1
        if self.on_observe:
            self.on_observe(self, step, phase)
        return self.sim.view()

    def act(self, step):
        for host in step.targets:
            self.sim.restart(self.by_host[host])
        if self.on_act:
            self.on_act(self, step)
        return {"restarted": list(step.targets)}

    def event(self, tag, data):
        self.events.append((tag, data))


HOSTS = {1: "kafka1", 2: "kafka2", 3: "kafka3"}
TIMING = steps.Timing(gate_timeout=5, step_timeout=20, poll_interval=1)


def _run(sim, plan, driver=None):
    driver = driver or SimDriver(sim, HOSTS)
    return steps.run(plan, driver, TIMING, clock=sim.clock, sleep=sim.sleep), driver


def _pending(*ids):
    return {b: "changed: /etc/kafka/server.properties" for b in ids}


def test_full_roll_restarts_one_at_a_time_controller_last_and_never_drops_below_min_isr():
    sim = SimKafka(controller=2)
    plan = roll.plan_roll(_pending(1, 2, 3), HOSTS, controller=2)
    report, driver = _run(sim, plan)
    assert [a[1] for a in sim.actions] == [1, 3, 2]
    assert sim.violations == []
    assert [s["targets"] for s in report["steps"]] == [["kafka1"], ["kafka3"], ["kafka2"]]
    assert all(s["gate_seconds"] >= 0 for s in report["steps"])
    assert [t for t, _ in driver.events].count("step/done") == 3
    assert driver.events[-1][0] == "done"


def test_plan_summary_keeps_the_runner_shape_and_names_the_controller():
    plan = roll.plan_roll(_pending(1, 3), HOSTS, controller=3)
    assert roll.plan_summary(plan) == [
        {"brokers": ["kafka1"], "reasons": {"kafka1": "changed: /etc/kafka/server.properties"}},
        {"brokers": ["kafka3"], "reasons": {"kafka3": "changed: /etc/kafka/server.properties (active controller: last)"}},
    ]
    shown = steps.preview(plan)
    assert shown["steps"][0]["before"] == ["cluster_reachable", "brokers_running", "zookeeper_quorum",
                                           "zookeeper_members_running", "zookeeper_members_serving",
                                           "no_offline_partitions", "min_isr_kept", "no_reassignment"]
    assert shown["final"] == ["every_broker_registered", "brokers_running", "no_offline_partitions",
                              "zookeeper_members_running", "zookeeper_members_serving"]
    assert shown["described"][1].startswith("2. restart kafka3: ")


def test_broker_killed_while_the_previous_one_restarts_halts_with_its_name_and_a_rerun_completes():
    sim = SimKafka(controller=3)

    def kill_next(driver, step):
        if step.targets == ("kafka1",):
            sim.kill(2)

    plan = roll.plan_roll(_pending(1, 2, 3), HOSTS, controller=3)
    with pytest.raises(steps.Halted) as halted:
        _run(sim, plan, SimDriver(sim, HOSTS, on_act=kill_next))
    assert "broker 2 is down" in str(halted.value)
    assert "brokers_running" in halted.value.gates
    assert [a[1] for a in sim.actions if a[0] == "restart"] == [1]
    # The operator brings broker 2 back; the re-run plans from what is still pending.
    sim.brokers[2].update(back_at=sim.t, process=True)
    sim.tick()
    for _ in range(5):
        sim.sleep(1)
        sim.tick()
    report, _ = _run(sim, roll.plan_roll(_pending(2, 3), HOSTS, controller=sim.controller))
    assert [s["targets"][0] for s in report["steps"]] == ["kafka2", "kafka3"]


def test_broker_killed_after_it_was_rolled_fails_the_final_verdict_never_green():
    sim = SimKafka(controller=3)
    sim.allow_below_min_isr = True  # the kill itself drops partitions; the engine must notice

    def kill_done_one(driver, step, phase):
        if step.targets == ("kafka3",) and phase == "after" and sim.brokers[1]["process"]:
            sim.kill(1)

    plan = roll.plan_roll(_pending(1, 2, 3), HOSTS, controller=3)
    with pytest.raises(steps.Halted) as halted:
        _run(sim, plan, SimDriver(sim, HOSTS, on_observe=kill_done_one))
    assert "broker 1 is down" in str(halted.value)
    assert halted.value.report["steps"][-1]["targets"] in (["kafka2"], ["kafka3"])


def test_partition_without_a_spare_in_sync_replica_halts_before_any_restart():
    sim = SimKafka(topics={"orders": (3, 3), "single": (1, 1)}, min_isr=1)
    with pytest.raises(steps.Halted) as halted:
        _run(sim, roll.plan_roll(_pending(1, 2, 3), HOSTS, controller=3))
    assert "min_isr_kept" in halted.value.gates
    assert "single-0" in str(halted.value)
    assert "not started" in str(halted.value)
    assert sim.actions == []


def test_broker_that_does_not_come_back_halts_after_its_timeout_and_the_next_is_untouched():
    sim = SimKafka(controller=3)

    def stick(driver, step):
        sim.brokers[1]["stuck"] = True

    with pytest.raises(steps.Halted) as halted:
        _run(sim, roll.plan_roll(_pending(1, 2, 3), HOSTS, controller=3), SimDriver(sim, HOSTS, on_act=stick))
    assert "did not complete within 20s" in str(halted.value)
    assert "broker 1 is not registered" in str(halted.value)
    assert [a[1] for a in sim.actions] == [1]


def test_reassignment_in_flight_halts_unless_forced():
    sim = SimKafka()
    sim.reassignments = ["orders-0"]
    with pytest.raises(steps.Halted) as halted:
        _run(sim, roll.plan_roll(_pending(1), HOSTS, controller=3))
    assert halted.value.gates == ("no_reassignment",)
    report, _ = _run(sim, roll.plan_roll(_pending(1), HOSTS, controller=3, force=True))
    assert len(report["steps"]) == 1


def test_unreachable_cluster_halts_before_with_the_error():
    sim = SimKafka()

    class Down(SimDriver):
        def observe(self, step, phase):
            return {"error": "no broker answered"}

    with pytest.raises(steps.Halted) as halted:
        _run(sim, roll.plan_roll(_pending(1), HOSTS, controller=3), Down(sim, HOSTS))
    assert "cluster not reachable: no broker answered" in str(halted.value)


def test_rack_parallel_restarts_a_rack_at_once_and_keeps_min_isr():
    hosts = {b: f"kafka{b}" for b in range(1, 7)}
    racks = {1: "a", 2: "b", 3: "c", 4: "a", 5: "b", 6: "c"}
    sim = SimKafka(broker_ids=tuple(hosts), controller=5, racks=racks)
    # Lay replicas out one per rack, as a rack-aware assignment does.
    for part in sim.partitions:
        base = part["partition"] % 2
        part["replicas"] = [1 + 3 * base, 2 + 3 * base, 3 + 3 * base]
        part["isr"] = list(part["replicas"])
        part["leader"] = part["replicas"][0]
    topics = sim.view()["topics"]
    plan = roll.plan_roll({b: "restart_all" for b in hosts}, hosts, controller=5, racks=racks, topics=topics,
                          rack_parallel=True)
    assert [s.targets for s in plan.steps] == [("kafka1", "kafka4"), ("kafka3", "kafka6"), ("kafka2", "kafka5")]
    report = steps.run(plan, SimDriver(sim, hosts), TIMING, clock=sim.clock, sleep=sim.sleep)
    assert len(report["steps"]) == 3
    assert sim.violations == []


def test_rack_parallel_is_refused_when_a_partition_has_two_replicas_in_one_rack():
    racks = {1: "a", 2: "a", 3: "b"}
    topics = SimKafka().view()["topics"]
    with pytest.raises(ValueError, match="two of its replicas"):
        roll.plan_roll(_pending(1, 2, 3), HOSTS, controller=3, racks=racks, topics=topics, rack_parallel=True)


def test_batch_min_isr_rule_counts_every_broker_of_the_batch():
    sim = SimKafka()
    step = steps.Step("restart", ("kafka1", "kafka2"), "x", params={"broker_ids": (1, 2)})
    reasons = roll.min_isr_kept.reasons(step, sim.view())
    assert reasons and "below min.insync.replicas" in reasons[0]


class WithZookeeper(SimDriver):
    """Adds the ensemble's verdict to the view, as the runner does before a step and at the end."""

    def __init__(self, sim, hosts, zk, **kwargs):
        super().__init__(sim, hosts, **kwargs)
        self.zk = zk

    def observe(self, step, phase):
        view = super().observe(step, phase)
        if phase in ("before", "final"):
            view["zookeeper"] = dict(self.zk)
        return view


def test_a_zookeeper_member_stopped_during_the_roll_fails_the_final_verdict_with_its_name():
    sim = SimKafka(controller=3)
    zk = {"verdict": "healthy", "quorum_held": True, "down": [], "reasons": []}

    def stop_member(driver, step):
        if step.targets == ("kafka3",):
            zk.update(verdict="degraded", down=["zk2"], reasons=["zk2 is down: no status collected"])

    with pytest.raises(steps.Halted) as halted:
        _run(sim, roll.plan_roll(_pending(1, 2, 3), HOSTS, controller=3), WithZookeeper(sim, HOSTS, zk, on_act=stop_member))
    assert halted.value.step == "final"
    assert "ZooKeeper member zk2 is down" in str(halted.value)
    assert len(halted.value.report["steps"]) == 3


def test_no_broker_restarts_while_zookeeper_has_no_quorum():
    sim = SimKafka()
    zk = {"verdict": "down", "quorum_held": False, "down": ["zk1", "zk2"],
          "reasons": ["quorum lost: 1 of 3 members serving, 2 needed"]}
    with pytest.raises(steps.Halted) as halted:
        _run(sim, roll.plan_roll(_pending(1), HOSTS, controller=3), WithZookeeper(sim, HOSTS, zk))
    assert "zookeeper_quorum" in halted.value.gates
    assert "ZooKeeper has no quorum: quorum lost" in str(halted.value)
    assert sim.actions == []


class WithPids(SimDriver):
    """Reports process ids as the runner does: the restart's pid goes into the step's params,
    every observation carries each answering host's current pid."""

    def __init__(self, sim, hosts, **kwargs):
        super().__init__(sim, hosts, **kwargs)
        self.pid = {b: 100 + b for b in sim.brokers}

    def act(self, step):
        done = super().act(step)
        for host in step.targets:
            b = self.by_host[host]
            self.pid[b] += 1000
            step.params.setdefault("started_pids", {})[b] = self.pid[b]
        return done

    def observe(self, step, phase):
        view = super().observe(step, phase)
        view["pids"] = {b: (self.pid[b] if self.sim.brokers[b]["process"] else None) for b in self.sim.brokers}
        return view


def test_broker_that_dies_in_its_own_after_gate_halts_at_once_not_after_its_timeout():
    sim = SimKafka(controller=3)

    def kill_self(driver, step, phase):
        if step.targets == ("kafka1",) and phase == "after" and sim.brokers[1]["process"] \
                and sim.brokers[1]["back_at"] is not None:
            sim.kill(1)

    started = sim.t
    with pytest.raises(steps.Halted) as halted:
        _run(sim, roll.plan_roll(_pending(1, 2, 3), HOSTS, controller=3), WithPids(sim, HOSTS, on_observe=kill_self))
    assert "restarted_stays_up" in halted.value.gates
    assert "broker 1 is down: its process (pid 1101) died after the restart" in str(halted.value)
    assert "step 1 (restart kafka1) halted" in str(halted.value)
    assert sim.t - started < TIMING.step_timeout  # fatal: no waiting for a dead process
    assert [a[1] for a in sim.actions if a[0] == "restart"] == [1]


def test_broker_replaced_by_its_supervisor_after_a_crash_halts_naming_the_pids():
    sim = SimKafka(controller=3)
    driver = WithPids(sim, HOSTS)

    def crash(d, step, phase):
        if step.targets == ("kafka1",) and phase == "after" and d.pid[1] == 1101:
            d.pid[1] = 1102  # autorestarted: running, but not the process the restart started

    driver.on_observe = crash
    with pytest.raises(steps.Halted) as halted:
        _run(sim, roll.plan_roll(_pending(1, 2, 3), HOSTS, controller=3), driver)
    assert "broker 1 crashed after the restart: pid 1101 was replaced by pid 1102" in str(halted.value)


def test_a_host_that_does_not_answer_is_not_taken_for_a_dead_restarted_broker():
    sim = SimKafka(controller=3)

    class Silent(WithPids):
        def observe(self, step, phase):
            view = super().observe(step, phase)
            view["pids"].pop(1)
            return view

    report, _ = _run(sim, roll.plan_roll(_pending(1, 2, 3), HOSTS, controller=3), Silent(sim, HOSTS))
    assert [s["targets"][0] for s in report["steps"]] == ["kafka1", "kafka2", "kafka3"]


def test_a_zookeeper_member_stopped_after_a_step_halts_the_next_restart_naming_it():
    sim = SimKafka(controller=3)
    zk = {"verdict": "healthy", "quorum_held": True, "down": [], "reasons": []}

    def stop_member(driver, step):
        if step.targets == ("kafka1",):
            zk.update(verdict="degraded", down=["zk2"], reasons=["zk2 is down: no status collected"])

    with pytest.raises(steps.Halted) as halted:
        _run(sim, roll.plan_roll(_pending(1, 2, 3), HOSTS, controller=3), WithZookeeper(sim, HOSTS, zk, on_act=stop_member))
    assert "zookeeper_members_serving" in halted.value.gates
    assert "step 2 (restart kafka2) not started: ZooKeeper member zk2 is down" in str(halted.value)
    assert [a[1] for a in sim.actions if a[0] == "restart"] == [1]  # quorum held, but no further restart


def _halt_on_a_member_stopped_after_step_one(stopped):
    sim = SimKafka(controller=3)
    zk = {"verdict": "healthy", "quorum_held": True, "down": [], "reasons": [], "stopped": []}

    def stop_member(driver, step):
        if step.targets == ("kafka1",):
            zk.update(verdict="degraded", down=["zk2"], reasons=["zk2 is down"], stopped=stopped)

    with pytest.raises(steps.Halted) as halted:
        _run(sim, roll.plan_roll(_pending(1, 2, 3), HOSTS, controller=3), WithZookeeper(sim, HOSTS, zk, on_act=stop_member))
    assert [a[1] for a in sim.actions if a[0] == "restart"] == [1]
    return halted.value, sim.clock()


def test_a_zookeeper_member_whose_host_says_it_is_stopped_halts_the_next_restart_at_once():
    halted, at = _halt_on_a_member_stopped_after_step_one(stopped=["zk2"])
    assert "zookeeper_members_running" in halted.gates
    assert "ZooKeeper member zk2 is down (its process does not run)" in str(halted)
    # A member that only fails to answer (its host says nothing) is waited for up to the gate
    # timeout; a stopped one is not.
    waited, waited_at = _halt_on_a_member_stopped_after_step_one(stopped=[])
    assert "zookeeper_members_running" not in waited.gates and "zookeeper_members_serving" in waited.gates
    assert waited_at - at >= TIMING.gate_timeout - TIMING.poll_interval, (at, waited_at)


def test_broker_already_dead_when_its_restart_returned_halts_at_once_naming_it():
    sim = SimKafka(controller=3)

    class DeadOnReturn(WithPids):
        def act(self, step):
            done = super().act(step)
            if step.targets == ("kafka1",):
                step.params["started_pids"][1] = None  # the restart's own pid query found no process
                sim.kill(1)
            return done

    with pytest.raises(steps.Halted) as halted:
        _run(sim, roll.plan_roll(_pending(1, 2, 3), HOSTS, controller=3), DeadOnReturn(sim, HOSTS))
    assert "broker 1 is down: its process died after the restart" in str(halted.value)
    assert "restarted_stays_up" in halted.value.gates
    assert "halted" in str(halted.value) and "did not complete" not in str(halted.value)

"""The gated-step engine itself, with a toy driver."""

import pytest

from kafkasalt.ops import steps


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds


class Toy:
    """A driver over a dict of flags: ``act`` sets ``state[target] = params['to']``."""

    def __init__(self, state, fail_on=None, replans=None):
        self.state, self.fail_on, self.replans = state, fail_on, list(replans or [])
        self.events, self.acted = [], []

    def observe(self, step, phase):
        return dict(self.state)

    def act(self, step):
        if step.target == self.fail_on:
            raise RuntimeError(f"state run on {step.target} failed")
        self.acted.append(step.target)
        self.state[step.target] = step.params["to"]
        return {"set": step.params["to"]}

    def event(self, tag, data):
        self.events.append(tag)

    def replan(self):
        return self.replans.pop(0) if self.replans else []


@steps.gate("is_on")
def is_on(step, view):
    return [] if view.get(step.target) == "on" else [f"{step.target} is {view.get(step.target)}"]


@steps.gate("others_on")
def others_on(step, view):
    return [f"{k} is off" for k, v in sorted(view.items()) if k != step.target and v != "on"]


def _step(target, before=(), after=(is_on,), done_if=(), timeout=None):
    return steps.Step("switch", target, f"{target} must be on", before=before, after=after,
                      params={"to": "on"}, done_if=done_if, timeout=timeout)


TIMING = steps.Timing(gate_timeout=3, step_timeout=5, poll_interval=1)


def _run(plan, driver):
    clock = Clock()
    return steps.run(plan, driver, TIMING, clock=clock, sleep=clock.sleep)


def test_steps_run_in_order_and_report_what_they_did():
    toy = Toy({"a": "off", "b": "off"})
    report = _run(steps.Plan("toy", [_step("a"), _step("b")]), toy)
    assert toy.acted == ["a", "b"]
    assert [s["done"] for s in report["steps"]] == [{"set": "on"}, {"set": "on"}]
    assert toy.events == ["step/start", "step/done", "step/start", "step/done", "done"]


def test_a_failed_before_gate_halts_with_its_name_reason_and_the_steps_done():
    toy = Toy({"a": "off", "b": "off", "c": "off"})
    plan = steps.Plan("toy", [_step("a"), _step("b", before=(others_on,))])
    with pytest.raises(steps.Halted) as halted:
        _run(plan, toy)
    assert str(halted.value) == "step 2 (switch b) not started: c is off"
    assert halted.value.gates == ("others_on",)
    assert [s["targets"] for s in halted.value.report["steps"]] == [["a"]]
    assert toy.acted == ["a"]
    assert "halted" in toy.events


def test_a_failed_action_halts_with_the_error():
    toy = Toy({"a": "off"}, fail_on="a")
    with pytest.raises(steps.Halted, match=r"step 1 \(switch a\) failed: state run on a failed"):
        _run(steps.Plan("toy", [_step("a")]), toy)


def test_after_gates_that_never_hold_halt_after_the_step_timeout():
    class Stuck(Toy):
        def act(self, step):
            return {}

    with pytest.raises(steps.Halted, match=r"did not complete within 7s: a is off"):
        _run(steps.Plan("toy", [_step("a", timeout=7)]), Stuck({"a": "off"}))


def test_a_step_already_done_is_skipped_so_a_rerun_resumes():
    toy = Toy({"a": "on", "b": "off"})
    report = _run(steps.Plan("toy", [_step("a", done_if=(is_on,)), _step("b", done_if=(is_on,))]), toy)
    assert toy.acted == ["b"]
    assert report["skipped"][0]["targets"] == ["a"]


def test_final_gates_fail_the_change_even_when_every_step_passed():
    @steps.gate("all_on")
    def all_on(step, view):
        return [f"{k} is off" for k, v in sorted(view.items()) if v != "on"]

    toy = Toy({"a": "off", "z": "off"})
    plan = steps.Plan("toy", [_step("a")], final=(all_on,), final_label="something is down")
    with pytest.raises(steps.Halted) as halted:
        _run(plan, toy)
    assert str(halted.value) == "every step ran but something is down: z is off"
    assert halted.value.step == "final"
    assert len(halted.value.report["steps"]) == 1


def test_replan_steps_take_fresh_steps_from_the_driver_and_are_bounded():
    toy = Toy({"a": "off"}, replans=[[_step("a")]])
    report = _run(steps.Plan("toy", [steps.Step(steps.REPLAN, None, "leader moved")]), toy)
    assert report["replans"] == 1 and toy.acted == ["a"]

    looping = Toy({"a": "off"}, replans=[[steps.Step(steps.REPLAN, None, "again")]] * 5)
    with pytest.raises(steps.Halted, match="still no plan after 2 replans"):
        _run(steps.Plan("toy", [steps.Step(steps.REPLAN, None, "leader moved")]), looping)


def test_preview_lists_every_step_with_its_reason_and_gates():
    plan = steps.Plan("toy", [_step("a", before=(others_on,))], final=(is_on,))
    shown = steps.preview(plan)
    assert shown["described"] == ["1. switch a: a must be on"]
    assert shown["steps"][0]["before"] == ["others_on"] and shown["steps"][0]["after"] == ["is_on"]
    assert shown["final"] == ["is_on"]


def test_gate_reasons_accept_a_string_or_nothing():
    g = steps.Gate("x", lambda step, view: "broken")
    assert g.reasons(None, None) == ["broken"]
    assert steps.Gate("y", lambda step, view: None).reasons(None, None) == []
    assert is_on.description == "" and is_on.name == "is_on"


def test_a_driver_that_cannot_observe_halts_with_the_error_and_the_steps_done():
    clock = Clock()

    class MasterGone(Toy):
        def observe(self, step, phase):
            if self.acted:
                raise ConnectionError("Salt request timed out. The master is not responding.")
            return super().observe(step, phase)

    driver = MasterGone({"a": "off", "b": "off"})
    with pytest.raises(steps.Halted) as halted:
        steps.run(steps.Plan("toy", [_step("a"), _step("b")]), driver, TIMING, clock=clock, sleep=clock.sleep)
    assert str(halted.value).startswith("step 1 (switch a) halted: could not observe the cluster (after): "
                                        "ConnectionError: Salt request timed out")
    assert halted.value.gates == ("observe",)
    assert halted.value.step == "step 1 (switch a)"
    assert driver.events[-1] == "halted"

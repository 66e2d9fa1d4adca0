"""One engine for every gated change of a cluster's shape.

A change (a broker roll, a ZooKeeper roll, a membership change, a TLS switch, ...) is a
:class:`Plan`: a list of :class:`Step` objects. Each step names its target(s), its action and
the small named predicates (:class:`Gate`) that must hold before it starts and after it acts,
in the shape of Strimzi's KafkaAvailability / KafkaRoller rules: a gate returns the reasons it
fails, with numbers, or nothing when it holds.

The engine knows nothing about Kafka, ZooKeeper or Salt. It runs the steps through a *driver*
that the caller implements (a Salt runner talks to minions; a unit test simulates a cluster):

``driver.observe(step, phase)``
    The live view the gates read (``phase`` is ``"before"``, ``"after"`` or ``"final"``);
    called again on every poll.
``driver.act(step)``
    Carry the step out; returns what changed (a dict), raises on failure.
``driver.event(tag, data)``
    Progress (``step/start``, ``step/done``, ``step/skipped``, ``halted``, ``replan``, ``done``).
``driver.replan()``
    Fresh steps, for a ``replan`` step (only drivers whose plans use one need it).
``driver.record(step, before_view, after_view)``
    Optional: extra fields for the step's report entry (e.g. the leader before and after).

:func:`run` polls a step's *before* gates until they hold (or halts with their reasons), acts,
polls the *after* gates until they hold within the step's timeout (or halts), and after the last
step checks the plan's *final* gates: the end-of-change verdict, so a change that leaves
something down never reports success. A step whose ``done_if`` gates already hold is skipped:
plans are derived from live state, so a re-run after a halt resumes where the cluster is.
:func:`preview` is the ``test=True`` answer: every step with its reason and its gates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from kafkasalt.common.polling import wait_until

MAX_REPLANS = 2
REPLAN = "replan"


# ---------------------------------------------------------------------------------------------
# Gates
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """A named predicate over ``(step, view)``; ``check`` returns the reasons it fails.

    A ``fatal`` gate is not waited for: when it fails the step halts at once (a broker that
    died while another restarts will not come back by waiting).
    """

    name: str
    check: Callable
    description: str = ""
    fatal: bool = False

    def reasons(self, step, view) -> list:
        found = self.check(step, view)
        if not found:
            return []
        if isinstance(found, str):
            return [found]
        return [str(reason) for reason in found]


def gate(name: str, description: str = "", fatal: bool = False):
    """Decorator: ``@gate("no_offline_partitions")`` turns ``fn(step, view) -> reasons`` into a
    :class:`Gate`."""

    def wrap(fn):
        return Gate(name, fn, description or (fn.__doc__ or "").strip().split("\n")[0], fatal)

    return wrap


def failed(gates: Iterable[Gate], step, view) -> list:
    """``[(gate name, reason), ...]`` for every gate of ``gates`` that does not hold."""
    out = []
    for g in gates:
        out += [(g.name, reason) for reason in g.reasons(step, view)]
    return out


# ---------------------------------------------------------------------------------------------
# Steps and plans
# ---------------------------------------------------------------------------------------------


@dataclass
class Step:
    """One action on one or more targets, with the gates around it.

    ``params`` carries what the driver needs (a broker id, which config a member starts with,
    ...); ``timeout`` overrides the plan's after-step wait (a broker with much data recovers
    longer); ``done_if`` are gates that, when all hold before the step, mean it is already done.
    """

    action: str
    targets: tuple
    reason: str
    before: tuple = ()
    after: tuple = ()
    params: dict = field(default_factory=dict)
    timeout: float | None = None
    done_if: tuple = ()

    def __post_init__(self):
        if isinstance(self.targets, str) or self.targets is None:
            self.targets = (self.targets,) if self.targets else ()
        self.targets = tuple(self.targets)

    @property
    def target(self):
        """The single target (``None`` for a cluster-wide step)."""
        return self.targets[0] if len(self.targets) == 1 else (None if not self.targets else "+".join(self.targets))

    @property
    def kind(self) -> str:
        return self.params.get("label_action") or self.action

    def label(self, number) -> str:
        where = f" {'+'.join(str(t) for t in self.targets)}" if self.targets else ""
        return f"step {number} ({self.kind}{where})"

    def describe(self, number) -> str:
        where = f" {'+'.join(str(t) for t in self.targets)}" if self.targets else ""
        return f"{number}. {self.kind}{where}: {self.reason}"


@dataclass
class Plan:
    """The steps of one change plus its end-of-change verdict (``final`` gates)."""

    name: str
    steps: list
    final: tuple = ()
    final_label: str = "the cluster is not healthy"
    final_timeout: float | None = None

    def __bool__(self):
        return bool(self.steps)


@dataclass
class Timing:
    """How long :func:`run` waits: for gates before a step, for its after-gates, between polls."""

    gate_timeout: float = 30.0
    step_timeout: float = 120.0
    poll_interval: float = 0.5


class Halted(RuntimeError):
    """The change stopped; ``str()`` says which step and why.

    ``gates`` are the names of the gates that failed (empty for a failed action), ``report`` the
    steps completed before the halt (see :func:`run`), ``step`` the halted step's label.
    """

    def __init__(self, message, report=None, step=None, gates=(), reasons=()):
        super().__init__(message)
        self.report = report if report is not None else {"steps": [], "skipped": [], "replans": 0}
        self.step = step
        self.gates = tuple(gates)
        self.reasons = tuple(reasons)


# ---------------------------------------------------------------------------------------------
# Running a plan
# ---------------------------------------------------------------------------------------------


def preview(plan: Plan) -> dict:
    """The plan as ``test=True`` shows it: one line per step and each step's gates."""
    steps, described = [], []
    for number, step in enumerate(plan.steps, 1):
        described.append(step.describe(number))
        steps.append({
            "step": number,
            "action": step.kind,
            "targets": list(step.targets),
            "reason": step.reason,
            "before": [g.name for g in step.before],
            "after": [g.name for g in step.after],
        })
    return {"name": plan.name, "steps": steps, "described": described, "final": [g.name for g in plan.final]}


def _poll(driver, gates, step, phase, timeout, timing, clock, sleep):
    """Observe and check ``gates`` until they hold, a fatal one fails, or ``timeout`` runs out:
    ``(view, failures)``."""
    fatal = {g.name for g in gates if g.fatal}
    last = {}

    def settled():
        try:
            last["view"] = driver.observe(step, phase)
        except Exception as exc:  # the minions or the master stopped answering: a halt, not a traceback
            raise _ObserveFailed(phase, exc) from exc
        last["failures"] = failed(gates, step, last["view"])
        return not last["failures"] or any(name in fatal for name, _ in last["failures"])

    wait_until(settled, timeout, timing.poll_interval, clock=clock, sleep=sleep)
    return last["view"], last["failures"]


class _ObserveFailed(Exception):
    def __init__(self, phase, exc):
        super().__init__(f"could not observe the cluster ({phase}): {type(exc).__name__}: {exc}")
        self.phase = phase


def _reasons_text(failures) -> str:
    """The distinct reasons, in order (two gates may see the same fault)."""
    return "; ".join(dict.fromkeys(reason for _, reason in failures))


def run(plan: Plan, driver, timing: Timing | None = None, clock=time.monotonic, sleep=time.sleep) -> dict:
    """Carry out ``plan`` (see :func:`_run_plan`); a driver that cannot observe (its calls raise,
    e.g. the Salt master died) halts the change with that error and the steps done so far."""
    report = {"name": plan.name, "steps": [], "skipped": [], "replans": 0}
    current = {"label": "the change"}
    try:
        return _run_plan(plan, driver, report, current, timing, clock, sleep)
    except _ObserveFailed as exc:
        where = current["label"]
        try:
            driver.event("halted", {"phase": exc.phase, "reasons": [str(exc)]})
        except Exception:  # noqa: BLE001 - the event bus may be what died
            pass
        raise Halted(f"{where} halted: {exc}", report, where, ("observe",), (str(exc),)) from exc


def _run_plan(plan: Plan, driver, report, current, timing, clock, sleep) -> dict:
    """Carry out ``plan`` through ``driver``; returns the report, raises :class:`Halted`.

    The report is ``{"name", "steps": [{"step", "action", "targets", "seconds",
    "gate_seconds", "wait_seconds", "done"}], "skipped": [...], "replans": n, "seconds"}``:
    ``gate_seconds`` is the time the before-gates took (the engine's overhead), ``wait_seconds``
    the time from the action until the after-gates held (the target's own recovery).
    """
    timing = timing or Timing()
    started_all = clock()
    queue = list(plan.steps)
    number = 0
    while queue:
        step = queue.pop(0)
        if step.action == REPLAN:
            if report["replans"] >= MAX_REPLANS:
                raise Halted(f"still no plan after {MAX_REPLANS} replans; last reason: {step.reason}", report)
            report["replans"] += 1
            driver.event("replan", {"reason": step.reason})
            queue = list(driver.replan())
            continue
        number += 1
        label = step.label(number)
        current["label"] = label
        started = clock()
        if step.done_if:
            try:
                view = driver.observe(step, "before")
            except Exception as exc:
                raise _ObserveFailed("before", exc) from exc
            if not failed(step.done_if, step, view):
                entry = {"step": number, "action": step.kind, "targets": list(step.targets),
                         "reason": "already done: " + ", ".join(g.name for g in step.done_if)}
                report["skipped"].append(entry)
                driver.event("step/skipped", entry)
                continue
        before_view, failures = _poll(driver, step.before, step, "before", timing.gate_timeout, timing, clock, sleep)
        if failures:
            driver.event("halted", {"step": number, "phase": "before", "reasons": [r for _, r in failures]})
            raise Halted(f"{label} not started: {_reasons_text(failures)}", report, label,
                         [g for g, _ in failures], [r for _, r in failures])
        gate_seconds = clock() - started
        driver.event("step/start", {"step": number, "action": step.kind, "targets": list(step.targets),
                                    "reason": step.reason})
        try:
            done = driver.act(step) or {}
        except Halted:
            raise
        except Exception as exc:  # a failed minion call or state run halts here, with the report so far
            driver.event("halted", {"step": number, "phase": "act", "reasons": [str(exc)]})
            raise Halted(f"{label} failed: {exc}", report, label, (), (str(exc),)) from exc
        acted = clock()
        timeout = step.timeout if step.timeout is not None else timing.step_timeout
        after_view, failures = _poll(driver, step.after, step, "after", timeout, timing, clock, sleep)
        if failures:
            driver.event("halted", {"step": number, "phase": "after", "reasons": [r for _, r in failures]})
            fatal = [name for name, _ in failures if name in {g.name for g in step.after if g.fatal}]
            why = "halted" if fatal else f"did not complete within {timeout:g}s"
            raise Halted(f"{label} {why}: {_reasons_text(failures)}", report, label,
                         [g for g, _ in failures], [r for _, r in failures])
        entry = {
            "step": number,
            "action": step.kind,
            "targets": list(step.targets),
            "seconds": round(clock() - started, 2),
            "gate_seconds": round(gate_seconds, 2),
            "wait_seconds": round(clock() - acted, 2),
            "done": done,
        }
        record = getattr(driver, "record", None)
        if record is not None:
            entry.update(record(step, before_view, after_view) or {})
        report["steps"].append(entry)
        driver.event("step/done", entry)
    current["label"] = "final"
    if plan.final:
        timeout = plan.final_timeout if plan.final_timeout is not None else timing.step_timeout
        final_step = Step("verify", (), "end-of-change verdict")
        _, failures = _poll(driver, plan.final, final_step, "final", timeout, timing, clock, sleep)
        if failures:
            driver.event("halted", {"phase": "final", "reasons": [r for _, r in failures]})
            raise Halted(f"every step ran but {plan.final_label}: {_reasons_text(failures)}", report, "final",
                         [g for g, _ in failures], [r for _, r in failures])
    report["seconds"] = round(clock() - started_all, 2)
    driver.event("done", {"name": plan.name, "steps": len(report["steps"]), "seconds": report["seconds"]})
    return report


__all__ = ["Gate", "gate", "failed", "Step", "Plan", "Timing", "Halted", "preview", "run", "REPLAN", "MAX_REPLANS"]

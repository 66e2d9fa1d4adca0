"""kafkasalt.common.polling.wait_until on a simulated clock."""

from kafkasalt.common.polling import wait_until


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_returns_the_first_true_result_without_sleeping_when_it_holds_at_once():
    clock = Clock()
    assert wait_until(lambda: "ready", 5, 1, clock=clock, sleep=clock.sleep) == "ready"
    assert clock.sleeps == []


def test_polls_every_interval_until_the_condition_holds():
    clock = Clock()
    answers = iter([False, None, [], "ok"])
    assert wait_until(lambda: next(answers), 10, 0.5, clock=clock, sleep=clock.sleep) == "ok"
    assert clock.sleeps == [0.5, 0.5, 0.5]


def test_gives_up_at_the_deadline_with_the_last_result():
    clock = Clock()
    calls = []

    def never():
        calls.append(clock.now)
        return []

    assert wait_until(never, 2, 0.5, clock=clock, sleep=clock.sleep) == []
    assert calls == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_checks_once_even_without_time_to_wait():
    calls = []
    assert wait_until(lambda: calls.append(1), 0, 1, clock=lambda: 0.0, sleep=lambda s: None) is None
    assert calls == [1]

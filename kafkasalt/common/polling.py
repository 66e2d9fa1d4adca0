"""Waiting for a condition: the one polling loop of the core."""

import time


def wait_until(condition, timeout, interval, clock=time.monotonic, sleep=time.sleep):
    """Call ``condition()`` until it returns something true or ``timeout`` seconds have passed.

    ``condition`` runs at least once, then again every ``interval`` seconds while it is false
    and the deadline has not passed. Returns its last result (true when the wait succeeded).
    ``clock`` and ``sleep`` are injectable for tests.
    """
    deadline = clock() + timeout
    while True:
        result = condition()
        if result or clock() >= deadline:
            return result
        sleep(interval)

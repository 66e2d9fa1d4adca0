"""Servers the functional tests start themselves: each in its own process group, output to a
log file, stopped as a group (SIGTERM, then SIGKILL if it lingers)."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

STOP_TIMEOUT_SECONDS = 30
LOOPBACK = "127.0.0.1"


def port_open(port, host=LOOPBACK):
    """True once something accepts TCP connections on ``host:port`` (the loopback by default)."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


class Service:
    """``ready_may_raise``: a ``ready()`` that raises (a port not open yet) counts as not ready
    instead of failing the test."""

    def __init__(self, name, command, log_path, env=None, startup_timeout=120, log_lines=40, ready_may_raise=True):
        self.name = name
        self.log_path = Path(log_path)
        self.startup_timeout, self.log_lines, self.ready_may_raise = startup_timeout, log_lines, ready_may_raise
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([str(part) for part in command], stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=dict(os.environ, **(env or {})),
                                            start_new_session=True)

    def alive(self):
        return self.process.poll() is None

    def log_tail(self, lines=None):
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-(lines or self.log_lines):])

    def _ready(self, ready):
        if not self.ready_may_raise:
            return ready()
        try:
            return ready()
        except Exception:  # noqa: BLE001 - not ready yet
            return False

    def wait_until(self, ready, what, timeout=None):
        """Poll ``ready()`` until true; fail with the log tail if the process dies or time runs out."""
        timeout = timeout or self.startup_timeout
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                pytest.fail(f"{self.name} exited with {self.process.returncode} before {what}:\n{self.log_tail()}")
            if self._ready(ready):
                return
            time.sleep(0.5)
        pytest.fail(f"{self.name}: no {what} within {timeout}s:\n{self.log_tail()}")

    def stop(self):
        """SIGTERM the whole process group, SIGKILL it if it lingers."""
        if not self.alive():
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except ProcessLookupError:
            pass

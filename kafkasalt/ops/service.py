"""The workload interface: start, stop, restart and inspect a service, whatever supervises it.

Production hosts run systemd; containers and the lab run supervisord. Everything above this
module (restart gating, rolling restarts, "restart pending" detection) is the same for both.
"""

import os
import re
import subprocess
import time

from kafkasalt.common.polling import wait_until

MANAGERS = ("systemd", "supervisord")


class ServiceError(RuntimeError):
    """A service manager command failed; the message carries its output."""


def _run(cmd, check=True):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise ServiceError(f"{' '.join(cmd)} failed ({proc.returncode}): {(proc.stdout + proc.stderr).strip()}")
    return proc


def process_start_time(pid):
    """Wall-clock start time (epoch seconds, ~10 ms precision) of ``pid``; None when it is gone.

    Derived from /proc/uptime rather than btime, which has whole-second granularity and would
    make files written just before a start look newer than the process.
    """
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
        with open("/proc/uptime") as fh:
            uptime = float(fh.read().split()[0])
    except OSError:
        return None
    now = time.time()
    # The command name may contain spaces or parentheses; fields restart after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    started_after_boot = int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return now - (uptime - started_after_boot)


class Service:
    """One service (``zookeeper`` or ``kafka``) under ``manager``."""

    def __init__(self, name, manager="systemd"):
        if manager not in MANAGERS:
            raise ValueError(f"service manager must be one of {MANAGERS}, not {manager!r}")
        self.name = name
        self.manager = manager

    def _ctl(self, action, check=True):
        if self.manager == "systemd":
            return _run(["systemctl", action, self.name], check=check)
        return _run(["supervisorctl", action, self.name], check=check)

    def main_pid(self):
        """PID of the running service, or None when it is not running."""
        if self.manager == "systemd":
            out = _run(["systemctl", "show", "--property=MainPID", "--value", self.name], check=False).stdout.strip()
            pid = int(out) if out.isdigit() else 0
        else:
            out = _run(["supervisorctl", "status", self.name], check=False).stdout
            match = re.search(r"\bRUNNING\s+pid (\d+)", out)
            pid = int(match.group(1)) if match else 0
        return pid or None

    def running(self):
        return self.main_pid() is not None

    def start(self):
        self._ctl("start")

    def stop(self):
        self._ctl("stop")

    def kill(self):
        """SIGKILL the main process (tests and last-resort recovery only)."""
        pid = self.main_pid()
        if pid:
            os.kill(pid, 9)

    def registered(self):
        """Whether the manager knows the service (unit file loaded / program added)."""
        if self.manager == "systemd":
            out = _run(["systemctl", "show", "--property=LoadState", "--value", self.name], check=False).stdout
            return out.strip() == "loaded"
        out = _run(["supervisorctl", "avail"], check=False).stdout
        return any(line.split()[:1] == [self.name] for line in out.splitlines())

    def register(self):
        """Make the manager read the service definition written by the states."""
        if self.manager == "systemd":
            _run(["systemctl", "daemon-reload"])
            _run(["systemctl", "enable", self.name])
        else:
            _run(["supervisorctl", "reread"])
            _run(["supervisorctl", "add", self.name])

    def unregister(self, definition_path):
        """Stop the service and remove it from its manager for good (a decommissioned member):
        the unit or program file goes, so neither a reboot nor a supervisord restart starts it.
        Returns whether anything was removed."""
        removed = False
        if self.running():
            self.stop()
        if self.manager == "systemd":
            if self.registered():
                _run(["systemctl", "disable", self.name], check=False)
        if os.path.exists(definition_path):
            os.remove(definition_path)
            removed = True
        if self.manager == "systemd":
            _run(["systemctl", "daemon-reload"], check=False)
        elif self.registered() or removed:
            _run(["supervisorctl", "reread"], check=False)
            _run(["supervisorctl", "remove", self.name], check=False)
        return removed

    def restart(self):
        """Restart with the current definition (a changed unit or program is re-read first)."""
        if self.manager == "systemd":
            _run(["systemctl", "daemon-reload"])
            self._ctl("restart")
            return
        reread = _run(["supervisorctl", "reread"]).stdout
        if re.search(rf"^{re.escape(self.name)}: changed", reread, re.MULTILINE):
            # `update NAME` stops, re-reads and starts the program: a restart with the new command.
            _run(["supervisorctl", "update", self.name])
        else:
            self._ctl("restart")

    def started_at(self):
        pid = self.main_pid()
        return process_start_time(pid) if pid else None

    def restart_pending(self, config_files):
        """Which of ``config_files`` changed after the running process started.

        Derived, not recorded: no marker file can go stale. A stopped service has nothing pending
        (starting it reads the current files).
        """
        started = self.started_at()
        if started is None:
            return []
        changed = []
        for path in config_files:
            try:
                if os.stat(path).st_mtime > started:
                    changed.append(path)
            except FileNotFoundError:
                continue
        return changed

    def wait_running(self, timeout=60):
        """Whether the service runs within ``timeout`` seconds (checked every 0.5 s)."""
        return wait_until(self.running, timeout, 0.5)

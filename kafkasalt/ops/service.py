"""The workload interface: start, stop, restart and inspect a service, whatever supervises it.

Production hosts run systemd; containers and the lab run supervisord. Everything above this
module (restart gating, rolling restarts, "restart pending" detection) is the same for both.
"""

import configparser
import http.client
import os
import re
import socket
import subprocess
import time
import xmlrpc.client

from kafkasalt.common.polling import wait_until

MANAGERS = ("systemd", "supervisord")


class ServiceError(RuntimeError):
    """A service manager command failed; the message carries its output."""


def _run(cmd, check=True):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise ServiceError(f"{' '.join(cmd)} failed ({proc.returncode}): {(proc.stdout + proc.stderr).strip()}")
    return proc


# Where supervisorctl looks for its configuration (the [supervisorctl] serverurl it uses).
SUPERVISOR_CONFIGS = ("/etc/supervisor/supervisord.conf", "/etc/supervisord.conf")


def supervisor_socket(configs=SUPERVISOR_CONFIGS):
    """The unix socket supervisorctl talks to, read from supervisord's configuration; None when
    there is none (supervisorctl is then asked instead)."""
    for path in configs:
        parser = configparser.RawConfigParser(strict=False)
        try:
            if not parser.read(path):
                continue
        except configparser.Error:
            continue
        url = parser.get("supervisorctl", "serverurl", fallback="")
        if url.startswith("unix://"):
            return url[len("unix://"):]
        if parser.has_option("unix_http_server", "file"):
            return parser.get("unix_http_server", "file")
    return None


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path, timeout):
        super().__init__()
        self._path, self._timeout = path, timeout

    def make_connection(self, host):
        return _UnixHTTPConnection(self._path, self._timeout)


def supervisor_process_info(name, path=None, timeout=5.0):
    """supervisord's own record of program ``name`` (``statename``, ``pid`` ...), asked over its
    XML-RPC socket in this process: a few milliseconds, where starting ``supervisorctl`` (a
    Python program) takes about half a second, which every gate poll of a roll paid."""
    path = path or supervisor_socket()
    if not path:
        raise ServiceError("no supervisord socket configured")
    proxy = xmlrpc.client.ServerProxy("http://localhost", transport=_UnixTransport(path, timeout))
    try:
        return proxy.supervisor.getProcessInfo(name)
    except (OSError, xmlrpc.client.Error, http.client.HTTPException) as exc:
        raise ServiceError(f"supervisord at {path}: {exc}") from exc


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
            try:
                info = supervisor_process_info(self.name)
                pid = int(info.get("pid") or 0) if info.get("statename") == "RUNNING" else 0
            except ServiceError:  # no socket we can read: ask supervisorctl, as an operator would
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

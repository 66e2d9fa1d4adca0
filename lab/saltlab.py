"""The three-host lab: one Salt master and three minions on this machine.

Each minion is a separate host as far as the states can tell:
- its own address (loopback alias 127.0.0.1N) for every listener and for its master connection
  (``source_address``);
- its own view of the standard paths: it runs in a private mount namespace (``unshare -m``) in
  which /etc/kafka, /opt/kafka, /var/lib/zookeeper, ... are bind mounts of a per-host directory,
  so the states write production paths unchanged and never collide;
- its own process supervisor: a supervisord started inside the namespace, as an init system
  would be on a real host (no systemd runs here).

The lab is driven by ``bin/lab`` (up, down, status, salt, salt-run, salt-call) and by the test
suite, which uses the same class.
"""

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time

import yaml

from lab import artifacts

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.dirname(os.path.abspath(sys.executable))
DEFAULT_ROOT = os.environ.get("KAFKASALT_LAB", os.path.join(REPO, ".lab"))

HOSTS = {"kafka1": "127.0.0.11", "kafka2": "127.0.0.12", "kafka3": "127.0.0.13"}
# Hosts that join only when a test adds them (ZooKeeper membership changes: 3 -> 5 -> 3). The lab
# pillar never names them; a test's override pillar does.
SPARE_HOSTS = {"zk4": "127.0.0.14", "zk5": "127.0.0.15"}
# A host of its own (a second, one-member ensemble): it gets pillar/solo.sls instead of the lab's.
SOLO_HOSTS = {"solo1": "127.0.0.16"}
MASTER_ADDRESS = "127.0.0.1"
# Uncommon ports so a lab never meets a real master on this machine.
PUBLISH_PORT = 45505
RET_PORT = 45506

# Paths that each host sees privately. Anything a state writes must be under one of these.
PRIVATE_PATHS = (
    "/etc/kafka",
    "/etc/zookeeper",
    "/opt/kafka",
    "/opt/zookeeper",
    "/var/lib/kafka",
    "/var/lib/zookeeper",
    "/var/log/kafka",
    "/var/log/zookeeper",
    "/etc/supervisor",
    "/var/log/supervisor",
    "/run/supervisor",
    "/etc/sysctl.d",
    "/etc/security/limits.d",
    "/etc/systemd/system",
)

# The hosts share /etc/passwd (a bind-mounted passwd cannot be renamed over by useradd), so the
# service accounts are made once for all, as a base image would ship them.
SERVICE_ACCOUNTS = ("zookeeper", "kafka")

SUPERVISORD_CONF = """\
; supervisord for lab host {host} (stands in for the host's init system)
[unix_http_server]
file=/run/supervisor/supervisor.sock
chmod=0700

[supervisord]
logfile=/var/log/supervisor/supervisord.log
pidfile=/run/supervisor/supervisord.pid
childlogdir=/var/log/supervisor
; this machine caps nofile at 20000 (hard); production units set LimitNOFILE from sizing
minfds=16384

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix:///run/supervisor/supervisor.sock

[include]
files = /etc/supervisor/conf.d/*.conf
"""


class LabError(RuntimeError):
    """The lab could not be brought up or driven; the message says which step failed."""


def _run(cmd, check=True, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _read_pid(path):
    try:
        with open(path) as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def _mount_ns(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Lab:
    """A lab rooted at ``root`` (default ``.lab`` in the repository)."""

    def __init__(self, root=DEFAULT_ROOT, hosts=None):
        self.root = os.path.abspath(root)
        # The cluster hosts shape the lab pillar; ``hosts`` also holds spares while they run.
        self.cluster_hosts = dict(hosts or HOSTS)
        self.hosts = dict(self.cluster_hosts)
        self.master_dir = os.path.join(self.root, "master")
        self.master_conf_dir = os.path.join(self.master_dir, "conf")
        self.pillar_dir = os.path.join(self.root, "pillar")
        self.formula_dir = os.path.join(self.root, "formula")

    # ----------------------------------------------------------------- paths
    def host_dir(self, host):
        return os.path.join(self.root, "hosts", host)

    def host_path(self, host, path):
        """Where ``path`` as seen by ``host`` lives on the real filesystem."""
        for private in PRIVATE_PATHS:
            if path == private or path.startswith(private + "/"):
                return os.path.join(self.host_dir(host), "fs", path.lstrip("/"))
        return path

    def minion_conf_dir(self, host):
        return os.path.join(self.host_dir(host), "conf")

    def minion_pidfile(self, host):
        return os.path.join(self.host_dir(host), "salt", "var", "run", "salt-minion.pid")

    @property
    def master_pidfile(self):
        return os.path.join(self.master_dir, "var", "run", "salt-master.pid")

    def env(self):
        env = dict(os.environ)
        env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
        return env

    # ----------------------------------------------------------------- config
    def _write(self, path, text, mode=0o644):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as fh:
            fh.write(text)
        os.chmod(path, mode)

    def _write_formula(self):
        """A formula root exposing only the extension (not .venv or .lab) to the fileserver: the
        loader directories, and the core's data files (a sync copies Python files only, so the
        runners find ``kafkasalt/data`` through the file roots)."""
        os.makedirs(self.formula_dir, exist_ok=True)
        os.makedirs(os.path.join(self.formula_dir, "kafkasalt"), exist_ok=True)
        data_link = os.path.join(self.formula_dir, "kafkasalt", "data")
        if not os.path.islink(data_link):
            os.symlink(os.path.join(REPO, "kafkasalt", "data"), data_link)
        for name in ("_modules", "_states", "_grains", "_runners", "_pillar", "_utils"):
            link = os.path.join(self.formula_dir, name)
            if not os.path.islink(link):
                os.symlink(os.path.join(REPO, name), link)

    def _master_config(self):
        return {
            "root_dir": self.master_dir,
            "pki_dir": os.path.join(self.master_dir, "pki"),
            "cachedir": os.path.join(self.master_dir, "var", "cache", "salt", "master"),
            "sock_dir": os.path.join(self.master_dir, "var", "run", "salt", "master"),
            "pidfile": self.master_pidfile,
            "log_file": os.path.join(self.master_dir, "var", "log", "salt", "master"),
            "key_logfile": os.path.join(self.master_dir, "var", "log", "salt", "key"),
            "log_level_logfile": "info",
            "interface": MASTER_ADDRESS,
            "publish_port": PUBLISH_PORT,
            "ret_port": RET_PORT,
            "auto_accept": True,
            "worker_threads": 3,
            "user": "root",
            "file_roots": {"base": [os.path.join(REPO, "salt"), self.formula_dir]},
            "pillar_roots": {"base": [self.pillar_dir]},
            # The cluster CA lives on the master; brokers get their keys through pillar.
            "ext_pillar": [{"kafka_pki": {}}],
            # Orchestration runs states on the master, so it needs the extension too; the master
            # gets it the formula way, through `salt-run saltutil.sync_all`.
            "extension_modules": os.path.join(self.master_dir, "extmods"),
            "timeout": 30,
            "gather_job_timeout": 30,
            "state_output": "mixed",
            "keep_jobs_seconds": 86400,
        }

    def _minion_config(self, host):
        salt_root = os.path.join(self.host_dir(host), "salt")
        return {
            "id": host,
            "master": MASTER_ADDRESS,
            "master_port": RET_PORT,
            "publish_port": PUBLISH_PORT,
            "source_address": self.hosts[host],
            "root_dir": salt_root,
            "pki_dir": os.path.join(salt_root, "pki"),
            "cachedir": os.path.join(salt_root, "var", "cache", "salt", "minion"),
            "sock_dir": os.path.join(salt_root, "var", "run", "salt", "minion"),
            "pidfile": self.minion_pidfile(host),
            "log_file": os.path.join(salt_root, "var", "log", "salt", "minion"),
            "log_level_logfile": "info",
            "extension_modules": os.path.join(salt_root, "extmods"),
            "user": "root",
            "acceptance_wait_time": 1,
            "random_reauth_delay": 0,
            "recon_default": 200,
            "recon_max": 1000,
            "multiprocessing": True,
            "grains": {"lab_address": self.hosts[host]},
        }

    def _write_host_config(self, host):
        self._write(os.path.join(self.minion_conf_dir(host), "minion"), yaml.safe_dump(self._minion_config(host)))
        for private in PRIVATE_PATHS:
            os.makedirs(self.host_path(host, private), exist_ok=True)
        self._write(self.host_path(host, "/etc/supervisor/supervisord.conf"), SUPERVISORD_CONF.format(host=host))
        os.makedirs(self.host_path(host, "/etc/supervisor/conf.d"), exist_ok=True)

    def write_config(self):
        os.makedirs(os.path.join(self.master_dir, "var", "cache", "salt", "master", "proc"), exist_ok=True)
        self._write_formula()
        self._write(os.path.join(self.master_conf_dir, "master"), yaml.safe_dump(self._master_config()))
        for host in self.hosts:
            self._write_host_config(host)
        self.write_pillar()

    def add_hosts(self, hosts):
        """Boot extra bare hosts (``{name: address}``) into the running lab, synced and with pillar."""
        for host, address in hosts.items():
            self.hosts[host] = address
            self._write_host_config(host)
            self.start_minion(host)
        self.wait_for_minions()
        targets = ",".join(hosts)
        self.salt(targets, "saltutil.sync_all", "--out=quiet", "-L")
        self.salt(targets, "saltutil.refresh_pillar", "wait=True", "--out=quiet", "-L")

    def remove_hosts(self, names):
        """Power extra hosts off and forget them (their minion keys too), as if they never were."""
        self.stop_hosts(names)
        for host in names:
            _run([os.path.join(VENV_BIN, "salt-key"), "-c", self.master_conf_dir, "-d", host, "-y"],
                 check=False, env=self.env())
            self.hosts.pop(host, None)
            shutil.rmtree(self.host_dir(host), ignore_errors=True)

    def _hosts_on_disk(self):
        try:
            return sorted(os.listdir(os.path.join(self.root, "hosts")))
        except FileNotFoundError:
            return []

    @property
    def override_file(self):
        return os.path.join(self.pillar_dir, "override.sls")

    @property
    def solo_file(self):
        return os.path.join(self.pillar_dir, "solo.sls")

    def set_solo_pillar(self, data):
        """The whole pillar of the solo* hosts (not merged with the lab's)."""
        self._write(self.solo_file, yaml.safe_dump(data or {}), mode=0o600)

    def set_override(self, data):
        """Replace the override pillar (merged over the lab pillar) and refresh every host's pillar."""
        self._write(self.override_file, yaml.safe_dump(data or {}), mode=0o600)
        self.salt("*", "saltutil.refresh_pillar", "wait=True", "--out=quiet")

    def secrets_file(self):
        return os.path.join(self.root, "secrets.json")

    def lab_secrets(self):
        """Random passwords for this lab, kept across re-runs of `up` so pillar stays stable."""
        path = self.secrets_file()
        if os.path.exists(path):
            with open(path) as fh:
                return json.load(fh)
        names = ("zk_super", "zk_quorum", "zk_kafka", "kafka_admin", "kafka_broker")
        values = {name: secrets.token_urlsafe(18) for name in names}
        self._write(path, json.dumps(values, indent=1), mode=0o600)
        return values

    def write_pillar(self):
        """Lab pillar: the example pillar's shape with this machine's artifact URLs and lab passwords."""
        manifest = artifacts.load_manifest()
        if manifest is None:
            raise LabError("artifacts are not built: run `make artifacts` (python -m lab.artifacts build)")
        # override.sls is merged over lab.sls: tests and operators change the cluster there.
        # solo* hosts run something else and see only solo.sls.
        top = {"base": {"* and not solo*": [{"match": "compound"}, "lab", "override"], "solo*": ["solo"]}}
        self._write(os.path.join(self.pillar_dir, "top.sls"), yaml.safe_dump(top))
        for path in (self.override_file, self.solo_file):
            if not os.path.exists(path):
                self._write(path, "{}\n", mode=0o600)
        pillar = lab_pillar(self.cluster_hosts, manifest, self.lab_secrets())
        self._write(os.path.join(self.pillar_dir, "lab.sls"), yaml.safe_dump(pillar, sort_keys=False), mode=0o600)

    # ----------------------------------------------------------------- processes
    def _ensure_host_prereqs(self):
        for account in SERVICE_ACCOUNTS:
            if _run(["id", "-u", account], check=False).returncode != 0:
                _run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", account])
        for private in PRIVATE_PATHS:
            # Mount points must exist on the real root; they stay empty there.
            os.makedirs(private, exist_ok=True)

    def master_running(self):
        pid = _read_pid(self.master_pidfile)
        return pid is not None and _pid_alive(pid)

    def minion_running(self, host):
        pid = _read_pid(self.minion_pidfile(host))
        return pid is not None and _pid_alive(pid)

    def start_master(self):
        if self.master_running():
            return
        _run([os.path.join(VENV_BIN, "salt-master"), "-c", self.master_conf_dir, "-d"], env=self.env())

    def _host_boot_script(self, host):
        """Shell run inside the host's new mount namespace: bind mounts, init (supervisord), minion."""
        lines = ["set -e", "mount --make-rprivate /"]
        for private in PRIVATE_PATHS:
            lines.append(f"mount --bind {self.host_path(host, private)} {private}")
        lines.append(f"{VENV_BIN}/supervisord -c /etc/supervisor/supervisord.conf")
        lines.append(f"exec {VENV_BIN}/salt-minion -c {self.minion_conf_dir(host)} -d")
        return "\n".join(lines)

    def start_minion(self, host):
        if self.minion_running(host):
            return
        _run(["unshare", "--mount", "--propagation", "private", "sh", "-c", self._host_boot_script(host)], env=self.env())

    def host_pids(self, host):
        """Every process living in the host's mount namespace (minion, supervisord, services)."""
        minion = _read_pid(self.minion_pidfile(host))
        namespace = _mount_ns(minion) if minion else None
        if namespace is None or namespace == _mount_ns(os.getpid()):
            return []
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and _mount_ns(entry) == namespace:
                pids.append(int(entry))
        return pids

    def nsenter(self, host, cmd, check=True):
        """Run ``cmd`` inside ``host``'s mount namespace (as an operator ssh'd into it would)."""
        minion = _read_pid(self.minion_pidfile(host))
        if not minion or not _pid_alive(minion):
            raise LabError(f"host {host} is not running")
        return _run(["nsenter", f"--mount=/proc/{minion}/ns/mnt", "--", *cmd], check=check, env=self.env())

    # kill -9, then stop the program while killing whatever supervisord respawned: see kill_program.
    _KILL_AND_KEEP_DOWN = (
        'kill -9 "$1"; supervisorctl stop "$2" >/dev/null & stopper=$!; '
        'while kill -0 "$stopper" 2>/dev/null; do '
        'p=$(supervisorctl pid "$2"); case "$p" in ""|0|*[!0-9]*) ;; *) kill -9 "$p" 2>/dev/null;; esac; '
        'sleep 0.1; done; wait "$stopper"; supervisorctl status "$2"')

    def kill_program(self, host, program, pid):
        """``kill -9`` the ``program``'s process ``pid`` on ``host`` and keep it down: a crashed
        server that nothing brings back. supervisord restarts an unexpected exit at once and
        ``supervisorctl stop`` then SIGTERMs the new process; a JVM told to stop while it is
        still starting can take its whole ``stopwaitsecs`` (300 s for Kafka) to exit, so every
        respawned process is killed too until the program is stopped."""
        if not str(pid).isdigit() or str(pid) == "0":
            raise LabError(f"{host}: {program} is not running (pid {pid!r}): nothing to kill")  # never kill -9 0
        proc = self.nsenter(host, ["sh", "-c", self._KILL_AND_KEEP_DOWN, "sh", str(pid), program], check=False)
        if "STOPPED" not in proc.stdout and "EXITED" not in proc.stdout:
            raise LabError(f"{host}: {program} did not stay down after kill -9: {proc.stdout} {proc.stderr}")
        return proc

    def wait_for_minions(self, timeout=90):
        deadline = time.monotonic() + timeout
        missing = set(self.hosts)
        while time.monotonic() < deadline:
            proc = self.salt("*", "test.ping", "--out=json", "--static", "-t", "5", check=False)
            try:
                answered = {k for k, v in json.loads(proc.stdout or "{}").items() if v is True}
            except json.JSONDecodeError:
                answered = set()
            missing = set(self.hosts) - answered
            if not missing:
                return
            time.sleep(1)
        raise LabError(f"minions did not answer within {timeout}s: {sorted(missing)}")

    def up(self):
        """Bring the lab up (idempotent): config, master, three hosts, extension synced."""
        started = time.monotonic()
        self._ensure_host_prereqs()
        self.write_config()
        self.start_master()
        # The master's own extension (runners, ext_pillar) first: minions compile pillar on connect.
        self.salt_run("saltutil.sync_all", "--out=quiet")
        for host in self.hosts:
            self.start_minion(host)
        self.wait_for_minions()
        self.salt("*", "saltutil.sync_all", "--out=quiet")
        self.salt("*", "saltutil.refresh_pillar", "wait=True", "--out=quiet")
        return time.monotonic() - started

    def _stop_pid(self, pid, timeout=20):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _pid_alive(pid):
            time.sleep(0.2)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)

    def stop_host(self, host):
        self.stop_hosts([host])

    def stop_hosts(self, hosts, kill=False):
        """Power hosts off together (SIGTERM to everything in them, SIGKILL after 30 s): the
        brokers' controlled shutdowns overlap instead of adding up. ``kill``: SIGKILL at once,
        for a lab that is thrown away (nothing on it needs a clean shutdown)."""
        pids = []
        for host in hosts:
            pids += self.host_pids(host)
            minion = _read_pid(self.minion_pidfile(host))
            if minion and _pid_alive(minion) and minion not in pids:
                pids.append(minion)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + (5 if kill else 30)
        while time.monotonic() < deadline and any(_pid_alive(p) for p in pids):
            time.sleep(0.2)
        for pid in pids:
            if _pid_alive(pid):
                os.kill(pid, signal.SIGKILL)

    def down(self, purge=False, kill=False):
        """Stop every host and the master; ``purge`` removes the lab's files, ``kill`` stops
        with SIGKILL at once (a lab that is thrown away)."""
        # Spare hosts a test added (and maybe left running) are found on disk.
        self.stop_hosts(sorted(set(self.hosts) | set(self._hosts_on_disk())), kill=kill)
        pid = _read_pid(self.master_pidfile)
        if pid:
            self._stop_pid(pid)
        if purge and os.path.isdir(self.root):
            shutil.rmtree(self.root)

    def memory(self):
        """RSS in MiB per component: the master, and per host its minion and each service."""
        report = {}
        master = _read_pid(self.master_pidfile)
        if master and _pid_alive(master):
            children = _run(["pgrep", "-f", f"salt-master -c {self.master_conf_dir}"], check=False).stdout.split()
            report["salt-master"] = sum(_rss_kib(int(p)) for p in children) / 1024
        for host in self.hosts:
            for pid in self.host_pids(host):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as fh:
                        cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    continue
                if "QuorumPeerMain" in cmdline or "/etc/zookeeper/java.args" in cmdline:
                    name = "zookeeper"
                elif "kafka.Kafka" in cmdline:
                    name = "kafka"
                elif "salt-minion" in cmdline:
                    name = "salt-minion"
                elif "supervisord" in cmdline:
                    name = "supervisord"
                else:
                    name = "other"
                key = f"{host}/{name}"
                report[key] = report.get(key, 0) + _rss_kib(pid) / 1024
        return report

    # ----------------------------------------------------------------- salt commands
    def salt(self, *args, check=True, timeout=900):
        cmd = [os.path.join(VENV_BIN, "salt"), "-c", self.master_conf_dir, *args]
        return _run(cmd, check=check, env=self.env(), timeout=timeout)

    def salt_run(self, *args, check=True, timeout=1800):
        cmd = [os.path.join(VENV_BIN, "salt-run"), "-c", self.master_conf_dir, *args]
        return _run(cmd, check=check, env=self.env(), timeout=timeout)

    def salt_json(self, target, function, *args, timeout=300):
        proc = self.salt(target, function, *args, "--out=json", "--static", check=False, timeout=timeout)
        try:
            return json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise LabError(f"salt {target} {function}: no JSON output: {proc.stdout[-2000:]} {proc.stderr[-2000:]}") from exc


def lab_pillar(hosts, manifest, lab_secrets):
    """The lab's pillar: the production shape, with file:// artifacts and supervisord."""
    zk = manifest["zookeeper"]
    kafka = manifest["kafka"]
    members = {}
    brokers = {}
    for index, (host, address) in enumerate(sorted(hosts.items()), start=1):
        members[host] = {"myid": index, "address": address}
        brokers[host] = {"broker_id": index, "address": address, "rack": f"r{index}"}
    pillar = {
        "kafka_host": {
            "service_manager": "supervisord",
            # The lab shares one kernel with the machine: write the sysctl files, apply nothing live.
            "kernel_tuning": {"apply_live": False},
            # This machine's hard nofile limit is 20000 and cannot be raised.
            "nofile": 16384,
        },
        "zookeeper": {
            "version": zk["version"],
            "source": zk["source"],
            "source_hash": zk["source_hash"],
            "members": members,
            "heap_mb": 256,
            "sasl": {
                "super_password": lab_secrets["zk_super"],
                "quorum_password": lab_secrets["zk_quorum"],
                "users": {"kafka": {"password": lab_secrets["zk_kafka"]}},
            },
        },
        "kafka": {
            "cluster_name": "lab",
            "version": kafka["version"],
            "source": kafka["source"],
            "source_hash": kafka["source_hash"],
            "brokers": brokers,
            "heap_mb": 512,
            "super_user": {"name": "admin", "password": lab_secrets["kafka_admin"]},
            "inter_broker_user": {"name": "broker", "password": lab_secrets["kafka_broker"]},
            "zookeeper_user": "kafka",
        },
    }
    jmx = manifest.get("jmx_exporter")
    if jmx:
        pillar["kafka"]["jmx_exporter"] = {"enabled": True, "source": jmx["source"], "source_hash": jmx["source_hash"]}
    return pillar

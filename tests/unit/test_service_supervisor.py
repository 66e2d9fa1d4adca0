"""Reading a program's state from supervisord's XML-RPC socket (kafkasalt.ops.service)."""

import socketserver
import threading
from xmlrpc.server import SimpleXMLRPCDispatcher, SimpleXMLRPCRequestHandler

import pytest

from kafkasalt.ops import service


class _UnixXMLRPCServer(socketserver.UnixStreamServer, SimpleXMLRPCDispatcher):
    def __init__(self, path):
        SimpleXMLRPCDispatcher.__init__(self, allow_none=True)
        self.logRequests = False
        socketserver.UnixStreamServer.__init__(self, path, _Handler)


class _Handler(SimpleXMLRPCRequestHandler):
    disable_nagle_algorithm = False  # TCP_NODELAY does not apply to a unix socket

    def address_string(self):  # a unix peer has no host name
        return "unix"


@pytest.fixture
def fake_supervisord(tmp_path):
    """A supervisord stand-in answering supervisor.getProcessInfo from ``programs``."""
    programs = {}
    path = str(tmp_path / "supervisor.sock")
    server = _UnixXMLRPCServer(path)

    def get_process_info(name):
        if name not in programs:
            raise Exception("BAD_NAME: " + name)
        return programs[name]

    server.register_function(get_process_info, "supervisor.getProcessInfo")
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield path, programs
    server.shutdown()
    server.server_close()


def _conf(tmp_path, text):
    path = tmp_path / "supervisord.conf"
    path.write_text(text)
    return (str(path),)


def test_the_socket_is_supervisorctl_serverurl(tmp_path):
    configs = _conf(tmp_path, "[unix_http_server]\nfile=/run/a.sock\n[supervisorctl]\nserverurl=unix:///run/b.sock\n")
    assert service.supervisor_socket(configs) == "/run/b.sock"


def test_without_a_serverurl_the_socket_is_the_servers_file(tmp_path):
    assert service.supervisor_socket(_conf(tmp_path, "[unix_http_server]\nfile=/run/a.sock\n")) == "/run/a.sock"


def test_no_config_or_an_http_serverurl_gives_no_socket(tmp_path):
    assert service.supervisor_socket((str(tmp_path / "missing.conf"),)) is None
    assert service.supervisor_socket(_conf(tmp_path, "[supervisorctl]\nserverurl=http://127.0.0.1:9001\n")) is None
    assert service.supervisor_socket(_conf(tmp_path, "not an ini file [")) is None


def test_process_info_is_read_over_the_socket(fake_supervisord):
    path, programs = fake_supervisord
    programs["kafka"] = {"statename": "RUNNING", "pid": 4242}
    assert service.supervisor_process_info("kafka", path=path)["pid"] == 4242


def test_an_unknown_program_or_a_dead_socket_is_a_service_error(fake_supervisord, tmp_path):
    path, _ = fake_supervisord
    with pytest.raises(service.ServiceError):
        service.supervisor_process_info("nope", path=path)
    with pytest.raises(service.ServiceError):
        service.supervisor_process_info("kafka", path=str(tmp_path / "gone.sock"))


@pytest.mark.parametrize("state, pid, expected", [
    ("RUNNING", 77, 77),
    ("STARTING", 77, None),  # not up for startsecs yet: supervisorctl status shows no pid either
    ("STOPPING", 77, None),
    ("BACKOFF", 0, None),
    ("STOPPED", 0, None),
])
def test_main_pid_is_the_running_pid_only(fake_supervisord, monkeypatch, state, pid, expected):
    path, programs = fake_supervisord
    programs["kafka"] = {"statename": state, "pid": pid}
    monkeypatch.setattr(service, "supervisor_socket", lambda: path)
    monkeypatch.setattr(service, "_run", lambda *a, **k: pytest.fail("supervisorctl must not be started"))
    assert service.Service("kafka", "supervisord").main_pid() == expected


def test_without_a_socket_supervisorctl_is_asked(monkeypatch):
    calls = []

    class Proc:
        stdout = "kafka                            RUNNING   pid 123, uptime 0:01:02\n"

    monkeypatch.setattr(service, "supervisor_socket", lambda: None)
    monkeypatch.setattr(service, "_run", lambda cmd, check=True: calls.append(cmd) or Proc())
    assert service.Service("kafka", "supervisord").main_pid() == 123
    assert calls == [["supervisorctl", "status", "kafka"]]

"""kafkasalt.saltglue.runner: a runner call from the master that closes what it opens."""

import pytest
import salt.config
import salt.runner

from kafkasalt import saltglue


class FakeMasterMinion:
    def __init__(self):
        self.returners = self.functions = self.utils = {"loaded": True}
        self.destroyed = 0

    def destroy(self):
        self.destroyed += 1
        self.returners = self.functions = self.utils = {}  # what Salt 3008.3's destroy() leaves


class FakeRunnerClient:
    made = []

    def __init__(self, opts):
        self.opts = opts
        self.calls = []
        self.destroyed = False
        self.fail = opts.get("fail")
        FakeRunnerClient.made.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroyed = True

    def cmd(self, fun, kwarg=None, print_event=True, full_return=False):
        self.calls.append((fun, kwarg, print_event, full_return))
        self._mminion = self.mminion_seen = FakeMasterMinion()  # SyncClientMixin.low() makes one
        if self.fail:
            raise RuntimeError("runner blew up")
        return {"result": True, "changes": {}, "comment": "ran"}


@pytest.fixture
def fake_client(monkeypatch):
    FakeRunnerClient.made = []
    monkeypatch.setattr(salt.runner, "RunnerClient", FakeRunnerClient)
    return FakeRunnerClient


def test_runner_returns_the_runner_return_and_tears_everything_down(fake_client):
    out = saltglue.runner({"master_job_cache": "local_cache"}, "kafka.plan", kwarg={"test": True})

    assert out == {"result": True, "changes": {}, "comment": "ran"}
    (client,) = fake_client.made
    assert client.calls == [("kafka.plan", {"test": True}, False, False)]
    assert client.destroyed
    mminion = client.mminion_seen
    assert mminion.destroyed == 1 and "_mminion" not in vars(client)
    # Salt's MasterMinion.__del__ only counts a minion as torn down when these are None.
    assert mminion.returners is None and mminion.functions is None and mminion.utils is None


def test_runner_tears_down_when_the_runner_raises(fake_client):
    with pytest.raises(RuntimeError, match="blew up"):
        saltglue.runner({"master_job_cache": "local_cache", "fail": True}, "kafka.plan")
    (client,) = fake_client.made
    assert client.destroyed and client.mminion_seen.destroyed == 1


def test_runner_reads_the_master_config_for_minion_opts(fake_client, monkeypatch):
    read = []
    monkeypatch.setattr(salt.config, "master_config",
                        lambda path: read.append(path) or {"master_job_cache": "local_cache", "from": path})
    saltglue.runner({"conf_file": "/etc/salt/minion"}, "kafka.plan")
    assert read == ["/etc/salt/master"]
    assert fake_client.made[0].opts["from"] == "/etc/salt/master"

"""The ensemble runner's pillar loading: one ensemble per target, members agreeing on it."""

import copy
import importlib.util
import os

import pytest

from kafkasalt.common.errors import PillarError
from tests.unit.test_zookeeper_model import base_pillar


@pytest.fixture()
def runner(monkeypatch):
    path = os.path.join(os.path.dirname(__file__), "..", "..", "_runners", "zookeeper_ensemble.py")
    spec = importlib.util.spec_from_file_location("zookeeper_ensemble_runner_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    pillars = {}
    monkeypatch.setattr(module, "_compiled_pillars", lambda tgt, tgt_type: pillars)
    module.__salt__ = {"cache.grains": lambda tgt, tgt_type: {}}  # the master's grain cache: empty
    return module, pillars


def test_one_ensemble_loads_whatever_minion_sorts_first(runner):
    module, pillars = runner
    view = base_pillar(3)
    pillars.update({"a-broker": {"zookeeper": copy.deepcopy(view)},
                    **{mid: {"zookeeper": copy.deepcopy(view)} for mid in view["members"]}})
    assert module._load().minion_ids == ["kafka1", "kafka2", "kafka3"]


def test_members_of_two_ensembles_are_refused_until_targeted(runner):
    module, pillars = runner
    view = base_pillar(3)
    pillars.update({mid: {"zookeeper": copy.deepcopy(view)} for mid in view["members"]})
    other = base_pillar(3)
    other["members"] = {"aaa-solo": {"myid": 1, "address": "127.0.0.16"}}
    other["allow_single_member"] = True
    pillars["aaa-solo"] = {"zookeeper": other}
    with pytest.raises(PillarError, match="2 different ensembles") as info:
        module._load()
    assert info.value.key == "zookeeper"
    assert "aaa-solo, kafka1" in info.value.message


def test_a_member_with_a_diverging_view_is_refused(runner):
    module, pillars = runner
    view = base_pillar(3)
    pillars.update({mid: {"zookeeper": copy.deepcopy(view)} for mid in view["members"]})
    pillars["kafka3"]["zookeeper"]["heap_mb"] = 4096
    with pytest.raises(PillarError, match="different ensembles"):
        module._load()

"""The ``kafka`` execution module's sizing wrapper and its __virtual__, outside a minion."""

import importlib.util
import os
import sys

import pytest
from salt.exceptions import SaltInvocationError

from kafkasalt.ops import hardware

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEED000 = os.path.join(REPO, "tests", "data", "hw", "seed000-prod")


def load_module(grains=None, pillar=None):
    path = os.path.join(REPO, "_modules", "kafka.py")
    spec = importlib.util.spec_from_file_location("kafka_module_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.__grains__ = grains if grains is not None else {}
    module.__pillar__ = pillar or {}
    return module


def test_virtual_name():
    assert load_module().__virtual__() == "kafka"


def test_virtual_explains_a_missing_core(monkeypatch):
    for name in ("kafkasalt", "kafkasalt.ops.hardware", "kafkasalt.ops.sizing", "kafkasalt.common.errors"):
        monkeypatch.setitem(sys.modules, name, None)  # makes the import fail
    monkeypatch.setattr(sys, "path", list(sys.path))
    loaded, message = load_module().__virtual__()
    assert loaded is False
    assert "kafkasalt core package cannot be imported" in message
    assert "saltutil.sync_all" in message


def test_sizing_reads_grain_and_pillar():
    module = load_module(
        grains={"kafka_hardware": hardware.collect(SEED000)}, pillar={"kafka": {"expected_partitions": 50000}}
    )
    result = module.sizing()
    assert result["expected_partitions"] == 50000
    assert result["sysctl"]["vm.max_map_count"] == 400000
    assert result["broker_heap_mb"]["value"] == 6144
    assert len(result["log.dirs"]["value"]) == 12


def test_sizing_argument_beats_pillar_and_default_is_1000():
    grains = {"kafka_hardware": hardware.collect(SEED000)}
    assert load_module(grains, {"kafka": {"expected_partitions": 50000}}).sizing(2000)["expected_partitions"] == 2000
    assert load_module(grains).sizing()["expected_partitions"] == 1000


def test_sizing_collects_when_the_grain_is_absent():
    result = load_module().sizing(role="zookeeper")
    assert result["role"] == "zookeeper"
    assert result["zookeeper_heap_mb"]["value"] >= 256


def test_bad_pillar_value_names_the_pillar_key():
    module = load_module(pillar={"kafka": {"expected_partitions": "lots"}})
    with pytest.raises(SaltInvocationError, match="kafka:expected_partitions"):
        module.sizing()


def test_bad_role_names_the_argument():
    with pytest.raises(SaltInvocationError, match="^role: "):
        load_module().sizing(role="controller")

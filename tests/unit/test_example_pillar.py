"""pillar/kafka.sls.example documents every key the code reads, with the code's own defaults,
and it validates: one source of truth for each default."""

import copy
import os

import pytest
import yaml

from kafkasalt.kafka import model as kafka_model
from kafkasalt.ops import host as host_model
from kafkasalt.zookeeper import model as zk_model

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(REPO, "pillar", "kafka.sls.example")

# Keys whose example value is an illustration, not the default (the default is empty or unset).
KAFKA_ILLUSTRATIONS = {"cluster_name", "source", "source_hash", "brokers", "users", "topics", "acls", "config"}
ZK_ILLUSTRATIONS = {"source", "source_hash", "members", "sasl", "config"}


@pytest.fixture(scope="module")
def example():
    with open(EXAMPLE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _documented(section, defaults, illustrations):
    for key, default in defaults.items():
        assert key in section, f"{key} is missing from the example"
        if key in illustrations:
            continue
        value = section[key]
        if isinstance(default, dict) and isinstance(value, dict):
            # Merged sections: every documented sub-key carries the code's default (sources and
            # hashes are placeholders for the operator's mirror).
            for sub, sub_default in default.items():
                if sub in ("source", "source_hash", "password"):
                    continue
                assert value.get(sub) == sub_default, f"{key}:{sub}: example {value.get(sub)!r}, code {sub_default!r}"
        else:
            assert value == default, f"{key}: example {value!r}, code {default!r}"
    unknown = set(section) - set(defaults)
    assert not unknown, f"the example documents keys the code does not know: {sorted(unknown)}"


def test_kafka_section_documents_every_key_with_its_default(example):
    _documented(example["kafka"], kafka_model.DEFAULTS, KAFKA_ILLUSTRATIONS)


def test_kafka_host_section_documents_every_key_with_its_default(example):
    _documented(example["kafka_host"], host_model.DEFAULTS, set())


def test_zookeeper_section_documents_every_key_with_its_default(example):
    _documented(example["zookeeper"], zk_model.DEFAULTS, ZK_ILLUSTRATIONS)
    assert example["zookeeper"]["config"] == zk_model.TUNABLE_DEFAULTS


def _filled(section):
    """The example with its placeholders replaced by values of the right shape."""
    section = copy.deepcopy(section)

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if value == "...":
                    node[key] = "Example-Secret-1"
                elif value == "sha512=<hex>":
                    node[key] = "sha512=" + "0" * 128
                else:
                    walk(value)

    walk(section)
    return section


def test_the_example_validates(example):
    zookeeper = zk_model.EnsembleModel.from_pillar(_filled(example["zookeeper"]), heap_mb_default=512)
    cluster = kafka_model.ClusterModel.from_pillar(_filled(example["kafka"]), zookeeper_model=zookeeper)
    assert [b.minion_id for b in cluster.brokers] == ["kafka1", "kafka2", "kafka3"]
    assert cluster.version == example["kafka"]["version"]
    assert host_model.HostSettings.from_pillar(example) == host_model.HostSettings()

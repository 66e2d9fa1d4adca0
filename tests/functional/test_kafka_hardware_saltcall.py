"""The kafka_hardware grain and kafka.sizing through a real ``salt-call --local``, formula install.

``saltutil.sync_all`` copies ``_grains``, ``_modules`` and ``_utils/kafkasalt`` into the
minion's extension_modules; the loader modules then import the core from
``<extmods>/utils``. The repository is kept off ``sys.path`` so that path is what is tested.
"""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SALT_CALL = os.path.join(os.path.dirname(sys.executable), "salt-call")


@pytest.fixture(scope="module")
def salt_call(tmp_path_factory):
    base = tmp_path_factory.mktemp("saltcall")
    file_root = base / "srv" / "salt"
    pillar_root = base / "srv" / "pillar"
    (file_root / "_modules").mkdir(parents=True)
    pillar_root.mkdir(parents=True)
    os.symlink(os.path.join(REPO, "_grains"), file_root / "_grains")
    os.symlink(os.path.join(REPO, "_utils"), file_root / "_utils")
    os.symlink(os.path.join(REPO, "_modules", "kafka.py"), file_root / "_modules" / "kafka.py")
    (pillar_root / "top.sls").write_text("base:\n  '*':\n    - kafka\n")
    (pillar_root / "kafka.sls").write_text("kafka:\n  expected_partitions: 40000\n")
    config_dir = base / "conf"
    config_dir.mkdir()
    (config_dir / "minion").write_text(
        json.dumps(
            {
                "id": "hwcheck",
                "root_dir": str(base / "root"),  # keeps pki, cache and logs out of /etc and /var
                "file_client": "local",
                "file_roots": {"base": [str(file_root)]},
                "pillar_roots": {"base": [str(pillar_root)]},
            }
        )
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}

    def run(*args):
        completed = subprocess.run(
            [SALT_CALL, "--local", "-c", str(config_dir), "-l", "quiet", "--out=json", *args],
            cwd=str(base),  # not the repository: kafkasalt must come from extmods/utils
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return completed

    synced = run("saltutil.sync_all")
    assert synced.returncode == 0, synced.stderr
    assert "grains.kafka_hardware" in json.loads(synced.stdout)["local"]["grains"]
    extmods = base / "root" / "var" / "cache" / "salt" / "minion" / "extmods"
    assert (extmods / "utils" / "kafkasalt" / "ops" / "hardware.py").is_file()
    return run


def test_grain_through_the_loader(salt_call):
    completed = salt_call("grains.get", "kafka_hardware")
    assert completed.returncode == 0, completed.stderr
    facts = json.loads(completed.stdout)["local"]
    assert facts["cpu_logical_cores"] >= 1
    assert facts["mem_total_bytes"] > 0


def test_sizing_through_the_loader_reads_pillar(salt_call):
    completed = salt_call("kafka.sizing", "role=both")
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)["local"]
    assert result["expected_partitions"] == 40000  # from pillar, unmasked
    assert result["sysctl"]["vm.max_map_count"] == 320000
    assert result["limits"]["nofile"] == 490000
    assert result["zookeeper_heap_mb"]["value"] >= 256


def test_sizing_bad_role_is_a_clear_error(salt_call):
    completed = salt_call("kafka.sizing", "role=controller")
    assert completed.returncode != 0
    assert "role: expected one of broker, zookeeper, both" in completed.stdout + completed.stderr

"""Both ways users install a Salt extension expose the same functions.

Formula: the repository's loader dirs in file_roots, then ``saltutil.sync_all`` (the core rides
along as ``_utils/kafkasalt``). Pip: a wheel built from setup.cfg, installed into a private
directory; Salt finds it through the ``salt.loader`` entry point alone. Each runs in a fresh
process with the repository off ``sys.path``.
"""

import json
import os
import subprocess
import sys
import zipfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)

# Asks Salt's loaders (as a minion and as a master would) which functions this extension adds.
PROBE = r"""
import json, sys
import salt.config, salt.loader
minion = salt.config.minion_config(sys.argv[1])
grains = salt.loader.grains(minion)
utils = salt.loader.utils(minion)
funcs = salt.loader.minion_mods(minion, utils=utils)
states = salt.loader.states(minion, funcs, utils, {})
master = salt.config.master_config(sys.argv[2])
runners = salt.loader.runner(master, utils=salt.loader.utils(master))
pillars = salt.loader.pillars(master, funcs)
mine = ("kafka.", "zookeeper_ensemble.", "kafka_topic.", "kafka_user.", "kafka_acl.", "kafka_client.",
        "kafka_service.", "kafka_orchestrate.", "zookeeper_znode.")
print(json.dumps({
    "modules": sorted(f for f in funcs if f.startswith(mine)),
    "states": sorted(f for f in states if f.startswith(mine)),
    "runners": sorted(f for f in runners if f.startswith(mine)),
    "grains": sorted(k for k in grains if k == "kafka_hardware"),
    "ext_pillar": sorted(k for k in pillars if k.startswith("kafka_pki")),
}))
"""


# What `salt-run saltutil.sync_all` does on a master, without a running master.
MASTER_SYNC = r"""
import sys
import salt.config, salt.runner
opts = salt.config.master_config(sys.argv[1])
with salt.runner.RunnerClient(opts) as client:
    client.cmd("saltutil.sync_all", print_event=False)
"""


def _configs(base, extension_modules, file_roots=None):
    conf = base / "conf"
    conf.mkdir()
    roots = {"base": file_roots or [str(base / "empty")]}
    common = {"root_dir": str(base / "root"), "extension_modules": str(extension_modules), "file_roots": roots}
    (conf / "minion").write_text(json.dumps(dict(common, id="probe", file_client="local")))
    (conf / "master").write_text(json.dumps(common))
    (base / "empty").mkdir(exist_ok=True)
    (base / "root" / "var" / "cache" / "salt" / "master" / "proc").mkdir(parents=True, exist_ok=True)
    return conf


def _run(args, base, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(env_extra or {})
    proc = subprocess.run(args, cwd=str(base), env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def formula_functions(tmp_path_factory):
    base = tmp_path_factory.mktemp("formula")
    file_root = base / "srv"
    file_root.mkdir()
    for name in ("_modules", "_states", "_grains", "_runners", "_pillar", "_utils"):
        os.symlink(os.path.join(REPO, name), file_root / name)
    extmods = base / "root" / "extmods"
    conf = _configs(base, extmods, [str(file_root)])
    _run([os.path.join(BIN, "salt-call"), "--local", "-c", str(conf), "-l", "quiet", "saltutil.sync_all"], base)
    _run([sys.executable, "-c", MASTER_SYNC, str(conf / "master")], base)
    out = _run([sys.executable, "-c", PROBE, str(conf / "minion"), str(conf / "master")], base)
    return json.loads(out.splitlines()[-1])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    base = tmp_path_factory.mktemp("wheel")
    wheels = base / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), REPO], base)
    return next(wheels.glob("salt_kafka-*.whl"))


@pytest.fixture(scope="module")
def pip_functions(tmp_path_factory, wheel):
    base = tmp_path_factory.mktemp("pip")
    site = base / "site"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)], base)
    conf = _configs(base, base / "root" / "extmods")
    out = _run([sys.executable, "-c", PROBE, str(conf / "minion"), str(conf / "master")], base, {"PYTHONPATH": str(site)})
    return json.loads(out.splitlines()[-1])


def test_formula_install_loads_every_loader_type(formula_functions):
    assert "kafka.list_topics" in formula_functions["modules"]
    assert "zookeeper_ensemble.health" in formula_functions["modules"]
    assert "kafka_topic.present" in formula_functions["states"]
    assert "kafka.rolling_restart" in formula_functions["runners"]
    assert formula_functions["grains"] == ["kafka_hardware"]
    assert formula_functions["ext_pillar"] == ["kafka_pki"]


def test_pip_install_loads_the_same_functions(formula_functions, pip_functions):
    assert pip_functions == formula_functions


def test_the_wheel_carries_the_core_data_files(wheel):
    """Data the core reads at run time (Kafka's topic-config table) is package data."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "kafkasalt/data/kafka/topic_configs_3.9.yml" in names


def test_every_core_package_is_listed_for_the_wheel():
    # setup.cfg lists packages one by one: a new core package left out installs from a
    # checkout but is missing from `pip install .`.
    import configparser
    import pathlib

    repo = pathlib.Path(__file__).resolve().parents[2]
    cfg = configparser.ConfigParser()
    cfg.read(repo / "setup.cfg")
    listed = {line.strip() for line in cfg["options"]["packages"].splitlines() if line.strip()}
    found = {".".join(p.parent.relative_to(repo).parts) for p in (repo / "kafkasalt").rglob("__init__.py")}
    assert found - listed == set()

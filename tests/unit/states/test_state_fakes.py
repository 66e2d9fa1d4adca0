"""The state tests' fakes take the same parameters as what they stand in for."""

import ast
import inspect
from pathlib import Path

import pytest

from kafkasalt import saltglue
from kafkasalt.ops import service
from tests.unit.states.state_fakes import FakeCluster, FakeSaltglue, FakeService

ROOT = Path(__file__).resolve().parents[3]


def _module_signatures(path):
    """``{function: [(parameter, default or inspect.Parameter.empty)]}`` of a loader module, by ast."""
    tree = ast.parse(path.read_text())
    signatures = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            args = node.args.args
            defaults = [inspect.Parameter.empty] * (len(args) - len(node.args.defaults)) + \
                [ast.literal_eval(d) for d in node.args.defaults]
            signatures[node.name] = list(zip((a.arg for a in args), defaults))
    return signatures


def _signature(func):
    return [(p.name, p.default) for p in inspect.signature(func).parameters.values() if p.name != "self"]


EXECUTION_MODULES = {ns: _module_signatures(ROOT / "_modules" / f"{ns}.py") for ns in ("kafka", "zookeeper_ensemble")}


@pytest.mark.parametrize("name", sorted(n for n in FakeCluster().salt_functions() if not n.startswith("saltutil.")))
def test_fake_execution_functions_match_the_modules(name):
    namespace, function = name.split(".")
    assert function in EXECUTION_MODULES[namespace], f"{name} is not in _modules/{namespace}.py"
    fake = FakeCluster().salt_functions()[name]
    assert _signature(fake) == EXECUTION_MODULES[namespace][function]


@pytest.mark.parametrize("method", ["registered", "running", "register", "start", "wait_running", "main_pid"])
def test_fake_service_matches_the_service(method):
    assert _signature(getattr(FakeService, method)) == _signature(getattr(service.Service, method))
    assert _signature(FakeService)[1:] == _signature(service.Service)  # after the fake's cluster


def test_fake_saltglue_runner_matches_saltglue():
    assert _signature(FakeSaltglue.runner) == _signature(saltglue.runner)

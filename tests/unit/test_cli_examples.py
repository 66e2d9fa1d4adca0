"""The CLI examples in the docs name functions and SLS files that exist.

Every ``salt … NS.FUN``, ``salt-call NS.FUN`` and ``salt-run NS.FUN`` in the docstrings of the
Salt loader modules (``_modules``, ``_runners``, ``_states``) and in README.md must name a
function of the execution or runner module whose ``__virtualname__`` is ``NS`` (as Salt exposes
it: public, renamed by ``__func_alias__``), and every ``state.orchestrate`` / ``state.apply`` SLS
must be a file under ``salt/``. The modules are read with ``ast``, never imported. Salt CLI
examples live in the Salt modules only, not in the ``kafkasalt`` core.
"""

import ast
import time
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOADER_DIRS = {"module": ROOT / "_modules", "runner": ROOT / "_runners", "state": ROOT / "_states"}
SLS_ROOT = ROOT / "salt"

# A salt command up to the end of its inline-code span or line.
INVOCATION = re.compile(r"(?<![\w/.-])(?P<tool>salt-run|salt-call|salt)[ \t]+(?P<rest>[^`\n]*)")
FUNCTION = re.compile(r"^(?P<ns>[a-z_][a-z0-9_]*)\.(?P<fun>[a-z_][a-z0-9_]*)$")
# Options of salt / salt-run / salt-call that take their value as the next word.
VALUE_OPTIONS = {"-t", "--timeout", "-c", "--config-dir", "--out", "--output", "--out-file", "--out-indent",
                 "-b", "--batch", "--batch-size", "--batch-wait", "--return", "-l", "--log-level",
                 "--saltenv", "--pillarenv"}
SLS_FUNCTIONS = {"salt-run": {"state.orchestrate", "state.orch", "state.sls"},
                 "salt": {"state.apply", "state.sls"}, "salt-call": {"state.apply", "state.sls"}}
TOOL_KIND = {"salt": "module", "salt-call": "module", "salt-run": "runner"}



def _parse(path):
    """``ast.parse``, retried on CPython 3.11's "AST constructor recursion depth mismatch".

    CPython 3.11 keeps the AST-to-object conversion's recursion depth in interpreter state,
    not per thread (see gh-106905), so a thread left by an earlier test that parses meanwhile
    (3.11's tracebacks parse source lines for their carets) can make a correct parse raise
    ``SystemError``. Seen twice at the end of the full suite, also from a fresh thread."""
    source = path.read_text()
    for attempt in range(5):
        try:
            return ast.parse(source, filename=str(path))
        except SystemError as exc:
            if "recursion depth mismatch" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.05)


def _module_info(path):
    """``(virtualname, {exposed name: FunctionDef})`` of one loader module, read with ast."""
    tree = _parse(path)
    virtualname, aliases = path.stem, {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id == "__virtualname__":
                virtualname = ast.literal_eval(node.value)
            elif node.targets[0].id == "__func_alias__":
                aliases = ast.literal_eval(node.value)
    functions = {aliases.get(node.name, node.name): node for node in tree.body
                 if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")}
    return virtualname, functions, tree


def _loader_modules():
    """``{kind: {virtualname: {function name: FunctionDef}}}`` and every module's ast."""
    exposed, trees = {}, {}
    for kind, directory in LOADER_DIRS.items():
        exposed[kind] = {}
        for path in sorted(directory.glob("*.py")):
            virtualname, functions, tree = _module_info(path)
            exposed[kind].setdefault(virtualname, {}).update(functions)
            trees[path] = tree
    return exposed, trees


EXPOSED, TREES = _loader_modules()


def _docstrings(tree):
    """``(name, docstring)`` of a module and every class and function in it."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                yield getattr(node, "name", "<module>"), doc


def _words(rest):
    try:
        lexer = shlex.shlex(rest, posix=True, punctuation_chars=False)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        return list(lexer)
    except ValueError:  # an unbalanced quote in prose: fall back to plain words
        return rest.split("#", 1)[0].split()


def _positional(words):
    positional, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in VALUE_OPTIONS:
            skip = True
        elif not word.startswith("-"):
            positional.append(word)
    return positional


def invocations(text):
    """``(tool, function, sls names)`` of every salt command in ``text`` that names a function."""
    found = []
    for match in INVOCATION.finditer(text):
        tool = match["tool"]
        positional = _positional(_words(match["rest"]))
        if tool == "salt":
            positional = positional[1:]  # the target
        if not positional:
            continue
        function = positional[0].rstrip(".,;:)")
        if not FUNCTION.match(function):
            continue
        sls = []
        if function in SLS_FUNCTIONS[tool]:
            args = [a for a in positional[1:] if "=" not in a]
            sls = [name for name in args[0].rstrip(".,;:)").split(",") if name] if args else []
        found.append((tool, function, sls))
    return found


def _readme_mentions(line):
    """Invocations on a README line, plus the bare ``NS.NAME`` spans after the first one, read
    like it: ``salt-run kafka.plan`` / ``zookeeper_ensemble.plan`` names a second runner,
    ``salt-run state.orchestrate kafka.deploy`` (includes ``zookeeper.deploy``) a second SLS."""
    found = invocations(line)
    if found:
        tool, function, sls = found[0]
        first = INVOCATION.search(line).end()
        for span in re.findall(r"`([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)`", line[first:]):
            found.append((tool, function, [span]) if sls else (tool, span, []))
    return found


def _sources():
    """``(where, text)`` of everything whose CLI examples are checked."""
    for path, tree in TREES.items():
        for name, doc in _docstrings(tree):
            yield f"{path.relative_to(ROOT)}:{name}", doc
    for number, line in enumerate((ROOT / "README.md").read_text().splitlines(), 1):
        yield f"README.md:{number}", line


def _all_mentions():
    mentions = []
    for where, text in _sources():
        finder = _readme_mentions if where.startswith("README.md") else invocations
        mentions.extend((where, *found) for found in finder(text))
    return mentions


MENTIONS = _all_mentions()


def _sls_exists(name):
    path = SLS_ROOT.joinpath(*name.split("."))
    return path.with_suffix(".sls").is_file() or (path / "init.sls").is_file()


def test_the_examples_are_found():
    # The parser must see the examples at all, or every check below passes vacuously.
    tools = {tool for _, tool, _, _ in MENTIONS}
    assert {"salt", "salt-run"} <= tools
    assert len(MENTIONS) > 100
    assert any(sls == ["kafka.deploy"] for *_, sls in MENTIONS)
    # The README's "validate the pillar" row, wherever it stands in the file.
    assert any(where.startswith("README.md:") and (tool, fun, sls) == ("salt-run", "zookeeper_ensemble.plan", [])
               for where, tool, fun, sls in MENTIONS)


def test_readme_spans_read_like_the_command_before_them():
    assert _readme_mentions("| `salt-run kafka.plan` / `zookeeper_ensemble.plan` | validate |") == \
        [("salt-run", "kafka.plan", []), ("salt-run", "zookeeper_ensemble.plan", [])]
    assert _readme_mentions("| `salt-run state.orchestrate kafka.deploy` | all (includes `zookeeper.deploy`) |") == \
        [("salt-run", "state.orchestrate", ["kafka.deploy"]), ("salt-run", "state.orchestrate", ["zookeeper.deploy"])]


def test_invocation_parser():
    assert invocations("salt -G 'role:kafka' --out=yaml -t 30 kafka.health") == [("salt", "kafka.health", [])]
    assert invocations("bin/lab salt-run state.orchestrate kafka.deploy test=True  # plan") == \
        [("salt-run", "state.orchestrate", ["kafka.deploy"])]
    assert invocations("salt zk1 state.apply zookeeper.tls,zookeeper.config") == \
        [("salt", "state.apply", ["zookeeper.tls", "zookeeper.config"])]
    assert invocations("every call writes a fresh salt (use kafkasalt.kafka.zk_users)") == []
    assert invocations("``salt TGT FUN ARG...`` from the master") == []


def test_every_cli_example_names_an_existing_function():
    missing = []
    for where, tool, function, _ in MENTIONS:
        namespace, name = function.split(".")
        functions = EXPOSED[TOOL_KIND[tool]].get(namespace)
        if functions is not None and name not in functions:
            missing.append(f"{where}: {tool} {function}")
    assert not missing, "CLI examples naming functions that do not exist:\n" + "\n".join(missing)


def test_every_sls_in_a_cli_example_exists():
    missing = [f"{where}: {tool} {function} {name}" for where, tool, function, sls in MENTIONS
               for name in sls if not _sls_exists(name)]
    assert not missing, f"SLS named by CLI examples but missing under {SLS_ROOT}:\n" + "\n".join(missing)


@pytest.mark.parametrize("kind", ["module", "runner"])
def test_every_public_function_has_a_cli_example_of_itself(kind):
    tool = {"module": "salt", "runner": "salt-run"}[kind]
    problems = []
    for namespace, functions in sorted(EXPOSED[kind].items()):
        for name, node in sorted(functions.items()):
            doc = ast.get_docstring(node) or ""
            if "CLI Example:" not in doc:
                problems.append(f"{namespace}.{name}: no 'CLI Example:' in its docstring")
            elif (tool, f"{namespace}.{name}") not in {(t, f) for t, f, _ in invocations(doc.split("CLI Example:", 1)[1])}:
                problems.append(f"{namespace}.{name}: its CLI Example does not show `{tool} … {namespace}.{name}`")
    assert not problems, "\n".join(problems)


def test_state_examples_name_existing_state_functions():
    # The YAML examples in the state modules' docstrings (``kafka_topic.present:``).
    missing = []
    for path, tree in TREES.items():
        if path.parent != LOADER_DIRS["state"]:
            continue
        for name, doc in _docstrings(tree):
            for namespace, fun in re.findall(r"^\s*([a-z_]+)\.([a-z_]+):?\s*$", doc, flags=re.M):
                functions = EXPOSED["state"].get(namespace)
                if functions is not None and fun not in functions:
                    missing.append(f"{path.relative_to(ROOT)}:{name}: {namespace}.{fun}")
    assert not missing, "\n".join(missing)


def test_the_core_carries_no_salt_cli_examples():
    # Salt CLI examples belong to the Salt modules; the kafkasalt core documents Python.
    found = []
    for path in sorted((ROOT / "kafkasalt").rglob("*.py")):
        tree = _parse(path)
        for name, doc in _docstrings(tree):
            if "CLI Example" in doc:
                found.append(f"{path.relative_to(ROOT)}:{name}: 'CLI Example'")
            found.extend(f"{path.relative_to(ROOT)}:{name}: {tool} {function}" for tool, function, _ in invocations(doc))
    assert not found, "Salt CLI examples in kafkasalt docstrings:\n" + "\n".join(found)

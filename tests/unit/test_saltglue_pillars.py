"""Compiled pillars are shared by the runner calls of one process while the pillar files hold."""

import os

from kafkasalt import saltglue


def _opts(root):
    return {"conf_file": str(root / "master"), "pillar_roots": {"base": [str(root / "pillar")]}}


def test_compiled_once_while_the_files_hold_then_again_when_one_changes(tmp_path, monkeypatch):
    monkeypatch.setattr(saltglue, "_pillar_memo", {})
    (tmp_path / "pillar").mkdir()
    top = tmp_path / "pillar" / "top.sls"
    top.write_text("base: {'*': [kafka]}\n")
    calls = []
    salt = {"pillar.show_pillar": lambda m: calls.append(m) or {"kafka": {"id": m}}}
    t = [0.0]
    first = saltglue.compiled_pillars(_opts(tmp_path), salt, ["b", "a"], clock=lambda: t[0])
    first["a"]["kafka"]["id"] = "mutated"  # a caller's change never reaches the next caller
    again = saltglue.compiled_pillars(_opts(tmp_path), salt, ["a", "b"], clock=lambda: t[0])
    assert calls == ["a", "b"] and again["a"]["kafka"]["id"] == "a"
    top.write_text("base: {'*': [kafka, zookeeper]}\n")
    os.utime(top, ns=(1, 10**18))
    saltglue.compiled_pillars(_opts(tmp_path), salt, ["a", "b"], clock=lambda: t[0])
    assert calls == ["a", "b", "a", "b"]
    t[0] = saltglue.PILLAR_TTL + 1  # and never older than the TTL
    saltglue.compiled_pillars(_opts(tmp_path), salt, ["a", "b"], clock=lambda: t[0])
    assert len(calls) == 6


def test_stand_in_opts_compile_every_time(monkeypatch):
    monkeypatch.setattr(saltglue, "_pillar_memo", {})
    calls = []
    salt = {"pillar.show_pillar": lambda m: calls.append(m) or {}}
    saltglue.compiled_pillars({"id": "master"}, salt, ["a"])
    saltglue.compiled_pillars({"id": "master"}, salt, ["a"])
    assert calls == ["a", "a"]

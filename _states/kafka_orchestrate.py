"""Orchestration steps backed by this extension's runners, with honest ``changes``.

Salt's ``salt.runner`` state reports every runner return as a change, so an idempotent
re-run of ``kafka.deploy`` would look busy. Runners of this extension return
``{"result", "changes", "comment"}``; this state passes exactly that through, and under
``test=True`` asks runners that can plan (``plans: True``) for their plan instead of acting.
"""

try:
    from kafkasalt import saltglue

    HAS_CORE = True
except ImportError:
    HAS_CORE = False

__virtualname__ = "kafka_orchestrate"


def __virtual__():
    if "saltutil.runner" not in __salt__:
        return (False, "kafka_orchestrate: runs on the master (state.orchestrate) only")
    if not HAS_CORE:
        return (False, "kafka_orchestrate: the kafkasalt core package cannot be imported; "
                       "install the extension with pip or run `salt-run saltutil.sync_all`")
    return __virtualname__


def runner(name, plans=False, **kwargs):
    """
    Run runner function ``name`` (e.g. ``zookeeper_ensemble.roll``) as an orchestration step.

    plans
        The runner accepts ``test=True`` and then only reports what it would do.

    .. code-block:: yaml

        zookeeper-roll:
          kafka_orchestrate.runner:
            - name: zookeeper_ensemble.roll
            - plans: True
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    arguments = {k: v for k, v in kwargs.items() if not k.startswith("__")}
    if __opts__["test"]:
        if not plans:
            ret.update(result=None, comment=f"{name} would run")
            return ret
        arguments["test"] = True
    # Not saltutil.runner: it leaves a RunnerClient and a MasterMinion open per call.
    out = saltglue.runner(__opts__, name, kwarg=arguments)
    if not isinstance(out, dict):
        ret.update(result=False, comment=f"{name} returned {out!r}")
        return ret
    if out.get("Error") or out.get("result") is False:
        details = {k: v for k, v in out.items() if k not in ("Error", "result", "comment")}
        ret.update(result=False, comment=f"{name}: {out.get('Error') or out.get('comment')}", changes={})
        if details:
            ret["comment"] += f" | details: {details}"
        return ret
    ret["changes"] = out.get("changes") or {}
    ret["comment"] = out.get("comment") or f"{name} done"
    if __opts__["test"] and ret["changes"]:
        ret["result"] = None
    return ret

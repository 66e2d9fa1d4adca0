"""Plumbing shared by the extension's runners and its orchestration state: minion calls, runner
calls, progress events, targeting.

The only core module that talks to Salt; it imports Salt inside each function, so the rest of
the core (and its unit tests) never needs Salt. (Salt does not load ``utils`` modules from
pip-installed extensions, so this cannot live in ``_utils``.)
"""

import logging

log = logging.getLogger(__name__)


# Compiled pillars, per process: an orchestration runs every step's runner in one process, and
# each step compiled every minion's pillar again (about 0.15 s a minion here). An entry holds
# while the pillar files are unchanged (their names, sizes and mtimes) and for PILLAR_TTL at
# most, so a long-lived process never serves a pillar older than that.
PILLAR_TTL = 60.0
_pillar_memo = {}


def _pillar_signature(opts):
    import os

    entries = []
    for roots in (opts.get("pillar_roots") or {}).values():
        for root in roots or []:
            for directory, _, files in os.walk(root):
                for name in files:
                    path = os.path.join(directory, name)
                    try:
                        st = os.stat(path)
                    except OSError:
                        continue
                    entries.append((path, st.st_size, st.st_mtime_ns))
    return hash((tuple(sorted(entries)), repr(opts.get("ext_pillar"))))


def compiled_pillars(opts, salt_functions, minions, clock=None):
    """``{minion: pillar}`` as the master compiles it (``pillar.show_pillar``), once per process
    while the pillar files are unchanged (see ``PILLAR_TTL``)."""
    import os
    import time

    import copy

    def compile_all():
        return {minion: salt_functions["pillar.show_pillar"](minion) for minion in sorted(minions)}

    if not opts.get("conf_file"):  # not a master's own opts (a test's stand-in): nothing to share
        return compile_all()
    now = (clock or time.monotonic)()
    key = (os.getpid(), opts["conf_file"], tuple(sorted(minions)))
    signature = _pillar_signature(opts)
    hit = _pillar_memo.get(key)
    if hit is not None and hit[0] == signature and now - hit[1] < PILLAR_TTL:
        return copy.deepcopy(hit[2])
    pillars = compile_all()
    _pillar_memo[key] = (signature, now, pillars)
    return copy.deepcopy(pillars)


def cmd(opts, tgt, fun, arg=(), tgt_type="glob", timeout=60, kwarg=None):
    """``salt TGT FUN ARG... KEY=VALUE...`` from the master; returns ``{minion: return}``."""
    import salt.client

    with salt.client.LocalClient(mopts=opts) as client:
        return client.cmd(tgt, fun, arg=list(arg), tgt_type=tgt_type, timeout=timeout, kwarg=kwarg)


def runner(opts, name, kwarg=None):
    """``salt-run NAME KEY=VALUE...`` from code already running on the master (an orchestration
    step); returns what the runner returns.

    ``saltutil.runner`` does the same but leaves its ``RunnerClient`` (an event bus connection)
    and the ``MasterMinion`` that client builds for each call to the garbage collector, which
    logs "unclosed RunnerClient" / "unclosed MasterMinion" for every step (Salt 3008.3). Here
    both are torn down when the call returns.
    """
    import os

    import salt.config
    import salt.runner

    if "master_job_cache" not in opts:  # minion-flavoured opts: read the master's own, as saltutil does
        opts = salt.config.master_config(os.path.join(os.path.dirname(opts["conf_file"]), "master"))
    with salt.runner.RunnerClient(opts) as client:
        try:
            return client.cmd(name, kwarg=dict(kwarg or {}), print_event=False, full_return=False)
        finally:
            _destroy_master_minion(client)


def _destroy_master_minion(client):
    # RunnerClient.destroy() does not tear down the MasterMinion its mixin creates lazily, and a
    # destroyed MasterMinion still warns when collected unless its loaders are None: both fixed
    # upstream by saltstack/salt#70177 (open for 3008.x), done here until then.
    mminion = client.__dict__.pop("_mminion", None)
    if mminion is None:
        return
    mminion.destroy()
    mminion.returners = mminion.functions = mminion.utils = None


def fire(opts, tag, data):
    """Fire a progress event on the master bus (best effort: the runner's return is authoritative)."""
    import salt.utils.event

    try:
        with salt.utils.event.get_master_event(opts, opts["sock_dir"], listen=False) as event:
            event.fire_event(data, tag)
    except Exception as exc:  # noqa: BLE001 - an event bus hiccup must not fail an operation
        log.debug("could not fire %s: %s", tag, exc)


def targeted_minions(opts, tgt, tgt_type):
    """Accepted minions matching the target, without contacting them."""
    import salt.utils.minions

    return sorted(salt.utils.minions.CkMinions(opts).check_minions(tgt, tgt_type)["minions"])


def fail(context, message, **details):
    """A runner's failure return: ``retcode`` 1 (so orchestration sees a failure) plus the reason."""
    context["retcode"] = 1
    return {"Error": message, "result": False, **details}

"""Plumbing shared by the extension's runners: minion calls, progress events, targeting.

The only core module that talks to Salt; it imports Salt inside each function, so the rest of
the core (and its unit tests) never needs Salt. (Salt does not load ``utils`` modules from
pip-installed extensions, so this cannot live in ``_utils``.)
"""

import logging

log = logging.getLogger(__name__)


def cmd(opts, tgt, fun, arg=(), tgt_type="glob", timeout=60, kwarg=None):
    """``salt TGT FUN ARG... KEY=VALUE...`` from the master; returns ``{minion: return}``."""
    import salt.client

    with salt.client.LocalClient(mopts=opts) as client:
        return client.cmd(tgt, fun, arg=list(arg), tgt_type=tgt_type, timeout=timeout, kwarg=kwarg)


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

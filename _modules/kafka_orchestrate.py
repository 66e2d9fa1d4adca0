"""Execution module ``kafka_orchestrate``: what orchestration SLS files call while they render.

``salt/kafka/deploy.sls`` and ``salt/zookeeper/deploy.sls`` ask a planning runner for the plan
at render time. Salt's ``saltutil.runner`` leaves a ``RunnerClient`` and a ``MasterMinion``
open on every call (logged as "unclosed ..." warnings, Salt 3008.3); this wrapper goes through
:func:`kafkasalt.saltglue.runner`, which closes both.
"""

try:
    from kafkasalt import saltglue

    HAS_CORE = True
except ImportError:
    HAS_CORE = False

__virtualname__ = "kafka_orchestrate"


def __virtual__():
    if not HAS_CORE:
        return (False, "kafka_orchestrate: the kafkasalt core package cannot be imported; "
                       "install the extension with pip or run `salt-run saltutil.sync_all`")
    return __virtualname__


def runner(name, **kwargs):
    """
    Run runner function ``name`` on the master and return what it returns (for orchestration
    Jinja: ``{% set plan = salt['kafka_orchestrate.runner']('kafka.plan') %}``).

    CLI Example:

    .. code-block:: bash

        salt saltmaster kafka_orchestrate.runner kafka.plan   # a minion on the master host
    """
    return saltglue.runner(__opts__, name, kwarg={k: v for k, v in kwargs.items() if not k.startswith("__")})

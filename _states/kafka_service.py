"""Keep the ZooKeeper or Kafka service running under systemd or supervisord — never restart it.

Restarts are the orchestration's job (one member or broker at a time, gated on health); a state
that restarted on every config change would take a whole ensemble or cluster down at once.
"""

try:
    from kafkasalt.ops import service

    HAS_CORE = True
except ImportError:
    HAS_CORE = False

__virtualname__ = "kafka_service"


def __virtual__():
    if not HAS_CORE:
        return (False, "kafka_service: the kafkasalt core package cannot be imported; "
                       "install the extension with pip or run saltutil.sync_all")
    return __virtualname__


def running(name, manager="systemd"):
    """
    Ensure the service is known to its manager and running. A running service is left alone
    even when its configuration changed (see ``zookeeper_ensemble.restart_pending``).

    name
        Service (systemd unit or supervisord program) name, e.g. ``zookeeper``.
    manager
        ``systemd`` (default) or ``supervisord``.

    .. code-block:: yaml

        zookeeper-service:
          kafka_service.running:
            - name: zookeeper
            - manager: supervisord
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        svc = service.Service(name, manager)
        registered = svc.registered()
        running_now = registered and svc.running()
    except (ValueError, service.ServiceError) as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    if running_now:
        ret["comment"] = f"{name} is running"
        return ret
    planned = {}
    if not registered:
        planned["registered"] = manager
    planned["started"] = True
    if __opts__["test"]:
        ret.update(result=None, changes=planned, comment=f"{name} would be " + ("registered and " if not registered else "") + "started")
        return ret
    try:
        if not registered:
            svc.register()
        if not svc.running():
            svc.start()
        if not svc.wait_running(timeout=30):
            raise service.ServiceError(f"{name} did not stay running after start")
    except service.ServiceError as exc:
        ret.update(result=False, comment=str(exc), changes={k: v for k, v in planned.items() if k == "registered"})
        return ret
    # The pid goes to the comment: changes are what test=True announced, nothing more.
    ret.update(changes=planned, comment=f"{name} started (pid {svc.main_pid()})")
    return ret


def tls_loaded(name):
    """
    Ensure the running broker serves the certificate and trusts the CA its TLS files hold: a
    renewed key store or a changed trust store is reloaded live (``kafka.reload_tls``), never by
    a restart. A broker that does not run, or has no TLS listener, has nothing to load.

    name
        The broker's service name (for the comment).

    .. code-block:: yaml

        kafka-tls-loaded:
          kafka_service.tls_loaded:
            - name: kafka
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        status = __salt__["kafka.tls_status"]()
    except Exception as exc:  # pylint: disable=broad-except
        ret.update(result=False, comment=f"cannot read the TLS state of {name}: {exc}")
        return ret
    if not status["running"] or not status["tls_listeners"]:
        ret["comment"] = f"{name} " + ("does not run" if not status["running"] else "has no TLS listener")
        return ret
    stale = [what for what in ("keystore", "truststore") if not status[f"{what}_loaded"]]
    if not stale:
        ret["comment"] = f"{name} serves and trusts what its TLS files hold"
        return ret
    planned = {"reloaded": sorted(stale)}
    if __opts__["test"]:
        ret.update(result=None, changes=planned, comment=f"{name} would reload its {' and '.join(stale)} live")
        return ret
    try:
        __salt__["kafka.reload_tls"]()
    except Exception as exc:  # pylint: disable=broad-except
        ret.update(result=False, comment=f"{name} could not reload its TLS stores: {exc}")
        return ret
    ret.update(changes=planned, comment=f"{name} reloaded its {' and '.join(stale)} without a restart")
    return ret

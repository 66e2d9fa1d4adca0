"""Switching quorum TLS on for a running ensemble."""

from __future__ import annotations

from kafkasalt.common.errors import PillarError
from kafkasalt.zookeeper.model import EnsembleModel, _key

def quorum_tls_phases(deployed: dict, model: EnsembleModel) -> list:
    """The intermediate rolls that switch quorum TLS on for a running ensemble.

    A member with ``sslQuorum=true`` cannot talk to one without it, so a plain rolling restart
    would split the ensemble. ZooKeeper's way (its admin guide, "upgrading an existing non-TLS
    cluster"): roll with ``portUnification=true`` (quorum ports accept both) keeping the old
    ``sslQuorum``, roll again with the new ``sslQuorum``, and finally roll without port
    unification -- that last roll is the ordinary converge-and-roll of ``zookeeper.deploy``.

    ``deployed`` is ``{minion_id: {"ssl_quorum": bool, "port_unification": bool} | None}`` read
    from the members' zoo.cfg files (None: not deployed yet). Returns the transitions still to
    roll, each ``{"ssl_quorum": bool}`` for :func:`kafkasalt.zookeeper.render.render_zoo_cfg`;
    ``[]`` when none is needed (bare hosts, nothing to switch, or only the final roll left). A
    half-done switch resumes at the phase it reached. Switching quorum TLS off is refused: the
    brokers would lose their TLS ZooKeeper port before they moved off it.
    """
    wanted = model.tls.enabled
    running = {mid: d for mid, d in deployed.items() if isinstance(d, dict) and model.is_member(mid)}
    if not running:
        return []
    plaintext_only = sorted(mid for mid, d in running.items() if not d.get("secure_client_port"))
    if plaintext_only and model.tls.enabled and not model.tls.plaintext_clients:
        raise PillarError(
            _key("tls", "plaintext_clients"),
            f"{', '.join(plaintext_only)} serve plaintext clients only: closing that port together with switching "
            "TLS on would cut off the brokers still using it; switch TLS on with plaintext_clients: true, run "
            "kafka.deploy so brokers move to the TLS port, then close the plaintext port",
        )
    if all(d.get("ssl_quorum") == wanted for d in running.values()):
        return []
    if not wanted:
        raise PillarError(
            _key("tls", "enabled"),
            "switching TLS off on a running ensemble is not supported: brokers and clients on the TLS port "
            "would lose ZooKeeper before they could move; keep zookeeper:tls:enabled: true",
        )
    if all(d.get("port_unification") for d in running.values()):
        return [{"ssl_quorum": wanted}]
    return [{"ssl_quorum": not wanted}, {"ssl_quorum": wanted}]


__all__ = ["quorum_tls_phases"]

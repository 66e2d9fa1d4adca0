"""What a member says about itself (replies to the ``srvr`` and ``mntr`` four-letter words), the
ensemble's health from those replies, and the order of a rolling restart."""

from __future__ import annotations

import re

from kafkasalt.zookeeper.model import EnsembleModel

NOT_SERVING_TEXT = "This ZooKeeper instance is not currently serving requests"
SERVING_MODES = ("leader", "follower", "standalone", "observer")


class StatusParseError(ValueError):
    """A four-letter-word reply that is neither the expected output nor a known refusal."""


def _number(text: str):
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


def _split_version(text: str) -> dict:
    # "3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12 22:16 UTC"
    full = text.strip()
    version = re.match(r"[0-9][0-9.]*[0-9]", full)
    return {"version": version.group(0) if version else full, "version_full": full}


def parse_srvr(text: str) -> dict:
    """Parse a ``srvr`` reply.

    Returns ``{"serving": False, "mode": None}`` when the member answers but is not serving
    (no quorum / election running). Otherwise: ``serving``, ``mode``, ``version``,
    ``version_full``, ``latency_min``, ``latency_avg``, ``latency_max``, ``received``, ``sent``,
    ``connections``, ``outstanding``, ``zxid`` (int), ``zxid_epoch``, ``zxid_counter``,
    ``node_count`` and, on a leader, ``proposal_sizes`` (last, min, max).
    """
    if not isinstance(text, str) or not text.strip():
        raise StatusParseError("empty srvr reply")
    if NOT_SERVING_TEXT in text:
        return {"serving": False, "mode": None}
    result = {}
    for raw in text.splitlines():
        name, sep, value = raw.partition(":")
        if not sep:
            continue
        name, value = name.strip(), value.strip()
        if name == "Zookeeper version":
            result.update(_split_version(value))
        elif name == "Latency min/avg/max":
            parts = value.split("/")
            if len(parts) == 3:
                result["latency_min"], result["latency_avg"], result["latency_max"] = (
                    _number(p) for p in parts
                )
        elif name in ("Received", "Sent", "Connections", "Outstanding", "Node count"):
            result[name.lower().replace(" ", "_")] = _number(value)
        elif name == "Zxid":
            zxid = int(value, 16) if value.lower().startswith("0x") else int(value)
            result.update(zxid=zxid, zxid_epoch=zxid >> 32, zxid_counter=zxid & 0xFFFFFFFF)
        elif name == "Mode":
            result["mode"] = value
        elif name == "Proposal sizes last/min/max":
            result["proposal_sizes"] = tuple(_number(p) for p in value.split("/"))
    if "mode" not in result:
        raise StatusParseError(f"not a srvr reply: {text.strip()[:120]!r}")
    result["serving"] = result["mode"] in SERVING_MODES
    return result


def parse_mntr(text: str) -> dict:
    """Parse a ``mntr`` reply into ``{key: int | float | str}`` (keys keep their ``zk_`` prefix).

    A leader adds ``zk_followers``, ``zk_synced_followers``, ``zk_pending_syncs``... Returns
    ``{"serving": False}`` when the member is not serving.
    """
    if not isinstance(text, str) or not text.strip():
        raise StatusParseError("empty mntr reply")
    if NOT_SERVING_TEXT in text:
        return {"serving": False}
    result = {}
    for raw in text.splitlines():
        if not raw.strip():
            continue
        name, sep, value = raw.partition("\t")
        if not sep or not name.startswith("zk_"):
            raise StatusParseError(f"not a mntr line: {raw[:120]!r}")
        name = name.strip()
        if name in ("zk_version", "zk_server_state"):
            result[name] = value.strip()
        else:
            result[name] = _number(value)
    if "zk_server_state" not in result:
        raise StatusParseError("mntr reply without zk_server_state")
    result["serving"] = result["zk_server_state"] in SERVING_MODES
    return result


# ---------------------------------------------------------------------------------------------
# Ensemble health and roll order
# ---------------------------------------------------------------------------------------------


def _normalize_status(status):
    """One member's status as ``(mode or None, serving, error text, synced_followers)``.

    Accepts None (unreachable), an exception or a string (error), or a dict from
    :func:`parse_srvr`, :func:`parse_mntr`, both merged (``{**srvr, **mntr}``) or srvr with the
    mntr dict nested under ``"mntr"``; ``{"error": ...}`` marks a member that did not answer.
    """
    if status is None:
        return None, False, "unreachable", None
    if isinstance(status, BaseException):
        return None, False, f"{type(status).__name__}: {status}", None
    if isinstance(status, str):
        return None, False, status, None
    if not isinstance(status, dict):
        return None, False, f"unexpected status {type(status).__name__}", None
    if status.get("error"):
        return None, False, str(status["error"]), None
    if isinstance(status.get("mntr"), dict):
        status = {**status["mntr"], **{k: v for k, v in status.items() if k != "mntr"}}
    mode = status.get("mode") or status.get("zk_server_state")
    serving = mode in SERVING_MODES and status.get("serving", True) is not False
    error = None if serving else "running but not serving (no quorum or election in progress)"
    return (mode if serving else None), serving, error, status.get("zk_synced_followers")


def ensemble_health(model: EnsembleModel, statuses: dict) -> dict:
    """Judge the ensemble from per-member statuses (``{minion_id: status}``).

    Verdicts: ``healthy`` (every member serving, exactly one leader whose mntr reports
    ``members - 1`` synced followers), ``degraded`` (serving with a quorum but something is
    missing), ``down`` (fewer than ``quorum_size`` members serving, or two leaders).
    A member absent from ``statuses`` counts as down.
    """
    reasons = []
    serving, down, leaders, modes = [], [], [], {}
    synced = None
    for member in model.members:
        mode, is_serving, error, synced_followers = _normalize_status(statuses.get(member.minion_id))
        if member.minion_id not in statuses:
            error = "no status collected"
        if not is_serving:
            down.append(member.minion_id)
            reasons.append(f"{member.minion_id} is down: {error}")
            continue
        serving.append(member.minion_id)
        modes[member.minion_id] = mode
        single = model.size == 1
        if mode == "leader" or (mode == "standalone" and single):
            leaders.append(member.minion_id)
            synced = synced_followers
        elif mode == "standalone":
            reasons.append(f"{member.minion_id} runs standalone: its zoo.cfg lists a single server")
        elif mode == "observer":
            reasons.append(f"{member.minion_id} is an observer: the formula configures voting members only")
    ignored = sorted(set(statuses) - set(model.minion_ids), key=str)

    quorum_held = len(serving) >= model.quorum_size
    verdict = "healthy"
    if not quorum_held:
        verdict = "down"
        reasons.insert(
            0, f"quorum lost: {len(serving)} of {model.size} members serving, {model.quorum_size} needed"
        )
    if len(leaders) > 1:
        verdict = "down"
        reasons.insert(0, f"split brain: {' and '.join(leaders)} all report leader mode")
    elif not leaders and quorum_held:
        reasons.append("no serving member reports leader mode")
    elif leaders and model.size > 1:
        expected = model.size - 1
        if synced is None:
            reasons.append(f"leader {leaders[0]}: synced followers unknown (no mntr data)")
        elif synced < expected:
            reasons.append(f"leader {leaders[0]} reports {synced} synced followers, expected {expected}")
        elif synced > expected:
            reasons.append(
                f"leader {leaders[0]} reports {synced} synced followers but the ensemble has {expected}: "
                "a server outside zookeeper:members is connected"
            )
    if verdict == "healthy" and reasons:
        verdict = "degraded"
    return {
        "verdict": verdict,
        "reasons": reasons,
        "leader": leaders[0] if len(leaders) == 1 else None,
        "serving": serving,
        "down": down,
        "members": model.size,
        "quorum_size": model.quorum_size,
        "quorum_held": quorum_held,
        "synced_followers": synced,
        "ignored": ignored,
    }


def _leader_of(model: EnsembleModel, statuses: dict):
    leaders = [
        m.minion_id
        for m in model.members
        if _normalize_status(statuses.get(m.minion_id))[0] in ("leader", "standalone")
    ]
    return leaders[0] if len(leaders) == 1 else None


def roll_order(model: EnsembleModel, statuses: dict) -> list:
    """Restart order for a rolling restart: members already down first (restarting them costs
    nothing), then serving followers by myid, the leader last (one election, not several)."""
    down, followers, leader = [], [], []
    for member in model.members:
        mode, is_serving, _, _ = _normalize_status(statuses.get(member.minion_id))
        if not is_serving:
            down.append(member.minion_id)
        elif mode in ("leader", "standalone"):
            leader.append(member.minion_id)
        else:
            followers.append(member.minion_id)
    return down + followers + leader


__all__ = ["StatusParseError", "parse_srvr", "parse_mntr", "ensemble_health", "roll_order"]

"""Replacing the cluster CA without downtime: the phases, what a host holds, and the plan.

A rotation moves every host through three phases, each a set of engine steps (one per host):

``trust``
    Every trust store (Kafka's ``truststore.pem``, ZooKeeper's ``ca.pem``) holds the old and
    the new CA. Brokers reload theirs dynamically; ZooKeeper members read theirs at start, so
    they roll one at a time.
``reissue``
    Every key store (broker, admin client, ZooKeeper member and client) holds a certificate
    from the new CA; brokers reload dynamically, members roll. The old CA is still trusted, so
    a client with an old certificate keeps authenticating.
``drop``
    Every trust store holds the new CA only; brokers reload, members roll. Afterwards the
    master's store promotes the new CA (the old one moves to ``retired/``).

The phase is never kept anywhere: :func:`held_phase` reads it from a host's own TLS files,
:func:`cluster_phase` from every host's holdings (files *and* what the running process has
loaded), so a rotation interrupted anywhere resumes from what the hosts hold on the next run.
Hosts never step back: the files a normal state run renders during a rotation follow
:func:`effective_phase`, the later of the phase asked for and the phase the host holds.

Clients outside Salt that hold only the old CA keep working through ``trust``; they must get
the new CA (the runner prints it) before ``reissue`` serves certificates from it. The CA we
generate has ``pathLenConstraint=0``, which rules out a cross-signed intermediate (OpenSSL and
Java enforce the root's path length).

Nothing here talks to a host; the runner's driver gathers ``holdings`` through the minions::

    {minion: {"phase": held phase | None,
              "kafka": {"running": bool, "keystore_loaded": bool, "truststore_loaded": bool} | None,
              "zookeeper": {"member": bool, "running": bool, "pending": [paths]} | None,
              "problems": [str]}}
"""

from __future__ import annotations

from kafkasalt.ops.steps import Plan, Step, gate

PHASES = ("trust", "reissue", "drop")
_ORDER = {None: -1, **{phase: index for index, phase in enumerate(PHASES)}}


def later(*phases):
    """The latest of ``phases`` (None counts as before ``trust``)."""
    return max(phases, key=lambda phase: _ORDER[phase])


def check_phase(phase, argument="phase"):
    if phase is not None and phase not in PHASES:
        raise ValueError(f"{argument} must be one of {', '.join(PHASES)}, got {phase!r}")
    return phase


# ---------------------------------------------------------------------------------------------
# What one host holds and renders
# ---------------------------------------------------------------------------------------------


def held_phase(current_ca, next_ca, truststores=(), keystores=()):
    """The phase a host's TLS files show, from their PEM texts (None for a missing file).

    ``drop`` when a trust store holds the new CA without the old one, ``reissue`` when a key
    store holds a certificate from the new CA, ``trust`` when a trust store holds both, None
    when the host holds nothing of the rotation yet (or no rotation is pending).
    """
    from kafkasalt.security import pki

    if not next_ca:
        return None
    old, new = pki.fingerprint(current_ca), pki.fingerprint(next_ca)
    found = None
    for text in truststores:
        held = set(pki.bundle_fingerprints(text))
        if new in held and old not in held:
            found = later(found, "drop")
        elif new in held:
            found = later(found, "trust")
    for text in keystores:
        leaf = pki.keystore_leaf(text, (next_ca,))
        if leaf and leaf["issued_by"] == new:
            found = later(found, "reissue")
    return found


def effective_phase(asked, held):
    """What a host renders: never behind what it already holds. Without an explicit phase a
    pending rotation still adds the new CA to the trust stores (``trust`` is always safe)."""
    return later(check_phase(asked), held, "trust")


class Material:
    """The TLS material one host writes, for a phase of a pending rotation (or none).

    ``tls`` is the host's ``kafka_tls`` or ``zookeeper_tls`` pillar: ``ca_cert`` and one
    ``{"key", "cert"}`` per part; during a rotation also ``next`` with the same from the new CA.
    """

    def __init__(self, tls, phase=None):
        self.tls = tls
        self.next = tls.get("next") if isinstance(tls.get("next"), dict) else None
        self.phase = check_phase(phase) if self.next else None

    def trust(self):
        """The trust store's PEM text."""
        if self.phase is None:
            return self.tls["ca_cert"]
        if self.phase == "drop":
            return self.next["ca_cert"]
        return self.tls["ca_cert"] + self.next["ca_cert"]

    def leaf(self, part):
        """``{"key", "cert", "issuer"}`` of ``part`` (broker, client, member): from the new CA
        from ``reissue`` on."""
        source = self.next if self.phase in ("reissue", "drop") else self.tls
        material = source.get(part) or {}
        if not material:
            return {}
        return {"key": material["key"], "cert": material["cert"], "issuer": source["ca_cert"]}

    def keystore(self, part):
        from kafkasalt.security import pki

        leaf = self.leaf(part)
        return pki.pem_keystore(leaf["key"], leaf["cert"], leaf["issuer"])


def completed_phase(current_ca, next_ca, truststores=(), keystores=()):
    """The last phase *every* TLS file of a host has reached (None before ``trust``): the
    host-side half of :func:`host_done`. Missing files (None) are left out."""
    from kafkasalt.security import pki

    trusts = [set(pki.bundle_fingerprints(text)) for text in truststores if text]
    if not next_ca or not trusts:
        return None
    old, new = pki.fingerprint(current_ca), pki.fingerprint(next_ca)
    if not all(new in held for held in trusts):
        return None
    leaves = [pki.keystore_leaf(text, (next_ca,)) for text in keystores if text]
    if not all(leaf and leaf["issued_by"] == new for leaf in leaves):
        return "trust"
    if all(old not in held for held in trusts):
        return "drop"
    return "reissue"


def host_tls_paths():
    """``(trust stores, key stores)``: every TLS file the formula writes on a host."""
    from kafkasalt.kafka import model as kmodel
    from kafkasalt.zookeeper import model as zkmodel

    return ((kmodel.TRUSTSTORE_PATH, zkmodel.TRUSTSTORE_PATH),
            (kmodel.KEYSTORE_PATH, f"{kmodel.TLS_DIR}/admin-keystore.pem", zkmodel.MEMBER_KEYSTORE_PATH,
             zkmodel.CLIENT_KEYSTORE_PATH))


def read_text(path):
    try:
        with open(path) as fh:
            return fh.read()
    except OSError:
        return None


def host_material(tls, asked=None, read=read_text):
    """The :class:`Material` this host renders from its ``tls`` pillar: during a rotation the
    phase is :func:`effective_phase` of ``asked`` and what the host's files hold."""
    upcoming = tls.get("next") if isinstance(tls, dict) else None
    if not isinstance(upcoming, dict):
        return Material(tls)
    truststores, keystores = host_tls_paths()
    held = held_phase(tls["ca_cert"], upcoming["ca_cert"], [read(p) for p in truststores],
                      [read(p) for p in keystores])
    return Material(tls, effective_phase(asked, held))


# ---------------------------------------------------------------------------------------------
# The cluster's phase and the plan
# ---------------------------------------------------------------------------------------------


def host_done(phase, holding):
    """Reasons why ``holding`` (one host) has not completed ``phase``: files and processes."""
    reasons = list(holding.get("problems") or ())
    held = holding.get("phase")
    if _ORDER[held] < _ORDER[phase]:
        reasons.append(f"holds {held or 'nothing of the rotation'}, not {phase}")
    kafka = holding.get("kafka")
    if kafka:
        if not kafka.get("running"):
            reasons.append("its broker does not run")
        else:
            if not kafka.get("truststore_loaded"):
                reasons.append("its broker has not loaded the trust store on disk")
            if not kafka.get("keystore_loaded"):
                reasons.append("its broker does not serve the certificate on disk")
    zookeeper = holding.get("zookeeper")
    if zookeeper and zookeeper.get("member"):
        if not zookeeper.get("running"):
            reasons.append("its ZooKeeper member does not run")
        elif zookeeper.get("pending"):
            reasons.append("its ZooKeeper member started before " + ", ".join(zookeeper["pending"]) + " changed")
    return reasons


def cluster_phase(holdings):
    """The first phase some host has not completed, or ``"promote"`` when every host is through
    ``drop``."""
    for phase in PHASES:
        if any(host_done(phase, holding) for holding in holdings.values()):
            return phase
    return "promote"


@gate("host_holds_phase")
def host_holds_phase(step, view):
    """The step's host holds the phase's files and its broker/member has loaded them."""
    holding = (view.get("holdings") or {}).get(step.target)
    if holding is None:
        return [f"{step.target} did not report what it holds"]
    return [f"{step.target}: {reason}" for reason in host_done(step.params["phase"], holding)]


@gate("every_host_through_phase")
def every_host_through_phase(step, view):
    """Every host completed the phases before this one (a phase never starts early)."""
    phase = step.params["phase"]
    earlier = PHASES[: PHASES.index(phase)]
    out = []
    for host, holding in sorted((view.get("holdings") or {}).items()):
        for before in earlier:
            out += [f"{host}: {reason} (phase {before})" for reason in host_done(before, holding)]
    return out


@gate("brokers_running")
def brokers_running(step, view):
    """Every broker and ZooKeeper member runs."""
    out = []
    for host, holding in sorted((view.get("holdings") or {}).items()):
        if holding.get("kafka") and not holding["kafka"].get("running"):
            out.append(f"broker on {host} is down")
        zookeeper = holding.get("zookeeper")
        if zookeeper and zookeeper.get("member") and not zookeeper.get("running"):
            out.append(f"ZooKeeper member {host} is down")
    return out


@gate("zookeeper_quorum")
def zookeeper_quorum(step, view):
    """Every ZooKeeper member serves before one restarts, and again after."""
    zk = view.get("zookeeper")
    if zk is None:
        return []
    if zk.get("verdict") == "healthy":
        return []
    return [f"ZooKeeper not healthy: {'; '.join(zk.get('reasons') or [zk.get('verdict', 'unknown')])}"]


@gate("cluster_healthy")
def cluster_healthy(step, view):
    """The Kafka cluster is healthy: every broker registered, nothing offline, under-replicated
    or under min ISR (the clients still read and write)."""
    kafka = view.get("kafka")
    if kafka is None:
        return []
    if kafka.get("error"):
        return [f"cluster not reachable: {kafka['error']}"]
    if kafka.get("verdict") == "healthy":
        return []
    return [f"Kafka {kafka.get('verdict', 'unknown')}: {'; '.join(kafka.get('reasons') or [])}"]


BEFORE = (brokers_running, zookeeper_quorum, every_host_through_phase, cluster_healthy)
AFTER = (host_holds_phase, brokers_running, zookeeper_quorum, cluster_healthy)


def plan_rotation(holdings, members=(), timeout=None):
    """The steps still to do, from the hosts' ``holdings``: for each phase from the cluster's
    current one, one step per host (ZooKeeper members first, one at a time, then the others);
    a step whose host already completed the phase is skipped when it comes up (``done_if``)."""
    current = cluster_phase(holdings)
    if current == "promote":
        return Plan("ca rotation", [], final=(every_host_through_drop,))
    order = [h for h in members if h in holdings] + sorted(h for h in holdings if h not in members)
    steps = []
    for phase in PHASES[PHASES.index(current):]:
        for host in order:
            holding = holdings[host]
            zookeeper = holding.get("zookeeper") or {}
            what = []
            if holding.get("kafka") is not None:
                what.append("broker reloads")
            if zookeeper.get("member"):
                what.append("ZooKeeper member restarts")
            steps.append(Step(
                action=f"ca-{phase}",
                targets=(host,),
                reason=f"{_PHASE_TEXT[phase]}; " + (" and ".join(what) if what else "client files only"),
                before=BEFORE,
                after=AFTER,
                params={"phase": phase, "restart_member": bool(zookeeper.get("member"))},
                timeout=timeout,
                done_if=(host_holds_phase,),
            ))
    return Plan("ca rotation", steps, final=(every_host_through_drop, brokers_running, zookeeper_quorum),
                final_label="the rotation did not reach every host")


@gate("every_host_through_drop")
def every_host_through_drop(step, view):
    """Every host trusts only the new CA and serves its certificates (before promotion)."""
    return [f"{host}: {reason}" for host, holding in sorted((view.get("holdings") or {}).items())
            for reason in host_done("drop", holding)]


_PHASE_TEXT = {
    "trust": "trust the old and the new CA",
    "reissue": "certificates from the new CA",
    "drop": "trust only the new CA",
}

__all__ = ["PHASES", "Material", "held_phase", "completed_phase", "host_material", "host_tls_paths", "effective_phase", "host_done", "cluster_phase", "plan_rotation",
           "later", "check_phase"]

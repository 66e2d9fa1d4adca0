"""One way to validate a pillar: collect every problem with its full pillar key, then raise them
all together, so a bad pillar reports everything at once and nothing is built from it."""

import difflib
import re

from kafkasalt.common.errors import PillarError, PillarErrors

_DNS_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def is_int(value):
    """An ``int`` that is not a ``bool`` (YAML's true/false would otherwise pass as 1/0)."""
    return isinstance(value, int) and not isinstance(value, bool)


def type_name(value):
    """How a YAML reader would call ``value``'s type: ``null``, ``boolean``, ``list``, ``mapping``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def did_you_mean(name, known):
    """`` (did you mean 'x'?)`` for a close match of ``name`` among ``known``, else ``''``."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def dns_name_problem(name):
    """Why ``name`` is not a DNS name a certificate can carry (``None`` when it is): labels of
    letters, digits and inner '-', at most 253 characters, one leading ``*.`` wildcard label
    allowed below a domain of two labels or more. The rule the PKI and the pillar validator share."""
    if not isinstance(name, str):
        return f"expected a DNS name (a string), got {type_name(name)}"
    lowered = name.strip().lower().rstrip(".")
    labels = lowered.split(".")
    if labels and labels[0] == "*" and len(labels) > 2:
        labels = labels[1:]
    if not lowered or len(lowered) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        return f"{name!r} is not a valid DNS name"
    return None


def pillar_key(root, *parts):
    """The full pillar key ``root:part:part`` (``zookeeper:members:kafka2:myid``)."""
    return ":".join([root, *(str(part) for part in parts)])


def section_shape_errors(pillars_by_minion, root):
    """The minions (``{minion: pillar}``) whose ``root`` section is neither absent (null) nor a
    mapping, as one :class:`PillarError` per wrong type naming the minions: what a runner reports
    instead of failing on ``view.get(...)`` of a list or a string."""
    found = {}
    for minion in sorted(pillars_by_minion, key=str):
        pillar = pillars_by_minion[minion]
        value = pillar.get(root) if isinstance(pillar, dict) else None
        if value is not None and not isinstance(value, dict):
            found.setdefault(type_name(value), []).append(str(minion))
    return [PillarError(root, f"expected a mapping, got {kind} (on {', '.join(minions)})")
            for kind, minions in found.items()]


def load_reporting_all(load, extra_errors):
    """``load()``, or :class:`PillarErrors` with its problems and ``extra_errors`` together, so a
    plan reports every problem of the pillar at once (``extra_errors``: PillarError list)."""
    try:
        result = load()
    except PillarErrors as exc:
        raise PillarErrors([*exc.errors, *extra_errors]) from None
    except PillarError as exc:
        raise PillarErrors([exc, *extra_errors]) from None
    if extra_errors:
        raise PillarErrors(extra_errors)
    return result


class Collector:
    """The errors of one validation pass over the pillar under ``root`` (``zookeeper``, ``kafka``).

    Checks call :meth:`error` with the full key of every problem and carry on; the validator
    calls :meth:`raise_errors` before it builds anything. Messages never hold secret values.
    """

    def __init__(self, root):
        self.root = root
        self.errors = []

    def key(self, *parts):
        """The full key of ``parts`` under this pillar's root."""
        return pillar_key(self.root, *parts)

    def error(self, key, message):
        """Record a problem with the pillar value at ``key`` (a full key)."""
        self.errors.append(PillarError(key, message))

    def fail(self, message):
        """The pillar as a whole is unusable: raise at once, naming its root."""
        raise PillarErrors([PillarError(self.root, message)])

    def raise_errors(self):
        """Raise :class:`~kafkasalt.common.errors.PillarErrors` with every problem found, if any."""
        if self.errors:
            raise PillarErrors(self.errors)

"""One way to validate a pillar: collect every problem with its full pillar key, then raise them
all together, so a bad pillar reports everything at once and nothing is built from it."""

from kafkasalt.common.errors import PillarError, PillarErrors


def is_int(value):
    """An ``int`` that is not a ``bool`` (YAML's true/false would otherwise pass as 1/0)."""
    return isinstance(value, int) and not isinstance(value, bool)


def pillar_key(root, *parts):
    """The full pillar key ``root:part:part`` (``zookeeper:members:kafka2:myid``)."""
    return ":".join([root, *(str(part) for part in parts)])


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

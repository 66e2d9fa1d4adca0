"""Errors raised by the core, each naming the pillar key that caused it."""


class PillarError(ValueError):
    """Invalid pillar data. ``key`` is the dotted pillar path, e.g. ``kafka:brokers:b1:broker_id``."""

    def __init__(self, key, message):
        self.key = key
        self.message = message
        super().__init__(f"pillar key '{key}': {message}")


class PillarErrors(ValueError):
    """Several pillar errors found in one validation pass (all are reported, none applied)."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))

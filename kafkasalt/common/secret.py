"""Passwords inside the models: never shown by repr/str/format, never serialized."""

import hashlib
import hmac


class Secret:
    """A password: shown as ``<redacted>`` by repr/str/format; :meth:`reveal` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value):
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"a Secret holds a string, not {type(value).__name__}")
        self._value = value

    def reveal(self):
        """The secret text; only for writing secret files or authenticating."""
        return self._value

    def __repr__(self):
        return "Secret(<redacted>)"

    def __str__(self):
        return "<redacted>"

    def __format__(self, spec):
        return "<redacted>"

    def __eq__(self, other):
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self):
        return hash(hashlib.sha256(self._value.encode()).digest())

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self  # immutable, so copies of a model may share it

    def __reduce__(self):
        raise TypeError("Secret values are not serialized")

"""SCRAM credentials as Kafka stores them in ZooKeeper (RFC 5802 / RFC 7677).

Kafka in ZooKeeper mode keeps one znode per user at ``/config/users/<sanitized
name>`` holding ``{"version":1,"config":{"SCRAM-SHA-512":"salt=...,stored_key=...,
server_key=...,iterations=4096"}}``. Quota overrides for the same user live in
the same ``config`` map, so every write here merges with what is already there.
A change is announced to the brokers by a sequential znode
``/config/changes/config_change_`` holding ``{"version":2,"entity_path":"users/<name>"}``.

Compatibility notes (checked against Kafka 3.9.2's ScramFormatter,
ScramCredentialUtils, ScramMechanism, ZkAdminManager, ZkData and Sanitizer):

- The password is turned into bytes as plain UTF-8; Kafka does not apply
  SASLprep, so neither do we (otherwise non-ASCII passwords would not match).
- Kafka's own salt is the UTF-8 text of a 130-bit random number written in
  base 36 (about 25 ASCII characters); :func:`make_credential` does the same.
- Iterations must lie in 4096..16384 for both mechanisms (ZkAdminManager refuses
  anything else on AlterUserScramCredentials).
- An empty password cannot be used: Java's ``SecretKeySpec`` refuses an empty
  HMAC key, so Kafka could never authenticate it.

Secrets policy: no object here keeps a password, and the stored/server keys
(which allow an offline dictionary attack) never appear in ``repr``/``str`` or
in error messages.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import secrets
import string
import urllib.parse

__all__ = [
    "CHANGE_NOTIFICATION_PREFIX",
    "CONFIG_ENTITY_TYPES",
    "DEFAULT_ITERATIONS",
    "MAX_ITERATIONS",
    "MECHANISMS",
    "MIN_ITERATIONS",
    "ScramCredential",
    "change_notification_data",
    "credential_needs_update",
    "from_zk_string",
    "kafka_style_salt",
    "make_credential",
    "normalize_mechanism",
    "parse_user_znode",
    "salted_password",
    "sanitize_entity_name",
    "scram_credentials_from_config",
    "to_zk_string",
    "USERS_CONFIG_PATH",
    "user_entity_path",
    "user_znode_data",
    "user_znode_path",
    "validate_iterations",
    "validate_username",
    "verify_password",
]

# Mechanism name -> hashlib digest name (Kafka's ScramMechanism enum).
MECHANISMS = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
MIN_ITERATIONS = 4096
MAX_ITERATIONS = 16384
DEFAULT_ITERATIONS = 4096

CHANGE_NOTIFICATION_PREFIX = "/config/changes/config_change_"
USERS_CONFIG_PATH = "/config/users"
# Entity types Kafka's ConfigType knows in ZooKeeper mode (/config/<type>/<name>).
CONFIG_ENTITY_TYPES = ("topics", "clients", "users", "brokers", "ips")

_ZK_FIELDS = ("salt", "stored_key", "server_key", "iterations")
_BASE36_DIGITS = string.digits + string.ascii_lowercase


@dataclasses.dataclass(frozen=True)
class ScramCredential:
    """One SCRAM credential as the broker stores it (no password inside).

    ``stored_key`` and ``server_key`` are excluded from ``repr`` because they
    permit an offline guessing attack on the password.
    """

    mechanism: str
    salt: bytes = dataclasses.field(repr=False)
    stored_key: bytes = dataclasses.field(repr=False)
    server_key: bytes = dataclasses.field(repr=False)
    iterations: int

    def __post_init__(self):
        mechanism = normalize_mechanism(self.mechanism)
        object.__setattr__(self, "mechanism", mechanism)
        # Only sanity here: credentials already in ZooKeeper may predate Kafka's
        # upper bound (old ConfigCommand checked the minimum only); new ones are
        # range-checked in make_credential().
        if isinstance(self.iterations, bool) or not isinstance(self.iterations, int) or self.iterations < 1:
            raise ValueError("ScramCredential.iterations must be a positive integer")
        for name in ("salt", "stored_key", "server_key"):
            if not isinstance(getattr(self, name), bytes) or not getattr(self, name):
                raise ValueError(f"ScramCredential.{name} must be non-empty bytes")
        digest_size = hashlib.new(MECHANISMS[mechanism]).digest_size
        for name in ("stored_key", "server_key"):
            if len(getattr(self, name)) != digest_size:
                raise ValueError(
                    f"ScramCredential.{name} must be {digest_size} bytes long for {mechanism}"
                )


def normalize_mechanism(mechanism, argument="mechanism"):
    """Return the canonical mechanism name (``SCRAM-SHA-256``/``SCRAM-SHA-512``).

    Accepts any letter case; anything else raises ``ValueError`` naming ``argument``.
    """
    if isinstance(mechanism, str) and mechanism.strip().upper() in MECHANISMS:
        return mechanism.strip().upper()
    raise ValueError(
        f"{argument} must be one of {', '.join(sorted(MECHANISMS))}, got {mechanism!r}"
    )


def validate_iterations(iterations, argument="iterations"):
    """Check Kafka's iteration bounds (4096..16384); returns the int."""
    if isinstance(iterations, bool) or not isinstance(iterations, int):
        raise ValueError(f"{argument} must be an integer, got {type(iterations).__name__}")
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise ValueError(
            f"{argument} must be between {MIN_ITERATIONS} and {MAX_ITERATIONS} "
            f"(Kafka's limits), got {iterations}"
        )
    return iterations


def validate_username(username, argument="username"):
    """Check a SCRAM user name; returns it unchanged.

    Kafka itself only refuses the empty name (ZkAdminManager: "Username must not
    be empty"); characters such as ``,`` ``=`` or spaces are legal because SCRAM
    escapes them and the znode name is URL-encoded. Control characters are
    refused here as well: they cannot be written into a JAAS config and are
    always a pillar mistake.
    """
    if not isinstance(username, str):
        raise ValueError(f"{argument} must be a string, got {type(username).__name__}")
    if not username:
        raise ValueError(f"{argument} must not be empty")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in username):
        raise ValueError(f"{argument} must not contain control characters")
    return username


def _validate_password(password, argument="password"):
    # Messages never include the value.
    if not isinstance(password, str):
        raise ValueError(f"{argument} must be a string, got {type(password).__name__}")
    if not password:
        raise ValueError(f"{argument} must not be empty (Kafka cannot use an empty SCRAM password)")
    return password


def _hmac(hash_name, key, message):
    return hmac.new(key, message, hash_name).digest()


def _hash(hash_name, data):
    return hashlib.new(hash_name, data).digest()


def _salted_password(hash_name, password_bytes, salt, iterations):
    # RFC 5802 Hi() is PBKDF2 with HMAC and a single output block.
    return hashlib.pbkdf2_hmac(hash_name, password_bytes, salt, iterations)


def _keys_from_salted_password(hash_name, salted):
    client_key = _hmac(hash_name, salted, b"Client Key")
    stored_key = _hash(hash_name, client_key)
    server_key = _hmac(hash_name, salted, b"Server Key")
    return stored_key, server_key


def salted_password(password, salt, iterations, mechanism="SCRAM-SHA-512"):
    """RFC 5802 ``SaltedPassword = Hi(password, salt, i)``.

    This is what Kafka's AlterUserScramCredentials request carries (salt +
    salted password, never the password itself).
    """
    _validate_password(password)
    hash_name = MECHANISMS[normalize_mechanism(mechanism)]
    validate_iterations(iterations)
    if not isinstance(salt, bytes) or not salt:
        raise ValueError("salt must be non-empty bytes")
    return _salted_password(hash_name, password.encode("utf-8"), salt, iterations)


def kafka_style_salt():
    """A fresh random salt shaped like Kafka's ``ScramFormatter.secureRandomBytes``.

    Kafka takes a 130-bit random integer, writes it in base 36 and uses the
    UTF-8 bytes of that text.
    """
    number = secrets.randbits(130)
    digits = []
    while True:
        number, remainder = divmod(number, 36)
        digits.append(_BASE36_DIGITS[remainder])
        if number == 0:
            break
    return "".join(reversed(digits)).encode("ascii")


def make_credential(password, mechanism="SCRAM-SHA-512", iterations=DEFAULT_ITERATIONS, salt=None):
    """Derive the stored SCRAM credential for ``password``.

    ``salt`` defaults to a Kafka-style random salt (:func:`kafka_style_salt`);
    pass bytes only for reproducible tests.
    """
    _validate_password(password)
    mechanism = normalize_mechanism(mechanism)
    validate_iterations(iterations)
    if salt is None:
        salt = kafka_style_salt()
    elif not isinstance(salt, bytes) or not salt:
        raise ValueError("salt must be non-empty bytes or None")
    hash_name = MECHANISMS[mechanism]
    salted = _salted_password(hash_name, password.encode("utf-8"), salt, iterations)
    stored_key, server_key = _keys_from_salted_password(hash_name, salted)
    return ScramCredential(
        mechanism=mechanism,
        salt=salt,
        stored_key=stored_key,
        server_key=server_key,
        iterations=iterations,
    )


def verify_password(cred, password):
    """True when ``password`` produces ``cred``'s stored and server keys.

    Comparison is constant-time (``hmac.compare_digest``). A wrong type or an
    empty password simply does not match.
    """
    if not isinstance(cred, ScramCredential):
        raise ValueError(f"cred must be a ScramCredential, got {type(cred).__name__}")
    if not isinstance(password, str) or not password:
        return False
    hash_name = MECHANISMS[cred.mechanism]
    salted = _salted_password(hash_name, password.encode("utf-8"), cred.salt, cred.iterations)
    stored_key, server_key = _keys_from_salted_password(hash_name, salted)
    # Evaluate both comparisons so timing does not reveal which key differed.
    stored_ok = hmac.compare_digest(stored_key, cred.stored_key)
    server_ok = hmac.compare_digest(server_key, cred.server_key)
    return stored_ok and server_ok


def credential_needs_update(existing, password, iterations=DEFAULT_ITERATIONS):
    """Decide whether a stored credential must be rewritten for ``password``.

    Returns ``(bool, reason)``; the reason never contains the password.
    ``existing`` may be ``None`` (no credential yet).
    """
    validate_iterations(iterations)
    if existing is None:
        return True, "credential missing"
    if existing.iterations != iterations:
        return True, f"iterations {existing.iterations} != wanted {iterations}"
    if not verify_password(existing, password):
        return True, "password changed"
    return False, "credential up to date"


def to_zk_string(cred):
    """Kafka's ``ScramCredentialUtils.credentialToString`` format."""
    if not isinstance(cred, ScramCredential):
        raise ValueError(f"cred must be a ScramCredential, got {type(cred).__name__}")

    def b64(data):
        return base64.b64encode(data).decode("ascii")

    return (
        f"salt={b64(cred.salt)},stored_key={b64(cred.stored_key)},"
        f"server_key={b64(cred.server_key)},iterations={cred.iterations}"
    )


def from_zk_string(s, mechanism):
    """Parse ``salt=...,stored_key=...,server_key=...,iterations=N``.

    Like Kafka, exactly these four fields are required. Errors name the field
    but never echo key material.
    """
    mechanism = normalize_mechanism(mechanism)
    if not isinstance(s, str) or not s:
        raise ValueError("s must be a non-empty credential string")
    fields = {}
    for token in s.split(","):
        name, sep, value = token.partition("=")
        if not sep or not name:
            raise ValueError("s is not a SCRAM credential string (expected name=value pairs)")
        if name in fields:
            raise ValueError(f"s repeats the field {name!r}")
        fields[name] = value
    if sorted(fields) != sorted(_ZK_FIELDS):
        raise ValueError(
            f"s must contain exactly the fields {', '.join(_ZK_FIELDS)}; got {', '.join(sorted(fields))}"
        )
    decoded = {}
    for name in ("salt", "stored_key", "server_key"):
        try:
            decoded[name] = base64.b64decode(fields[name], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"s has an invalid base64 value in field {name!r}") from None
    try:
        iterations = int(fields["iterations"])
    except ValueError:
        raise ValueError("s has a non-integer 'iterations' field") from None
    return ScramCredential(mechanism=mechanism, iterations=iterations, **decoded)


def sanitize_entity_name(name):
    """URL-encode an entity name exactly like Kafka's ``Sanitizer.sanitize``.

    Java's URLEncoder keeps ``A-Z a-z 0-9 . - * _`` and turns space into ``+``;
    Kafka then rewrites ``*`` to ``%2A`` and ``+`` to ``%20``. The net effect is
    percent-encoding of every UTF-8 byte except letters, digits, ``.``, ``-``, ``_``.
    """
    if not isinstance(name, str):
        raise ValueError(f"name must be a string, got {type(name).__name__}")
    return urllib.parse.quote(name, safe="").replace("~", "%7E")


def user_znode_path(username):
    """``/config/users/<sanitized username>``."""
    validate_username(username)
    return f"{USERS_CONFIG_PATH}/{sanitize_entity_name(username)}"


def user_entity_path(username):
    """The ``entity_path`` Kafka announces for a user: ``users/<sanitized>``."""
    validate_username(username)
    return f"users/{sanitize_entity_name(username)}"


def _json_bytes(document):
    # Jackson's compact output: no spaces, UTF-8, no escaping of non-ASCII or '/'.
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def parse_user_znode(data):
    """Return the ``config`` map of a ``/config/users/<name>`` znode.

    ``None`` or empty data (node missing or created empty) gives ``{}``. All
    keys are kept, SCRAM or not, so quota overrides survive an upsert.
    """
    if data is None or data in (b"", ""):
        return {}
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("data is not UTF-8 text") from None
    try:
        document = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ValueError(f"data is not JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(document, dict):
        raise ValueError("data must be a JSON object")
    if document.get("version") != 1:
        raise ValueError(f"data has unsupported version {document.get('version')!r} (expected 1)")
    config = document.get("config", {})
    if not isinstance(config, dict):
        raise ValueError("data 'config' must be a JSON object")
    result = {}
    for key, value in config.items():
        if not isinstance(value, str):
            raise ValueError(f"data config key {key!r} must hold a string")
        result[key] = value
    return result


def scram_credentials_from_config(config):
    """Pick the SCRAM credentials out of a user config map (mechanism -> credential)."""
    credentials = {}
    for mechanism in MECHANISMS:
        if mechanism in config:
            credentials[mechanism] = from_zk_string(config[mechanism], mechanism)
    return credentials


def user_znode_data(creds, existing_config=None, remove_mechanisms=()):
    """JSON bytes for ``/config/users/<name>`` as Kafka writes them.

    ``creds`` maps mechanism -> :class:`ScramCredential`. ``existing_config`` is
    the current config map (see :func:`parse_user_znode`); every key in it that
    is not replaced or listed in ``remove_mechanisms`` is kept, so quota
    overrides such as ``consumer_byte_rate`` are never dropped. Keys are sorted
    so the output is deterministic.
    """
    if not isinstance(creds, dict):
        raise ValueError(f"creds must be a dict of mechanism -> ScramCredential, got {type(creds).__name__}")
    config = dict(existing_config or {})
    for mechanism in remove_mechanisms:
        config.pop(normalize_mechanism(mechanism, "remove_mechanisms"), None)
    for mechanism, cred in creds.items():
        mechanism = normalize_mechanism(mechanism, "creds key")
        if not isinstance(cred, ScramCredential):
            raise ValueError(f"creds[{mechanism!r}] must be a ScramCredential")
        if cred.mechanism != mechanism:
            raise ValueError(f"creds[{mechanism!r}] holds a {cred.mechanism} credential")
        config[mechanism] = to_zk_string(cred)
    return _json_bytes({"version": 1, "config": dict(sorted(config.items()))})


def change_notification_data(entity_path):
    """Payload of the sequential ``/config/changes/config_change_`` znode.

    ``entity_path`` is ``<entity type>/<sanitized name>``, e.g. ``users/alice``
    (see :func:`user_entity_path`). Format from Kafka's
    ``ConfigEntityChangeNotificationSequenceZNode.encode``.
    """
    if not isinstance(entity_path, str) or "/" not in entity_path:
        raise ValueError(f"entity_path must look like '<type>/<name>', got {entity_path!r}")
    entity_type, _, name = entity_path.partition("/")
    if entity_type not in CONFIG_ENTITY_TYPES:
        raise ValueError(
            f"entity_path type must be one of {', '.join(CONFIG_ENTITY_TYPES)}, got {entity_type!r}"
        )
    if not name:
        raise ValueError("entity_path has an empty entity name")
    return _json_bytes({"version": 2, "entity_path": entity_path})

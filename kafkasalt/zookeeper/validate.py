"""Validation of the ``zookeeper:`` pillar: every check records its problems, each with its full
pillar key, in one :class:`~kafkasalt.common.validation.Collector` (``v``), and the model is built
only when there is none."""

from __future__ import annotations

import ipaddress
import posixpath
import re

from kafkasalt.common.secret import Secret
from kafkasalt.common.validation import Collector, is_int
from kafkasalt.zookeeper.model import (DEFAULTS, FALLBACK_HEAP_MB, INSTALL_METHODS, MIN_HEAP_MB, PILLAR_ROOT,
                                       SUPER_USER, TLS_CLIENT_AUTH_VALUES, TUNABLE_DEFAULTS, EnsembleModel, Member,
                                       TlsSettings)

# Four-letter words known to ZooKeeper 3.8 (FourLetterCommands in zookeeper-3.8.4.jar).
KNOWN_FOUR_LETTER_WORDS = frozenset(
    "conf cons crst dirs dump envi gtmk hash isro mntr ruok srst srvr stat stmk wchc wchp wchs".split()
)
# The formula's health checks read these two; refusing a whitelist without them avoids a
# deployment whose rolling restarts can never be gated.
REQUIRED_FOUR_LETTER_WORDS = ("mntr", "srvr")

PORT_NAMES = ("client", "secure_client", "quorum", "election", "admin")

# Integer tunables with their smallest legal value (ZooKeeper fails or misbehaves below it).
INTEGER_TUNABLES = {
    "tickTime": 1,
    "initLimit": 1,
    "syncLimit": 1,
    "maxClientCnxns": 0,
    "minSessionTimeout": 1,
    "maxSessionTimeout": 1,
    "autopurge.snapRetainCount": 3,
    "autopurge.purgeInterval": 0,
    "quorum.cnxn.threads.size": 1,
    "snapCount": 2,
    "globalOutstandingLimit": 1,
}

# zoo.cfg keys the formula owns (compared case-insensitively), with where they come from.
_OWNED_KEYS = {
    "datadir": "zookeeper:data_dir",
    "datalogdir": "zookeeper:data_log_dir",
    "clientport": "zookeeper:ports:client",
    "clientportaddress": "zookeeper:members:<id>:address",
    "secureclientport": "zookeeper:ports:secure_client and zookeeper:tls:enabled",
    "secureclientportaddress": "zookeeper:members:<id>:address and zookeeper:tls:enabled",
    "sslquorum": "zookeeper:tls:enabled",
    "portunification": "the formula (only while switching quorum TLS, see quorum_tls_phases)",
    "client.portunification": "the formula (TLS and plaintext clients get a port each)",
    "servercnxnfactory": "the formula (Netty, which TLS needs)",
    "4lw.commands.whitelist": "zookeeper:four_letter_words",
    "reconfigenabled": "the formula (static ensemble; see membership_change_plan)",
    "dynamicconfigfile": "the formula (static ensemble; see membership_change_plan)",
    "standaloneenabled": "the formula (member count decides)",
    "sessionrequireclientsaslauth": "the formula (client SASL is always enforced)",
    "superuser": "the formula (super user is 'super', password zookeeper:sasl:super_password)",
    "digestauthenticationprovider.superdigest": "the formula (a secret never goes into zoo.cfg)",
    "skipacl": "the formula (ACL checks stay on)",
    "quorumlistenonallips": "the formula (every listener binds the member address)",
    "peertype": "the formula (all members are voting participants)",
}
_OWNED_PREFIXES = {
    "server.": "zookeeper:members",
    "authprovider.": "the formula (SASL authentication provider)",
    "quorum.auth.": "the formula (quorum SASL; password zookeeper:sasl:quorum_password)",
    "enforce.auth.": "the formula (client SASL is always enforced)",
    "admin.": "zookeeper:ports:admin and zookeeper:members:<id>:address",
    "ssl.": "zookeeper:tls (keystores from the cluster CA)",
    "group.": "the formula (hierarchical quorums would break the quorum arithmetic)",
    "weight.": "the formula (weighted quorums would break the quorum arithmetic)",
}

_CONFIG_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_USER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HOST_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_HASH_RE = re.compile(r"^(sha256|sha512)=([0-9a-fA-F]+)$")
_HASH_HEX_LEN = {"sha256": 64, "sha512": 128}
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_JAR_PATH_RE = re.compile(r"^/[A-Za-z0-9._/+-]+\.jar$")


def _check_unknown_keys(v, mapping, allowed, *key_parts):
    for name in sorted(set(mapping) - set(allowed), key=str):
        v.error(v.key(*key_parts, name), f"unknown key (expected one of: {', '.join(allowed)})")


def _validate_port(v, value, key) -> int | None:
    if not is_int(value) or not 1 <= value <= 65535:
        v.error(key, f"must be an integer port 1..65535, not {value!r}")
        return None
    return value


def _validate_ports_mapping(v, mapping, base, key_parts, required, secure_bound=True):
    """Validate a ``{client, secure_client, quorum, election, admin}`` mapping, falling back to
    ``base``. The TLS client port is only bound (so only clashes) when ``secure_bound``."""
    if not isinstance(mapping, dict):
        v.error(v.key(*key_parts), "must be a mapping of client/quorum/election/admin ports")
        return None
    _check_unknown_keys(v, mapping, PORT_NAMES, *key_parts)
    ports = {}
    for name in PORT_NAMES:
        if name in mapping:
            ports[name] = _validate_port(v, mapping[name], v.key(*key_parts, name))
        elif required:
            v.error(v.key(*key_parts, name), "is required")
            ports[name] = None
        else:
            ports[name] = base.get(name) if base else None
    seen = {}
    for name in PORT_NAMES:
        port = ports[name]
        if port is None or (name == "secure_client" and not secure_bound):
            continue
        if port in seen:
            # Blame the key the pillar actually set (a member override may clash with a default).
            first = seen[port]
            blamed, other = (first, name) if name not in mapping and first in mapping else (name, first)
            v.error(v.key(*key_parts, blamed), f"port {port} is already used for the {other} port")
        else:
            seen[port] = name
    return ports


def _normalize_address(v, value, key) -> str | None:
    """An IPv4/IPv6 literal (canonical form) or an RFC 1123 hostname (lower case)."""
    if not isinstance(value, str) or not value.strip():
        v.error(key, f"must be an IPv4/IPv6 address or a hostname, not {value!r}")
        return None
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        v.error(key, f"write IPv6 addresses without brackets: {text[1:-1]!r}")
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if ":" in text:
        v.error(key, f"{text!r} is not a valid IPv6 address")
        return None
    labels = text.rstrip(".").split(".")
    if labels[-1].isdigit():
        # All-numeric last label: it was meant as an IPv4 literal, and an invalid one.
        v.error(key, f"{text!r} is not a valid IPv4 address")
        return None
    if len(text) > 253 or not all(_HOST_LABEL_RE.fullmatch(label) for label in labels):
        v.error(key, f"{text!r} is not a valid hostname or IP address")
        return None
    return text.rstrip(".").lower()


def _validate_path(v, value, key) -> str | None:
    if not isinstance(value, str) or not value:
        v.error(key, f"must be an absolute directory path, not {value!r}")
        return None
    if not value.startswith("/"):
        v.error(key, f"must be an absolute path, not {value!r}")
        return None
    if _CONTROL_RE.search(value) or any(ch in value for ch in " \t\\"):
        v.error(key, f"must not contain whitespace, backslashes or control characters: {value!r}")
        return None
    normalized = posixpath.normpath(value)
    if normalized == "/":
        v.error(key, "must not be the root directory")
        return None
    return normalized


def _validate_password(v, value, key) -> Secret | None:
    # Messages here must never echo the value.
    if value is None:
        v.error(key, "is required")
        return None
    if not isinstance(value, str):
        v.error(key, f"must be a string (quote it in YAML), not a {type(value).__name__}")
        return None
    if value == "":
        v.error(key, "must not be empty")
        return None
    if _CONTROL_RE.search(value):
        v.error(key, "must not contain control characters (newlines, tabs, ...)")
        return None
    return Secret(value)


def _validate_version(v, value) -> str | None:
    key = v.key("version")
    if not isinstance(value, str):
        v.error(key, f"must be a quoted version string like \"3.8.4\", not {value!r}")
        return None
    match = _VERSION_RE.fullmatch(value)
    if not match:
        v.error(key, f"must look like \"3.8.4\", not {value!r}")
        return None
    major, minor = int(match.group(1)), int(match.group(2))
    if major != 3 or not 5 <= minor <= 9:
        v.error(key, f"{value} is not supported: use ZooKeeper 3.6 .. 3.9")
        return None
    if minor == 5:
        v.error(
            key,
            f"{value} cannot enforce client SASL authentication "
            "(sessionRequireClientSASLAuth arrived in 3.6.0): use ZooKeeper 3.6 .. 3.9",
        )
        return None
    return value


def _validate_source(v, source, source_hash):
    key = v.key("source")
    if not isinstance(source, str) or "://" not in source or _CONTROL_RE.search(source):
        v.error(key, f"must be a URL (file://, https://, salt://, ...), not {source!r}")
        source = None
    hash_key = v.key("source_hash")
    if not isinstance(source_hash, str):
        v.error(hash_key, "is required: \"sha512=<hex>\" (or sha256=)")
        return source, None
    match = _HASH_RE.fullmatch(source_hash)
    if not match or len(match.group(2)) != _HASH_HEX_LEN[match.group(1)]:
        v.error(hash_key, "must be \"sha512=<128 hex digits>\" or \"sha256=<64 hex digits>\"")
        return source, None
    return source, f"{match.group(1)}={match.group(2).lower()}"


def _validate_names(v, value, key, pattern, what) -> tuple:
    if not isinstance(value, (list, tuple)) or not value:
        v.error(key, f"must be a non-empty list of {what}, not {value!r}")
        return ()
    bad = [item for item in value if not isinstance(item, str) or not pattern.fullmatch(item)]
    if bad:
        v.error(key, f"{bad!r}: expected {what}")
        return ()
    return tuple(value)


def _validate_four_letter_words(v, value) -> tuple:
    key = v.key("four_letter_words")
    if not isinstance(value, (list, tuple)):
        v.error(key, f"must be a list of four-letter words, not {value!r}")
        return ()
    words = []
    for word in value:
        if word == "*":
            v.error(key, "'*' is refused: list the four-letter words you need")
        elif not isinstance(word, str) or word not in KNOWN_FOUR_LETTER_WORDS:
            v.error(
                key,
                f"unknown four-letter word {word!r} (known: {', '.join(sorted(KNOWN_FOUR_LETTER_WORDS))})",
            )
        else:
            words.append(word)
    for required in REQUIRED_FOUR_LETTER_WORDS:
        if required not in value:
            v.error(key, f"must include {required!r}: the formula's health checks use it")
    return tuple(sorted(set(words)))


def _owned_key_reason(name: str) -> str | None:
    lowered = name.lower()
    if lowered in _OWNED_KEYS:
        return _OWNED_KEYS[lowered]
    for prefix, reason in _OWNED_PREFIXES.items():
        if lowered.startswith(prefix):
            return reason
    return None


def _validate_config(v, value) -> tuple:
    base = ("config",)
    if value is None:
        return ()
    if not isinstance(value, dict):
        v.error(v.key(*base), f"must be a mapping of zoo.cfg keys to values, not {value!r}")
        return ()
    accepted = []
    for name in sorted(value, key=str):
        item = value[name]
        key = v.key(*base, name)
        if not isinstance(name, str) or not _CONFIG_KEY_RE.fullmatch(name):
            v.error(key, "is not a valid zoo.cfg key (letters, digits, '.', '_', '-')")
            continue
        owner = _owned_key_reason(name)
        if owner:
            v.error(key, f"is set by the formula, not by zookeeper:config (source: {owner})")
            continue
        if isinstance(item, bool):
            rendered = "true" if item else "false"
        elif isinstance(item, (int, float, str)):
            rendered = item
        else:
            v.error(key, f"must be a string, number or boolean, not {type(item).__name__}")
            continue
        if isinstance(rendered, str) and _CONTROL_RE.search(rendered):
            v.error(key, "must not contain newlines or control characters")
            continue
        if name in INTEGER_TUNABLES:
            minimum = INTEGER_TUNABLES[name]
            if not is_int(item) or item < minimum:
                v.error(key, f"must be an integer >= {minimum}, not {item!r}")
                continue
        accepted.append((name, rendered))
    merged = dict(TUNABLE_DEFAULTS)
    merged.update(accepted)
    min_timeout, max_timeout = merged.get("minSessionTimeout"), merged.get("maxSessionTimeout")
    if is_int(min_timeout) and is_int(max_timeout) and min_timeout > max_timeout:
        v.error(v.key(*base, "minSessionTimeout"), f"{min_timeout} is larger than maxSessionTimeout {max_timeout}")
    return tuple(accepted)


def _validate_sasl(v, value):
    base = ("sasl",)
    allowed = ("super_password", "quorum_password", "users")
    if not isinstance(value, dict):
        v.error(v.key(*base), "must be a mapping with super_password, quorum_password and users")
        return None, None, ()
    _check_unknown_keys(v, value, allowed, *base)
    super_password = _validate_password(v, value.get("super_password"), v.key(*base, "super_password"))
    quorum_password = _validate_password(v, value.get("quorum_password"), v.key(*base, "quorum_password"))
    users = {} if value.get("users") is None else value["users"]
    accepted = []
    if not isinstance(users, dict):
        v.error(v.key(*base, "users"), "must be a mapping of user name -> {password: ...}")
        return super_password, quorum_password, ()
    for name in sorted(users, key=str):
        entry = users[name]
        key_parts = (*base, "users", name)
        if not isinstance(name, str) or not _USER_NAME_RE.fullmatch(name):
            v.error(v.key(*key_parts), "user names use letters, digits, '_', '.', '-' only")
            continue
        if name == SUPER_USER:
            v.error(v.key(*key_parts), "'super' is reserved: its password is zookeeper:sasl:super_password")
            continue
        if not isinstance(entry, dict):
            v.error(v.key(*key_parts), "must be a mapping with a password")
            continue
        _check_unknown_keys(v, entry, ("password",), *key_parts)
        secret = _validate_password(v, entry.get("password"), v.key(*key_parts, "password"))
        if secret is not None:
            accepted.append((name, secret))
    return super_password, quorum_password, tuple(accepted)


def _validate_tls(v, value) -> TlsSettings:
    base = ("tls",)
    defaults = DEFAULTS["tls"]
    if value is None:
        return TlsSettings()
    if not isinstance(value, dict):
        v.error(v.key(*base), f"must be a mapping ({', '.join(defaults)}), not {value!r}")
        return TlsSettings()
    _check_unknown_keys(v, value, tuple(defaults), *base)
    merged = {**defaults, **value}
    for name in ("enabled", "plaintext_clients", "hostname_verification"):
        if not isinstance(merged[name], bool):
            v.error(v.key(*base, name), f"must be true or false, not {merged[name]!r}")
            merged[name] = defaults[name]
    if merged["client_auth"] not in TLS_CLIENT_AUTH_VALUES:
        v.error(
            v.key(*base, "client_auth"),
            f"must be one of {', '.join(TLS_CLIENT_AUTH_VALUES)}, not {merged['client_auth']!r}",
        )
        merged["client_auth"] = defaults["client_auth"]
    if not merged["enabled"] and not merged["plaintext_clients"]:
        v.error(
            v.key(*base, "plaintext_clients"),
            "false needs zookeeper:tls:enabled: true, or clients would have no port at all",
        )
    return TlsSettings(**{name: merged[name] for name in defaults})


def _validate_members(v, value, default_ports, allow_single_member, secure_bound=False):
    base = ("members",)
    if not isinstance(value, dict) or not value:
        v.error(v.key(*base), "must map at least one minion id to {myid, address}")
        return ()
    members = []
    for minion_id in sorted(value, key=str):
        entry = value[minion_id]
        key_parts = (*base, minion_id)
        if not isinstance(minion_id, str) or not minion_id or any(ch.isspace() for ch in minion_id):
            v.error(v.key(*key_parts), "minion ids must be non-empty strings without spaces")
            continue
        if not isinstance(entry, dict):
            v.error(v.key(*key_parts), "must be a mapping with myid and address")
            continue
        _check_unknown_keys(v, entry, ("myid", "address", "ports"), *key_parts)
        myid = entry.get("myid")
        myid_ok = True
        if "myid" not in entry:
            v.error(v.key(*key_parts, "myid"), "is required (an integer 1..255, never reused)")
            myid_ok = False
        elif not is_int(myid) or not 1 <= myid <= 255:
            v.error(v.key(*key_parts, "myid"), f"must be an integer 1..255, not {myid!r}")
            myid_ok = False
        if "address" not in entry:
            v.error(v.key(*key_parts, "address"), "is required (IPv4/IPv6 address or hostname)")
            address = None
        else:
            address = _normalize_address(v, entry["address"], v.key(*key_parts, "address"))
        ports = default_ports
        if "ports" in entry:
            ports = _validate_ports_mapping(v, entry["ports"], default_ports, (*key_parts, "ports"), False,
                                            secure_bound)
        if not myid_ok or address is None or ports is None or None in ports.values():
            continue
        members.append(
            Member(
                minion_id=minion_id,
                myid=myid,
                address=address,
                client_port=ports["client"],
                secure_client_port=ports["secure_client"],
                quorum_port=ports["quorum"],
                election_port=ports["election"],
                admin_port=ports["admin"],
            )
        )

    by_myid = {}
    for member in members:
        if member.myid in by_myid:
            v.error(
                v.key(*base, member.minion_id, "myid"),
                f"myid {member.myid} is already used by {by_myid[member.myid].minion_id}",
            )
        else:
            by_myid[member.myid] = member

    # Two members may share an address (several members on one host) only on distinct ports.
    for index, member in enumerate(members):
        for earlier in members[:index]:
            if earlier.address != member.address:
                continue
            def bound(m):
                return {name: port for name, port in m.ports.items() if secure_bound or name != "secure_client"}

            clashes = [
                f"{port} ({mine} here, {theirs} on {earlier.minion_id})"
                for mine, port in bound(member).items()
                for theirs, other in bound(earlier).items()
                if port == other
            ]
            if clashes:
                v.error(
                    v.key(*base, member.minion_id, "address"),
                    f"{member.address} is also {earlier.minion_id}'s address and the ports collide: "
                    + ", ".join(clashes),
                )

    count = len(value)
    if count == 1 and not allow_single_member:
        v.error(
            v.key(*base),
            "a single member has no fault tolerance: use 3 or 5 members, "
            "or set zookeeper:allow_single_member: true (test beds only)",
        )
    elif count % 2 == 0:
        v.error(
            v.key(*base),
            f"{count} members: an even count tolerates no more failures than {count - 1} "
            f"and needs a larger quorum; use {count - 1} or {count + 1}",
        )
    return tuple(sorted(members, key=lambda m: m.myid))


def _validate_heap(v, heap_mb, members, sizing_by_minion):
    """An explicit heap: at least MIN_HEAP_MB and no more than the RAM of any member whose
    hardware facts the master has (``{minion: {"mem_total_bytes": int}}``)."""
    key = v.key("heap_mb")
    if not is_int(heap_mb) or heap_mb <= 0:
        v.error(key, f"must be a positive integer (MiB) or null, not {heap_mb!r}")
        return
    if heap_mb < MIN_HEAP_MB:
        v.error(key, f"{heap_mb} MiB is too small for ZooKeeper (at least {MIN_HEAP_MB}; heap_mb is in MiB, not GiB)")
        return
    for member in members:
        facts = (sizing_by_minion or {}).get(member.minion_id)
        mem_total = facts.get("mem_total_bytes") if isinstance(facts, dict) else None
        if is_int(mem_total) and mem_total > 0 and heap_mb * 1024 * 1024 > mem_total:
            v.error(key, f"{heap_mb} MiB is more than the RAM of {member.minion_id} ({mem_total // (1024 * 1024)} MiB)")


def _build_model(zk_pillar, heap_mb_default, sizing_by_minion=None) -> EnsembleModel:
    v = Collector(PILLAR_ROOT)
    if zk_pillar is None:
        zk_pillar = {}
    if not isinstance(zk_pillar, dict):
        v.fail(f"must be a mapping, not {type(zk_pillar).__name__}")
    _check_unknown_keys(v, zk_pillar, list(DEFAULTS))
    merged = {**DEFAULTS, **zk_pillar}

    version = _validate_version(v, merged["version"])
    install = merged["install"]
    packages, package_classpath = (), ()
    if install not in INSTALL_METHODS:
        v.error(v.key("install"), f"must be one of {', '.join(INSTALL_METHODS)}, not {install!r}")
        install = "archive"
    # The package lists are checked with install: package, and when a pillar sets them (not
    # empty) beside install: archive, so a broken list waits for no switch of install method.
    packages_keys = ("packages", "package_classpath")
    if install == "package" or any(zk_pillar.get(name) not in (None, []) for name in packages_keys):
        packages = _validate_names(v, merged["packages"], v.key("packages"), _PACKAGE_RE, "Debian package names")
        package_classpath = _validate_names(v, merged["package_classpath"], v.key("package_classpath"),
                                            _JAR_PATH_RE, "absolute .jar paths")
    if install == "archive":
        source, source_hash = _validate_source(v, merged["source"], merged["source_hash"])
        packages, package_classpath = (), ()
    else:
        source = source_hash = None

    allow_single = merged["allow_single_member"]
    if not isinstance(allow_single, bool):
        v.error(v.key("allow_single_member"), f"must be true or false, not {allow_single!r}")
        allow_single = False

    ports_value = merged["ports"]
    if isinstance(ports_value, dict):
        ports_value = {**DEFAULTS["ports"], **ports_value}
    tls_value = merged["tls"]
    secure_bound = isinstance(tls_value, dict) and tls_value.get("enabled") is True
    default_ports = _validate_ports_mapping(v, ports_value, DEFAULTS["ports"], ("ports",), True, secure_bound)
    members = ()
    if default_ports is not None and None not in default_ports.values():
        members = _validate_members(v, merged["members"], default_ports, allow_single, secure_bound)
    else:
        # Still report member errors that do not depend on the ports.
        _validate_members(v, merged["members"], DEFAULTS["ports"], allow_single, secure_bound)

    data_dir = _validate_path(v, merged["data_dir"], v.key("data_dir"))
    data_log_dir = _validate_path(v, merged["data_log_dir"], v.key("data_log_dir"))

    heap_mb = merged["heap_mb"]
    if heap_mb is None:
        heap_mb = heap_mb_default if heap_mb_default is not None else FALLBACK_HEAP_MB
    else:
        _validate_heap(v, heap_mb, members, sizing_by_minion)

    four_letter_words = _validate_four_letter_words(v, merged["four_letter_words"])
    sasl_value = merged["sasl"]
    super_password, quorum_password, users = _validate_sasl(v, sasl_value)
    config = _validate_config(v, merged["config"])
    tls = _validate_tls(v, merged["tls"])

    v.raise_errors()
    return EnsembleModel(
        version=version,
        source=source,
        source_hash=source_hash,
        allow_single_member=allow_single,
        members=members,
        client_port=default_ports["client"],
        quorum_port=default_ports["quorum"],
        election_port=default_ports["election"],
        admin_port=default_ports["admin"],
        secure_client_port=default_ports["secure_client"],
        data_dir=data_dir,
        data_log_dir=data_log_dir,
        heap_mb=heap_mb,
        four_letter_words=four_letter_words,
        config=config,
        super_password=super_password,
        quorum_password=quorum_password,
        user_passwords=users,
        tls=tls,
        install=install,
        packages=packages,
        package_classpath=package_classpath,
    )


__all__ = ["KNOWN_FOUR_LETTER_WORDS"]

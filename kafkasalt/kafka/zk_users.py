"""SCRAM users stored by Kafka in ZooKeeper (``<chroot>/config/users/<name>``).

Used before any broker runs (the super user and the inter-broker user must exist before a
broker using SCRAM between brokers can start) and as the fallback when no broker answers.
The result is byte-for-byte what the AdminClient path produces, so either path can manage a
user the other created.
"""

from urllib.parse import unquote

from kafkasalt.security import scram


def _path(chroot, suffix):
    return (chroot.rstrip("/") + suffix) if chroot and chroot != "/" else suffix


def _announce(client, chroot, username):
    """Tell running brokers to reload the user; skipped before any broker created the queue."""
    changes = _path(chroot, "/config/changes")
    if client.exists(changes):
        client.create(_path(chroot, scram.CHANGE_NOTIFICATION_PREFIX),
                      scram.change_notification_data(scram.user_entity_path(username)), sequence=True)


def describe_user(client, chroot, username):
    """Mechanisms (with iterations) stored for ``username``; ``{}`` when the user has none."""
    path = _path(chroot, scram.user_znode_path(username))
    if not client.exists(path):
        return {}
    config = scram.parse_user_znode(client.get(path)[0])
    return {m: {"iterations": c.iterations} for m, c in scram.scram_credentials_from_config(config).items()}


def list_users(client, chroot):
    """``{username: {mechanism: {iterations}}}`` for every user holding a SCRAM credential."""
    base = _path(chroot, scram.USERS_CONFIG_PATH)
    if not client.exists(base):
        return {}
    users = {}
    for child in sorted(client.get_children(base)):
        config = scram.parse_user_znode(client.get(f"{base}/{child}")[0])
        creds = scram.scram_credentials_from_config(config)
        if creds:
            users[unquote(child)] = {m: {"iterations": c.iterations} for m, c in creds.items()}
    return users


def upsert_user(client, chroot, username, password, mechanism="SCRAM-SHA-512",
                iterations=scram.DEFAULT_ITERATIONS, acl=None, dry_run=False):
    """Create or update ``username``'s credential. Returns ``(changed, reason)``; the reason never
    carries the password. Other config keys of the user (quotas) are kept."""
    mechanism = scram.normalize_mechanism(mechanism)
    path = _path(chroot, scram.user_znode_path(username))
    exists = client.exists(path)
    config = scram.parse_user_znode(client.get(path)[0]) if exists else {}
    existing = scram.scram_credentials_from_config(config).get(mechanism)
    needed, reason = scram.credential_needs_update(existing, password, iterations)
    if not needed:
        return False, reason
    if existing is not None and reason == "password changed":
        reason = "password rotated"
    if dry_run:
        return True, reason
    data = scram.user_znode_data({mechanism: scram.make_credential(password, mechanism, iterations)}, config)
    if exists:
        client.set(path, data)
    else:
        client.create(path, data, acl=acl, makepath=True)
    _announce(client, chroot, username)
    return True, reason


def delete_user(client, chroot, username, mechanism=None, dry_run=False):
    """Remove ``username``'s SCRAM credential (one mechanism, or all). Returns changed."""
    path = _path(chroot, scram.user_znode_path(username))
    if not client.exists(path):
        return False
    config = scram.parse_user_znode(client.get(path)[0])
    mechanisms = [scram.normalize_mechanism(mechanism)] if mechanism else list(scram.MECHANISMS)
    present = [m for m in mechanisms if m in config]
    if not present:
        return False
    if not dry_run:
        client.set(path, scram.user_znode_data({}, config, remove_mechanisms=present))
        _announce(client, chroot, username)
    return True


def entity_configs(client, chroot, entity_type="users"):
    """``{name: config map}`` of every ``<chroot>/config/<entity_type>/<name>`` znode as Kafka
    stores it (users: SCRAM credentials and quota keys side by side; clients: quota keys).
    Names are unsanitized; empty configs are left out."""
    if entity_type not in scram.CONFIG_ENTITY_TYPES:
        raise ValueError(f"entity_type must be one of {', '.join(scram.CONFIG_ENTITY_TYPES)}, got {entity_type!r}")
    base = _path(chroot, f"/config/{entity_type}")
    if not client.exists(base):
        return {}
    configs = {}
    for child in sorted(client.get_children(base)):
        config = scram.parse_user_znode(client.get(f"{base}/{child}")[0])
        if config:
            configs[unquote(child)] = config
    return configs


def write_entity_config(client, chroot, entity_type, name, config, acl=None):
    """Replace the config map of ``<chroot>/config/<entity_type>/<name>`` with ``config`` (Kafka's
    JSON, keys sorted) and announce the change to the brokers. The caller merges: keys not in
    ``config`` are gone afterwards."""
    if entity_type not in scram.CONFIG_ENTITY_TYPES:
        raise ValueError(f"entity_type must be one of {', '.join(scram.CONFIG_ENTITY_TYPES)}, got {entity_type!r}")
    scram.validate_username(name, "name")
    sanitized = scram.sanitize_entity_name(name)
    path = _path(chroot, f"/config/{entity_type}/{sanitized}")
    data = scram.user_znode_data({}, config)
    if client.exists(path):
        client.set(path, data)
    else:
        client.create(path, data, acl=acl, makepath=True)
    changes = _path(chroot, "/config/changes")
    if client.exists(changes):
        client.create(_path(chroot, scram.CHANGE_NOTIFICATION_PREFIX),
                      scram.change_notification_data(f"{entity_type}/{sanitized}"), sequence=True)

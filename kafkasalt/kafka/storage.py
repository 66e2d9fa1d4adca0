"""KRaft storage: the ``kafka-storage.sh format`` argument list, and the rule that a directory
holding data is never formatted.

Controllers are formatted with ``--initial-controllers`` (every voter as
``node_id@host:port:directory_id``, the KIP-853 dynamic quorum; the ids come from
:mod:`kafkasalt.kafka.cluster_id`, so each controller formats the directory id the others
expect) and ``--add-scram`` for the super and inter-broker users, so the first active
controller writes them into the metadata log before any broker needs them. Brokers get
``--no-initial-controllers`` and no SCRAM (they read the users from the controllers, and
their argument list then holds no password). A combined node is formatted as a controller.

The argument list holds passwords (``--add-scram``): run it without a shell and never log it;
:func:`redacted` is the form to show.
"""

import os

from kafkasalt.common.secret import Secret
from kafkasalt.kafka.cluster_id import id_problem

META_PROPERTIES = "meta.properties"
#: Entries a fresh file system holds without being data (ext4's lost+found at a mount point).
NOT_DATA = ("lost+found",)


def _scram_argument(mechanism, name, password):
    value = password.reveal() if isinstance(password, Secret) else password
    if not isinstance(value, str) or not value or '"' in value:
        raise ValueError(f"the password of {name} must be a non-empty string without '\"' "
                         "(kafka-storage.sh reads it as a quoted value)")
    return f'{mechanism}=[name="{name}",password="{value}"]'


def format_arguments(model, minion_id, cluster_id, directory_ids, config_path, storage_script="kafka-storage.sh"):
    """The argv of ``kafka-storage.sh format`` for ``minion_id`` (SECRET on controllers).

    ``cluster_id``: the cluster's kept id; ``directory_ids``: controller node id -> its kept
    metadata directory id; ``config_path``: the node's rendered ``server.properties``.
    """
    problem = id_problem(cluster_id)
    if problem:
        raise ValueError(f"cluster_id: {problem}")
    if not isinstance(config_path, str) or not config_path.startswith("/"):
        raise ValueError(f"config_path: expected an absolute path, got {config_path!r}")
    roles = model.roles(minion_id)
    if not roles:
        raise KeyError(f"minion '{minion_id}' is neither in kafka:brokers nor in kafka:controllers")
    argv = [storage_script, "format", "--cluster-id", cluster_id, "--config", config_path]
    if "controller" in roles:
        voters = []
        for controller in model.controllers:
            directory_id = directory_ids.get(controller.node_id)
            problem = id_problem(directory_id)
            if problem:
                raise ValueError(f"directory_ids[{controller.node_id}]: {problem}")
            voters.append(f"{controller.node_id}@{controller.endpoint}:{directory_id}")
        argv += ["--initial-controllers", ",".join(voters)]
        for user in (model.super_user, model.inter_broker_user):
            argv += ["--add-scram", _scram_argument(model.sasl_mechanism, user.name, user.password)]
    else:
        argv.append("--no-initial-controllers")
    return argv


def redacted(argv):
    """``argv`` with the passwords of ``--add-scram`` replaced by ``***``, for logs and output."""
    shown, hide = [], False
    for arg in argv:
        if hide and ",password=" in arg:
            arg = arg.split(",password=", 1)[0] + ',password="***"]'
        shown.append(arg)
        hide = arg == "--add-scram"
    return shown


def format_refusal(contents):
    """Why formatting must not run, or None when it may: the rule "never format a directory
    that holds data". ``contents``: log dir -> the names it holds (``None`` when it does not
    exist yet). A ``meta.properties`` means the directory is formatted already (a second
    format would give it a new identity); any other entry is data Kafka or someone put there."""
    for directory in sorted(contents):
        names = contents[directory]
        if names is None:
            continue
        if META_PROPERTIES in names:
            return f"{directory} is formatted already ({META_PROPERTIES} present): never format it again"
        data = sorted(name for name in names if name not in NOT_DATA)
        if data:
            return (f"{directory} holds data ({len(data)} entr{'y' if len(data) == 1 else 'ies'}: "
                    f"{', '.join(data[:3])}{', ...' if len(data) > 3 else ''}): never format over it")
    return None


def log_dir_contents(log_dirs):
    """What :func:`format_refusal` reads, from this host's file system."""
    contents = {}
    for directory in log_dirs:
        try:
            contents[directory] = os.listdir(directory)
        except FileNotFoundError:
            contents[directory] = None
    return contents

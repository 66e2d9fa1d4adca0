"""KRaft storage: the ``kafka-storage.sh format`` arguments, and the rule that a directory
holding data is never formatted.

Controllers are formatted with ``--initial-controllers`` (every voter as
``node_id@host:port:directory_id``, the KIP-853 dynamic quorum; the ids come from
:mod:`kafkasalt.kafka.cluster_id`, so each controller formats the directory id the others
expect) and ``--add-scram`` for the super and inter-broker users, so the first active
controller writes them into the metadata log before any broker needs them. Brokers get
``--no-initial-controllers`` and no SCRAM (only the active controller reads the bootstrap
records; brokers read the users from the metadata log, and their argument list then holds no
password). A combined node is formatted as a controller.

The argument list of a controller holds passwords (``--add-scram``): :func:`format_arguments`
returns a :class:`FormatArguments`, which shows itself redacted (``repr``, ``str``, logging)
and gives the real argv only through :meth:`FormatArguments.reveal`. Run that without a shell,
or better through :meth:`FormatArguments.argument_file`, which keeps the passwords out of
``ps`` (every local user can read a process's command line).

Kafka's ``--add-scram`` parser (``org.apache.kafka.metadata.storage.ScramParser``) splits the
text between the brackets on every ``,`` and strips one pair of surrounding ``"`` from a value,
with no escapes: a password with a ``,`` or a ``"`` cannot be passed, so it is refused here (and
by the pillar validator, naming the key) instead of becoming a different password or an
``iterations=`` setting.
"""

import os
import re
from dataclasses import dataclass

from kafkasalt.common.quoting import parse_properties
from kafkasalt.common.secret import Secret
from kafkasalt.kafka.cluster_id import id_problem

META_PROPERTIES = "meta.properties"
#: Entries a fresh file system holds without being data (ext4's lost+found at a mount point).
NOT_DATA = ("lost+found",)
#: What ScramParser cannot carry in a value (it splits on ',' and strips surrounding '"').
SCRAM_UNSAFE = (",", '"')
REDACTED = "***"
_SCRAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_MECHANISM = re.compile(r"^SCRAM-SHA-(256|512)$")


# --- the argument list --------------------------------------------------------------------------

def scram_password_problem(password):
    """Why ``password`` cannot reach ``kafka-storage.sh format --add-scram`` (None when it can)."""
    value = password.reveal() if isinstance(password, Secret) else password
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    unsafe = [char for char in SCRAM_UNSAFE if char in value]
    if unsafe:
        return (f"must not contain {' or '.join(repr(c) for c in unsafe)}: kafka-storage.sh format --add-scram "
                "splits its value on ',' and strips '\"' without escapes")
    return None


def scram_argument(mechanism, name, password):
    """One ``--add-scram`` value, Kafka's documented form ``SCRAM-SHA-512=[name=alice,password=...]``
    (SECRET). Kafka draws the salt and uses its default 4096 iterations."""
    if not isinstance(mechanism, str) or not _MECHANISM.match(mechanism):
        raise ValueError(f"mechanism: expected SCRAM-SHA-256 or SCRAM-SHA-512, got {mechanism!r}")
    if not isinstance(name, str) or not _SCRAM_NAME.match(name):
        raise ValueError(f"name: expected a user name of letters, digits, '.', '_', '@' or '-', got {name!r}")
    problem = scram_password_problem(password)
    if problem:
        raise ValueError(f"the password of {name} {problem}")  # never the value
    value = password.reveal() if isinstance(password, Secret) else password
    return f"{mechanism}=[name={name},password={value}]"


def redact_argument(arg):
    """``arg`` with everything after ``password=`` (and ``saltedpassword=``) hidden."""
    head, sep, _ = arg.partition("password=")
    return f"{head}{sep}{REDACTED}]" if sep else arg


def redacted(argv):
    """``argv`` with the ``--add-scram`` values' passwords replaced by ``***``, for logs and output."""
    shown, previous = [], None
    for arg in argv:
        arg = str(arg)
        if previous in ("--add-scram", "-S"):
            arg = redact_argument(arg)
        elif arg.startswith("--add-scram="):
            arg = "--add-scram=" + redact_argument(arg[len("--add-scram="):])
        shown.append(arg)
        previous = arg
    return shown


class FormatArguments:
    """The argv of one ``kafka-storage.sh format`` run. Shows itself redacted (``repr``,
    ``str``, ``%s`` in a log call); :meth:`reveal` is the real list, to run without a shell and
    never to log. Not serializable (it may hold passwords)."""

    __slots__ = ("_argv",)

    def __init__(self, argv):
        self._argv = tuple(str(arg) for arg in argv)

    def reveal(self):
        """The real argument list (SECRET on controllers)."""
        return list(self._argv)

    def redacted(self):
        return redacted(self._argv)

    def argument_file(self, path):
        """Keep the passwords out of the process table: ``(argv, text)`` where ``argv`` is
        ``[kafka-storage.sh, "@<path>"]`` (nothing secret: safe to log) and ``text`` the other
        arguments one a line (SECRET: write it to ``path`` 0600 and remove it after the run).
        kafka-storage.sh reads an ``@file`` argument that way (argparse4j, one argument a line,
        not split on spaces); the java launcher leaves arguments after the main class alone."""
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"path: expected an absolute path, got {path!r}")
        if any("\n" in arg or "\r" in arg for arg in self._argv):
            raise ValueError("an argument holds a line break: it cannot go into an argument file")
        return [self._argv[0], f"@{path}"], "".join(f"{arg}\n" for arg in self._argv[1:])

    @property
    def holds_secrets(self):
        return self.redacted() != list(self._argv)

    def __repr__(self):
        return f"FormatArguments({self.redacted()!r})"

    def __str__(self):
        return " ".join(self.redacted())

    def __format__(self, spec):
        return format(str(self), spec)

    def __eq__(self, other):
        return isinstance(other, FormatArguments) and other._argv == self._argv

    def __hash__(self):
        return hash(self._argv)

    def __reduce__(self):
        raise TypeError("FormatArguments may hold passwords and are not serialized")


def node_id(model, minion_id):
    """The ``node.id`` of a minion: its controller ``node_id`` or its ``broker_id`` (a combined
    node has one id, the validator makes them equal)."""
    roles = model.roles(minion_id)
    if not roles:
        raise KeyError(f"minion '{minion_id}' is neither in kafka:brokers nor in kafka:controllers")
    return model.controller(minion_id).node_id if "controller" in roles else model.broker(minion_id).broker_id


def initial_controllers(model, directory_ids):
    """``--initial-controllers``: ``node_id@host:port:directory_id`` of every voter, by node id
    (IPv6 hosts in brackets, as Kafka's DynamicVoter parser reads them)."""
    if not model.controllers:
        raise ValueError("kafka:controllers is empty: a KRaft cluster needs at least one controller")
    voters = []
    for controller in model.controllers:
        directory_id = (directory_ids or {}).get(controller.node_id)
        problem = id_problem(directory_id)
        if problem:
            raise ValueError(f"directory_ids[{controller.node_id}]: {problem}")
        voters.append(f"{controller.node_id}@{controller.endpoint}:{directory_id}")
    if len({v.rsplit(":", 1)[1] for v in voters}) != len(voters):
        raise ValueError("directory_ids: two controllers have the same directory id; each voter needs its own")
    return ",".join(voters)


def format_arguments(model, minion_id, cluster_id, directory_ids, config_path, storage_script="kafka-storage.sh",
                     ignore_formatted=False):
    """The :class:`FormatArguments` of ``kafka-storage.sh format`` for ``minion_id``.

    ``cluster_id``: the cluster's kept id; ``directory_ids``: controller node id -> its kept
    metadata directory id (needed on controllers only); ``config_path``: the node's rendered
    ``server.properties``; ``ignore_formatted``: pass ``--ignore-formatted`` (what
    :func:`plan_format` says when some log dirs are formatted already and others are new).
    """
    problem = id_problem(cluster_id)
    if problem:
        raise ValueError(f"cluster_id: {problem}")
    if not isinstance(config_path, str) or not config_path.startswith("/"):
        raise ValueError(f"config_path: expected an absolute path, got {config_path!r}")
    if not model.kraft:
        raise ValueError("kafka-storage.sh format is for KRaft mode only (kafka:mode: kraft)")
    roles = model.roles(minion_id)
    if not roles:
        raise KeyError(f"minion '{minion_id}' is neither in kafka:brokers nor in kafka:controllers")
    argv = [storage_script, "format", "--cluster-id", cluster_id, "--config", config_path]
    if ignore_formatted:
        argv.append("--ignore-formatted")
    if "controller" in roles:
        argv += ["--initial-controllers", initial_controllers(model, directory_ids)]
        for user in (model.super_user, model.inter_broker_user):
            argv += ["--add-scram", scram_argument(model.sasl_mechanism, user.name, user.password)]
    else:
        argv.append("--no-initial-controllers")
    return FormatArguments(argv)


# --- never format a directory that holds data ---------------------------------------------------

@dataclass(frozen=True)
class DirState:
    """What a log dir holds: ``entries`` (None when it does not exist), the text of its
    ``meta.properties`` (None without one) and ``error`` (it cannot be read or is no directory)."""

    entries: tuple = None
    meta_text: str = None
    error: str = None


@dataclass(frozen=True)
class FormatPlan:
    """What to do with a node's log dirs: ``action`` is ``format`` (run kafka-storage.sh
    format, with ``--ignore-formatted`` when ``ignore_formatted``), ``formatted`` (every dir
    holds this cluster's and this node's meta.properties: nothing to do) or ``refuse``
    (``reason`` says why; nothing may be formatted)."""

    action: str
    reason: str
    ignore_formatted: bool = False
    to_format: tuple = ()

    @property
    def refused(self):
        return self.action == "refuse"


def _meta_problem(directory, meta_text, cluster_id, node_id, directory_id):
    """Why an existing ``meta.properties`` is not this node's, or None when it is."""
    meta = parse_properties(meta_text)
    where = f"{directory}/{META_PROPERTIES}"
    if meta.get("version") != "1":
        return (f"{where} is version {meta.get('version')!r}, not a KRaft (version 1) one: this directory belongs to a "
                "ZooKeeper-mode broker; migrate that cluster, never format over it")
    if meta.get("cluster.id") != cluster_id:
        return (f"{where} holds cluster id {meta.get('cluster.id')!r}, not this cluster's {cluster_id}: it is another "
                "cluster's data; never format over it (if the kept id was lost, restore it from a backup)")
    if meta.get("node.id") != str(node_id):
        return (f"{where} holds node id {meta.get('node.id')!r}, not {node_id}: it is another node's data; "
                "never format over it")
    if directory_id is not None and meta.get("directory.id") != directory_id:
        return (f"{where} holds directory id {meta.get('directory.id')!r}, not {directory_id}, the one the quorum "
                "was formatted with (--initial-controllers); never format over it")
    return None


def plan_format(states, cluster_id, node_id, directory_id=None, metadata_log_dir=None, formatted_before=False):
    """The :class:`FormatPlan` for one node (pure: ``states`` comes from :func:`read_log_dirs`).

    ``states``: log dir -> :class:`DirState`, in ``log.dirs`` order (the first is the metadata
    log dir unless ``metadata_log_dir`` says otherwise); ``directory_id``: the kept directory id
    of a controller, checked in its metadata log dir; ``formatted_before``: the master recorded
    that this controller was formatted as a voter already
    (:meth:`~kafkasalt.kafka.cluster_id.KraftIdStore.was_formatted`). The rule: a directory that holds anything
    but a ``meta.properties`` of this cluster and node (partition dirs, a checkpoint, another
    cluster's or a ZooKeeper-mode ``meta.properties``) is never formatted; formatted dirs of
    this node are left as they are.
    """
    if not states:
        raise ValueError("states: no log dirs")
    problem = id_problem(cluster_id)
    if problem:
        raise ValueError(f"cluster_id: {problem}")
    metadata_log_dir = metadata_log_dir or next(iter(states))
    if metadata_log_dir not in states:
        raise ValueError(f"metadata_log_dir {metadata_log_dir} is not one of the log dirs {list(states)}")
    empty, formatted = [], []
    for directory, state in states.items():
        if state.error:
            return FormatPlan("refuse", f"{directory}: {state.error}; nothing was formatted")
        if state.meta_text is not None:
            problem = _meta_problem(directory, state.meta_text, cluster_id, node_id,
                                    directory_id if directory == metadata_log_dir else None)
            if problem:
                return FormatPlan("refuse", problem)
            formatted.append(directory)
            continue
        data = sorted(name for name in (state.entries or ()) if name not in NOT_DATA)
        if data:
            shown = ", ".join(data[:3]) + (", ..." if len(data) > 3 else "")
            return FormatPlan("refuse", (f"{directory} holds data ({len(data)} entr{'y' if len(data) == 1 else 'ies'}: "
                                         f"{shown}) but no {META_PROPERTIES}: never format over it"))
        empty.append(directory)
    if formatted_before and not formatted:
        return FormatPlan("refuse", (f"controller {node_id} was formatted as a voter before (the master recorded it) "
                                     f"and its log dirs are empty now: a wiped voter that came back with its old "
                                     "directory id could vote twice in one epoch; recover it by hand (format with "
                                     "--no-initial-controllers and a new directory id, then kafka-metadata-quorum.sh "
                                     "remove-controller and add-controller)"))
    if not empty:
        return FormatPlan("formatted", f"every log dir is formatted already with cluster id {cluster_id} and node id "
                                       f"{node_id}: nothing to do")
    if formatted and metadata_log_dir in empty:
        return FormatPlan("refuse", (f"the metadata log dir {metadata_log_dir} is empty while {', '.join(formatted)} "
                                     "is formatted: a lost metadata disk is recovered by hand (a controller: format "
                                     "it with --no-initial-controllers and add it back with kafka-metadata-quorum.sh "
                                     "add-controller), never formatted again as a first-time voter"))
    if formatted:
        return FormatPlan("format", f"new empty log dirs {', '.join(empty)}; the formatted ones are kept",
                          ignore_formatted=True, to_format=tuple(empty))
    return FormatPlan("format", f"every log dir is empty: format {', '.join(empty)}", to_format=tuple(empty))


def format_refusal(states, cluster_id, node_id, directory_id=None):
    """Why formatting must not run (a string), or None when it may or need not."""
    plan = plan_format(states, cluster_id, node_id, directory_id)
    return plan.reason if plan.refused else None


def read_log_dirs(log_dirs):
    """What :func:`plan_format` reads, from this host's file system (in ``log_dirs`` order)."""
    states = {}
    for directory in log_dirs:
        try:
            entries = tuple(sorted(os.listdir(directory)))
        except FileNotFoundError:
            states[directory] = DirState()
            continue
        except NotADirectoryError:
            states[directory] = DirState(error="exists but is not a directory")
            continue
        except OSError as exc:
            states[directory] = DirState(error=f"cannot be read ({exc.strerror})")
            continue
        meta_text = None
        if META_PROPERTIES in entries:
            try:
                with open(os.path.join(directory, META_PROPERTIES), encoding="utf-8") as handle:
                    meta_text = handle.read()
            except (OSError, UnicodeDecodeError) as exc:
                states[directory] = DirState(entries=entries, error=f"{META_PROPERTIES} cannot be read ({exc})")
                continue
        states[directory] = DirState(entries=entries, meta_text=meta_text)
    return states

"""The Kafka admin layer: topics, configs, cluster health, groups, SCRAM users, ACLs, reassignments.

Pure Python on kafka-python 3.0.x's ``KafkaAdminClient``; Salt's loader modules wrap it thinly.
One :class:`KafkaAdmin` holds one client (connected lazily on first use, closed by
:meth:`KafkaAdmin.close` or on leaving a ``with`` block). It is composed of one mixin per
concern, each in its own module, over the connection they share:

=====================  =============================================================
:mod:`.connection`     ConnectionSettings, the error classes, the log redaction, AdminConnection
:mod:`.arguments`      argument checks shared by the operations
:mod:`.topics`         list, describe, create, delete, add partitions
:mod:`.configs`        topic and broker configs (IncrementalAlterConfigs)
:mod:`.health`         describe_cluster and the health verdict
:mod:`.groups`         consumer groups: lag, states, committed offsets, offset commits
:mod:`.scram`          SCRAM users through AlterUserScramCredentials
:mod:`.acls`           ACL bindings
:mod:`.reassignments`  partition reassignments, throttles, preferred leaders
=====================  =============================================================

Conventions:

- Every failure raises :class:`~.connection.KafkaAdminError` with a message a person can act on
  ("authentication failed for user 'admin'", "cannot reach any bootstrap server: ..."). Bad
  arguments raise :class:`~.connection.KafkaInputError` (also a ``ValueError``) whose message
  starts with the argument's name. No message, log line or ``repr`` carries the password.
- Results are plain dicts/lists of JSON-friendly values (Salt serialises them), sorted so that
  two calls on an unchanged cluster compare equal.
- Mutating calls are idempotent and return what they changed (empty when nothing was to do);
  most take ``dry_run=True`` to compute that without applying it (Salt's ``test=True``).

A few requests are built from kafka-python's protocol classes and sent through the client's
connection manager (``_manager``) because its high-level helpers either hide per-resource error
codes (DescribeConfigs of a missing topic looks like a topic without overrides) or cannot address
the cluster-wide default broker resource (empty name). Those spots are marked "raw request"; they
are tied to kafka-python 3.0.x, which the requirements must pin.
"""

from kafkasalt.kafka.admin.acls import AclsMixin
from kafkasalt.kafka.admin.configs import ConfigsMixin
from kafkasalt.kafka.admin.connection import AdminConnection
from kafkasalt.kafka.admin.groups import GroupsMixin
from kafkasalt.kafka.admin.health import HealthMixin
from kafkasalt.kafka.admin.reassignments import ReassignmentsMixin
from kafkasalt.kafka.admin.scram import ScramMixin
from kafkasalt.kafka.admin.topics import TopicsMixin

__all__ = ["KafkaAdmin"]


class KafkaAdmin(TopicsMixin, ConfigsMixin, HealthMixin, GroupsMixin, ScramMixin, AclsMixin, ReassignmentsMixin,
                 AdminConnection):
    """Admin operations on one cluster through one kafka-python ``KafkaAdminClient``.

    The connection opens on the first call (so :meth:`health` can report an unreachable cluster
    instead of raising) and closes on :meth:`close` or when a ``with`` block ends. The operations
    come from the mixins, one module each; they share :class:`AdminConnection`'s client.
    """

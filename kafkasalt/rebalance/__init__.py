"""Partition rebalance planning: the fewest replica moves that balance a Kafka cluster.

Pure Python, no Salt. The Salt runner (and ``python -m kafkasalt.rebalance``) call::

    proposal = plan(current, brokers, racks=None, drain=(), sizes=None)
    proposal.moves              # {(topic, partition): [replicas]} of the partitions that change
    proposal.summary(throttle)  # Cruise-Control-style report (dict)
    proposal.reassignment()     # Kafka's reassignment JSON of proposal.moves

``validate(...)`` takes the same arguments and raises :class:`PlanError` (a ``ValueError``
whose message starts with the argument at fault). See :mod:`.planner` for the algorithm and
:mod:`.bounds` for the lower bounds the result is measured against.
"""

from .bounds import leader_change_bound, replica_move_bound
from .model import (PlanError, format_reassignment, read_reassignment, read_sizes, reassignment_json,
                    validate)
from .planner import plan
from .report import Proposal, one_line

__all__ = ["PlanError", "Proposal", "format_reassignment", "leader_change_bound", "one_line", "plan",
           "read_reassignment", "read_sizes", "reassignment_json", "replica_move_bound", "validate"]

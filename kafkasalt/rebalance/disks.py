"""Balancing one broker's log directories (JBOD): which replica goes to which directory.

Kafka moves a replica between two directories of one broker with AlterReplicaLogDirs: it copies
the log into a "future" replica in the target directory and swaps it in once caught up. The
plan here decides the moves, given the broker's live layout and the directories the pillar wants:

* every replica in a directory the pillar no longer lists moves to a wanted one (before the
  roll that drops the directory, so no replica is lost or re-fetched over the network);
* then replicas move from the directory holding the most to the one holding the fewest until
  the counts differ by at most one, smallest replica first (the least data copied), and a move
  is only made when it narrows the spread of bytes or of counts.

Only directories the broker runs with can receive a replica: a directory the pillar adds is
used after the roll that adds it to ``log.dirs``.
"""

from __future__ import annotations


def plan(layout: dict, wanted: list) -> dict:
    """``layout``: ``{log dir: {(topic, partition): bytes}}`` as the broker runs now; ``wanted``:
    the directories it should use. Returns ``{(topic, partition): target dir}`` (only replicas
    that move). Raises ``ValueError`` when replicas must leave a directory but no wanted
    directory is live yet."""
    live = list(layout)
    targets = [d for d in wanted if d in layout]
    leaving = [d for d in live if d not in wanted]
    held = {d: dict(layout[d]) for d in targets}
    moves = {}
    evacuated = [(key, size) for d in leaving for key, size in sorted(layout[d].items())]
    if evacuated and not targets:
        raise ValueError(f"log_dirs: replicas must leave {', '.join(leaving)} but none of the wanted directories "
                         f"({', '.join(wanted)}) is in use yet: keep one of the current ones in the list")
    for key, size in sorted(evacuated, key=lambda item: -item[1]):  # largest first: bytes spread evenly
        target = min(targets, key=lambda d: (sum(held[d].values()), len(held[d]), d))
        held[target][key] = size
        moves[key] = target
    if len(targets) < 2:
        return moves
    while True:
        fullest = max(targets, key=lambda d: (len(held[d]), sum(held[d].values()), d))
        emptiest = min(targets, key=lambda d: (len(held[d]), sum(held[d].values()), d))
        if len(held[fullest]) - len(held[emptiest]) <= 1:
            return moves
        key, size = min(held[fullest].items(), key=lambda item: (item[1], item[0]))
        del held[fullest][key]
        held[emptiest][key] = size
        moves[key] = emptiest


def spread(layout: dict, dirs: list) -> dict:
    """``{dir: {"replicas", "bytes"}}`` of ``dirs`` (the report before and after)."""
    return {d: {"replicas": len(layout.get(d, {})), "bytes": sum(layout.get(d, {}).values())} for d in dirs}


def apply(layout: dict, moves: dict) -> dict:
    """The layout after ``moves``."""
    out = {d: dict(replicas) for d, replicas in layout.items()}
    for d in list(out):
        for key in list(out[d]):
            if key in moves and moves[key] != d:
                size = out[d].pop(key)
                out.setdefault(moves[key], {})[key] = size
    return out


__all__ = ["plan", "spread", "apply"]

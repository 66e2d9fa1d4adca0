"""Offline rebalance planner.

    python -m kafkasalt.rebalance --current CURRENT.json --brokers 1,2,3,4 \\
        [--racks 1=a,2=b,3=c,4=a] [--drain 3] [--sizes SIZES.json] [--throttle BYTES_PER_S] \\
        [--report REPORT.json] > PROPOSED.json

``CURRENT.json`` is Kafka's reassignment JSON (``kafka-reassign-partitions.sh --generate``'s
"Current partition replica assignment", or one built from ``kafka-topics.sh --describe``).
``PROPOSED.json`` lists only the partitions that change, ready for
``kafka-reassign-partitions.sh --execute --reassignment-json-file PROPOSED.json``. A one-line
summary goes to stderr; ``--report`` writes the full report (per-broker before and after) as
JSON. ``--sizes``: ``kafka-log-dirs.sh --describe`` output, ``{"partitions": [{"topic",
"partition", "size"}]}`` or ``{"topic-0": bytes}``. Broker lists accept ranges (``1-6,9``).

Bad input exits with status 2 and one line naming the argument; nothing is written to stdout.
"""

import argparse
import json
import sys

from .model import PlanError, format_reassignment, read_reassignment, read_sizes
from .planner import plan
from .report import one_line

PROG = "python -m kafkasalt.rebalance"


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise PlanError("usage", message)


def _broker_list(option, text):
    brokers = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, dash, high = part.partition("-")
        try:
            if dash:
                first, last = int(low), int(high)
                if first > last:
                    raise ValueError
                brokers.extend(range(first, last + 1))
            else:
                brokers.append(int(part))
        except ValueError:
            raise PlanError(option, f"{part!r} is not a broker id or range (expected e.g. 1,2,3 or 1-3)") from None
    if any(b < 0 for b in brokers):
        raise PlanError(option, "broker ids are non-negative")
    return brokers


def _rack_map(text):
    racks = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        broker, equals, rack = part.partition("=")
        if not equals or not rack.strip():
            raise PlanError("racks", f"{part!r} is not BROKER=RACK")
        (broker_id,) = _broker_list("racks", broker) or [None]
        if broker_id is None or "-" in broker:
            raise PlanError("racks", f"{part!r} is not BROKER=RACK")
        if broker_id in racks and racks[broker_id] != rack.strip():
            raise PlanError("racks", f"broker {broker_id} is given two racks")
        racks[broker_id] = rack.strip()
    return racks


def _read_json(option, path):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise PlanError(option, f"cannot read {path}: {error.strerror or error}") from None
    try:
        return json.loads(text)
    except ValueError as error:
        raise PlanError(option, f"{path} is not valid JSON ({error})") from None


def main(argv=None, stdout=None, stderr=None):
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = _Parser(prog=PROG, description="Plan a minimal-move Kafka partition rebalance.")
    parser.add_argument("--current", required=True, metavar="CURRENT.json",
                        help="current assignment (Kafka reassignment JSON)")
    parser.add_argument("--brokers", required=True, metavar="IDS", help="brokers to balance over, e.g. 1,2,3,4 or 1-4")
    parser.add_argument("--racks", metavar="ID=RACK,...", help="rack of every broker, e.g. 1=a,2=b,3=c,4=a")
    parser.add_argument("--drain", metavar="IDS", help="brokers to empty (replicas and leadership)")
    parser.add_argument("--sizes", metavar="SIZES.json", help="partition sizes (kafka-log-dirs.sh --describe output)")
    parser.add_argument("--throttle", metavar="BYTES_PER_S", help="replication throttle, for the time estimate")
    parser.add_argument("--report", metavar="REPORT.json", help="write the full report here")
    try:
        args = parser.parse_args(argv)
        brokers = _broker_list("brokers", args.brokers)
        racks = _rack_map(args.racks) if args.racks else None
        drain = _broker_list("drain", args.drain) if args.drain else []
        throttle = None
        if args.throttle is not None:
            try:
                throttle = float(args.throttle)
            except ValueError:
                throttle = None
            if throttle is None or not throttle > 0 or throttle == float("inf"):
                raise PlanError("throttle", f"{args.throttle!r} is not a positive number of bytes per second")
            throttle = int(throttle) if throttle == int(throttle) else throttle
        current = read_reassignment(_read_json("current", args.current), "current")
        sizes = read_sizes(_read_json("sizes", args.sizes), "sizes") if args.sizes else None
        proposal = plan(current, brokers, racks=racks, drain=drain, sizes=sizes)
        summary = proposal.summary(throttle)
        output = format_reassignment(proposal.reassignment())
        if args.report:
            try:
                with open(args.report, "w", encoding="utf-8") as handle:
                    json.dump(summary, handle, indent=2)
                    handle.write("\n")
            except OSError as error:
                raise PlanError("report", f"cannot write {args.report}: {error.strerror or error}") from None
    except PlanError as error:
        where = "" if error.argument == "usage" else f"--{error.argument}: "
        print(f"{PROG}: error: {where}{error.message}", file=stderr)
        return 2
    stdout.write(output)
    stdout.flush()
    print(f"{PROG}: {one_line(summary)}", file=stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

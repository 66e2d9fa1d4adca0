"""Command line of the lab (``bin/lab``)."""

import argparse
import os
import sys

from lab.saltlab import Lab, LabError, VENV_BIN


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("salt", "salt-run", "salt-key", "salt-call"):
        lab = Lab()
        tool = argv[0]
        if tool == "salt-call":
            # salt-call on a lab host runs inside that host's namespace: bin/lab salt-call HOST ...
            if len(argv) < 2 or argv[1] not in lab.hosts:
                print(f"usage: bin/lab salt-call HOST FUNCTION ... (hosts: {', '.join(lab.hosts)})", file=sys.stderr)
                return 2
            host = argv[1]
            pid = open(lab.minion_pidfile(host)).read().strip()
            cmd = ["nsenter", f"--mount=/proc/{pid}/ns/mnt", "--", os.path.join(VENV_BIN, "salt-call"),
                   "-c", lab.minion_conf_dir(host), *argv[2:]]
        else:
            cmd = [os.path.join(VENV_BIN, tool), "-c", lab.master_conf_dir, *argv[1:]]
        os.execvpe(cmd[0], cmd, lab.env())

    parser = argparse.ArgumentParser(prog="bin/lab", description="three-host Salt lab for the Kafka extension")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start master and three hosts (idempotent)")
    down = sub.add_parser("down", help="stop everything")
    down.add_argument("--purge", action="store_true", help="also delete the hosts' files (back to bare hosts)")
    sub.add_parser("status", help="show what runs")
    sub.add_parser("memory", help="RSS per component")
    ns = sub.add_parser("ns", help="run a command inside a host's view of the filesystem")
    ns.add_argument("host")
    ns.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    lab = Lab()
    try:
        if args.command == "up":
            took = lab.up()
            print(f"lab up in {took:.1f}s: master {lab.master_conf_dir}, hosts " +
                  ", ".join(f"{h}={a}" for h, a in lab.hosts.items()))
            print("try: bin/lab salt '*' test.ping")
        elif args.command == "down":
            lab.down(purge=args.purge)
            print("lab down" + (" and purged" if args.purge else ""))
        elif args.command == "status":
            print(f"master: {'running' if lab.master_running() else 'stopped'}")
            for host, address in lab.hosts.items():
                state = "running" if lab.minion_running(host) else "stopped"
                print(f"{host} ({address}): {state}, {len(lab.host_pids(host))} processes")
        elif args.command == "memory":
            report = lab.memory()
            for name, mib in sorted(report.items()):
                print(f"{name:28s} {mib:8.1f} MiB")
            print(f"{'total':28s} {sum(report.values()):8.1f} MiB")
        elif args.command == "ns":
            proc = lab.nsenter(args.host, args.cmd, check=False)
            sys.stdout.write(proc.stdout)
            sys.stderr.write(proc.stderr)
            return proc.returncode
    except LabError as exc:
        print(f"bin/lab: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

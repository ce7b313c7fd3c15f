"""`appliance cluster certs|start|stop|status`: the certificates Ray's connections use, and this machine's Ray node.

Every node (head, workers) and the driver need the same certificate set in their home; `start` runs Ray with it,
object spilling off and a private temp dir (``appliance.cluster.node``). `appliance doctor --cluster ADDRESS`
checks a running cluster from the driver.
"""

from __future__ import annotations

import argparse

from appliance.cli.common import add_home_option, add_json_option, print_json
from appliance.paths import resolve_home


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cluster", help="scale-out on Ray: TLS certificates, start/stop this machine's Ray node")
    csub = p.add_subparsers(dest="cluster_command", metavar="ACTION", required=True)

    c = csub.add_parser("certs", help="make the CA, the node certificate and the token (0600, under the home)")
    add_home_option(c)
    c.add_argument("--host", action="append", default=[], metavar="ADDRESS",
                   help="an IP address or host name of a cluster node (repeat for each; this machine is always named)")
    c.add_argument("--days", type=int, default=825, help="validity in days (default 825)")
    c.add_argument("--force", action="store_true", help="replace an existing set (copy the new one to every node)")
    c.set_defaults(func=cmd_certs)

    s = csub.add_parser("start", help="start this machine's Ray node: a head, or a worker with --join")
    add_home_option(s)
    s.add_argument("--port", type=int, default=6379, help="the head's port (default 6379)")
    s.add_argument("--join", metavar="HOST:PORT", help="join the head at this address as a worker node")
    s.add_argument("--workers-cpus", type=int, help="CPUs Ray may use on this node (default: all)")
    s.add_argument("--node-ip", metavar="ADDRESS", help="this node's address as the others reach it (default: Ray picks)")
    s.add_argument("--no-tls", action="store_true", help="start without TLS (records cross the network in clear)")
    s.set_defaults(func=cmd_start)

    t = csub.add_parser("stop", help="stop this home's Ray node (only its own processes)")
    add_home_option(t)
    t.set_defaults(func=cmd_stop)

    st = csub.add_parser("status", help="is this home's Ray node running, its address, TLS on or off")
    add_home_option(st)
    add_json_option(st)
    st.set_defaults(func=cmd_status)


def cmd_certs(args: argparse.Namespace) -> int:
    from appliance.cluster.tls import copy_instructions, make_certs

    home = resolve_home(args.home)
    certs = make_certs(home, args.host, force=args.force, days=args.days)
    print(f"cluster certificates in {certs.directory} (valid until {certs.not_after:%Y-%m-%d}) for: "
          f"{', '.join(certs.hosts)}")
    print(copy_instructions(certs))
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    from appliance.cluster import node

    home = resolve_home(args.home)
    st = node.start(home, port=args.port, cpus=args.workers_cpus, node_ip=args.node_ip, head_address=args.join,
                    require_tls=not args.no_tls)
    role = f"worker of {args.join}" if args.join else "head"
    print(f"Ray {role} started (TLS {'on' if st.tls else 'OFF'}; object spilling off; temp dir {st.temp_dir})")
    if not args.join and st.address:
        print(f"other nodes join with: appliance cluster start --join {st.address}   (same certificate set in their home)")
        print(f"jobs use it with: appliance generate ... --cluster {st.address}")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from appliance.cluster import node

    ended = node.stop(resolve_home(args.home))
    print(f"stopped {len(ended)} Ray processes" if ended else "no Ray node of this home was running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from appliance.cluster import node

    st = node.status(resolve_home(args.home))
    if args.json:
        print_json({"running": st.running, "address": st.address, "tls": st.tls, "temp_dir": str(st.temp_dir),
                    "pids": list(st.pids)})
        return 0
    if st.running:
        print(f"running at {st.address or '?'} (TLS {'on' if st.tls else 'OFF'}; {len(st.pids)} processes; "
              f"temp dir {st.temp_dir})")
    else:
        print("not running")
    return 0

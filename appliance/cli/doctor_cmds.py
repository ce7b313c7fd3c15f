"""`appliance doctor`: checks this workstation (Python, packages, llama.cpp build, GPU, models, vault, PII scanner,
disk), or with ``--cluster`` a Ray cluster from this driver, and says for each what to do. Exit code 0 when nothing failed (warnings allowed), 2 when a check failed."""

from __future__ import annotations

import argparse
import json

from appliance.cli.common import add_home_option
from appliance.paths import resolve_home


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check the installation: each item pass/warn/fail with what to do (exit 2 on a fail)")
    add_home_option(p)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--cluster", metavar="HOST:PORT",
                   help="check that Ray cluster instead: reachable, TLS, the nodes' versions and model hashes")
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from appliance.service import doctor

    home = resolve_home(args.home)
    if args.cluster:
        from appliance.cluster.probe import cluster_checks

        checks = cluster_checks(home, args.cluster)
    else:
        checks = doctor.run_checks(home)
    if args.json:
        print(json.dumps(doctor.as_json(checks), indent=2))
        return doctor.exit_code(checks)
    style = {doctor.PASS: "green", doctor.WARN: "yellow", doctor.FAIL: "bold red"}
    t = Table("", "check", "detail", "what to do", title=f"appliance doctor · {doctor.environment_note()}")
    for c in checks:
        t.add_row(f"[{style[c.status]}]{c.status.upper()}[/]", c.name, c.detail, c.fix)
    console = Console()
    console.print(t)
    n = {s: sum(c.status == s for c in checks) for s in (doctor.PASS, doctor.WARN, doctor.FAIL)}
    console.print(f"{n['pass']} pass · {n['warn']} warn · {n['fail']} fail")
    return doctor.exit_code(checks)

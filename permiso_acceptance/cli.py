"""`permiso-acceptance`: the suite's own commands beside `behave`.

Each subcommand lives in its own module and is imported only when asked for, so `report` never pays for
Locust and `load` never imports the suite's `requests` stack into Locust's gevent world.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

#: subcommand -> (module, one-line description)
COMMANDS: dict[str, tuple[str, str]] = {
    "report": ("permiso_acceptance.report", "build the Allure 3 report (and a single-file copy) from allure-results/"),
    "load": ("permiso_acceptance.load", "run a headless Locust load against the target and judge it against budgets"),
    "sensitivity": ("permiso_acceptance.sensitivity",
                    "run the suite once per injected fault and print caught N/M faults"),
    "baseline": ("permiso_acceptance.baseline", "accept a run's causes as the signed-off baseline; show or check it"),
}


def usage() -> str:
    lines = ["usage: permiso-acceptance <command> [options]", "", "commands:"]
    lines += [f"  {name:<12} {desc}" for name, (_, desc) in COMMANDS.items()]
    lines.append("\nRun the acceptance suite itself with: behave  (see README.md)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"permiso-acceptance: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name = COMMANDS[name][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            print(f"permiso-acceptance: {name} is not available in this build", file=sys.stderr)
            return 2
        raise
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())

"""Run the benchmarks of issue #7 and print the medians, ratios and targets as a table.

    python -m bench [--workload NAME ...] [--repeat N] [--json out.json] [--flowagents-only]
    python bench/run.py ...

Peers (AutoGen 0.2, LangGraph) run when the ``bench`` extra is installed.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import warnings
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Outcome, available, run_workload, table, write_json
from bench.workloads import WORKLOADS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--workload", action="append", choices=sorted(WORKLOADS),
        help="run only this workload (repeatable; default: all)",
    )
    parser.add_argument("--repeat", type=int, default=5, help="repetitions (median of N)")
    parser.add_argument("--json", metavar="PATH", help="also write every figure as JSON")
    parser.add_argument(
        "--flowagents-only", action="store_true", help="do not run the peers"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (checks it runs)")
    parser.add_argument("--quiet", action="store_true", help="no per-repetition progress")
    args = parser.parse_args(argv)
    # The peers raise deprecation warnings of their own; they are noise here.
    warnings.simplefilter("ignore")
    names = args.workload or list(WORKLOADS)
    outcomes: list[Outcome] = []
    for name in names:
        workload = WORKLOADS[name]
        only = ["flowagents"] if args.flowagents_only else None
        frameworks = available(workload, only)
        missing = sorted(set(workload.runners) - set(available(workload)))
        print(f"{name}: {workload.title} [{', '.join(frameworks)}]", file=sys.stderr)
        if missing and not args.flowagents_only:
            print(f"  (not installed: {', '.join(missing)})", file=sys.stderr)
        outcomes.append(
            run_workload(
                workload,
                repeat=args.repeat,
                frameworks=frameworks,
                size=workload.smoke if args.smoke else None,
                progress=None if args.quiet else lambda line: print(line, file=sys.stderr),
            )
        )
    print(table(outcomes))
    if args.json:
        command = "python -m bench " + shlex.join(argv if argv is not None else sys.argv[1:])
        write_json(args.json, outcomes, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench [--quick] [--only CASE ...] [--out DIR]``: run and report."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from . import report, runner
from .profiles import FULL, QUICK


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; exit 1 when a case failed (a skip is not a failure)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats (< 2 min)")
    parser.add_argument("--only", nargs="*", default=[], help="case keys (prefixes) to run")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("streamlib").setLevel(logging.WARNING)
    if args.list:
        from . import cases  # noqa: F401
        from .registry import CASES

        for spec in sorted(CASES.values(), key=lambda c: c.order):
            print(f"{spec.key:12} {spec.title}")
        return 0
    outcome = runner.run(QUICK if args.quick else FULL, args.only)
    paths = report.write(outcome, args.out)
    print(paths["md"].read_text())
    for kind, path in paths.items():
        print(f"wrote {kind}: {path}", file=sys.stderr)
    failed = [k for k, why in outcome.skipped.items() if why.startswith("failed")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m hmr_bench.sweep ARGS` = `hmr-bench sweep ARGS` (the parser and command: `sweep/cli.py`)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """The sweep command alone (same arguments and errors as `hmr-bench sweep`); returns its exit code."""
    from hmr_bench.errors import HmrBenchError
    from hmr_bench.sweep.cli import add_parser

    parser = argparse.ArgumentParser(prog="hmr-bench")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sweep", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except HmrBenchError as e:
        print(f"hmr-bench: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

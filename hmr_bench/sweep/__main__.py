"""`python -m hmr_bench.sweep ARGS` = `hmr-bench sweep ARGS` (the parser and command: `sweep/cli.py`)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """The sweep command alone (same arguments as `hmr-bench sweep`); returns its exit code."""
    from hmr_bench.cli import main as cli_main

    return cli_main(["sweep", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())

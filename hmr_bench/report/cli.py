"""`hmr-bench report`: rebuild the HTML / CSV / Markdown reports from the results store (no training).

Wired into `hmr_bench.cli` with ``report.cli.add_parser(sub)``; `cmd_report` returns the exit code.
"""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("report", help="HTML reports (plus CSV and Markdown) of every table from the store",
                              description="Rebuilds the reports from the results store: one self-contained HTML "
                              "page per table, Fig. 7 and an index, with CSV and Markdown beside them; a speed page "
                              "from the benchmark files and a page per sweep study. Nothing is trained; rows not run "
                              "yet show the command that runs them.")
    p.add_argument("--store", default=None, help="results store: SQLAlchemy URL or SQLite path (default: cache)")
    p.add_argument("--out", default="reports", help="output folder (default: reports/)")
    p.add_argument("--tables", default=None, help="comma-separated pages: tables of ablations/, fig7, speed, sweeps "
                   "(default: all)")
    p.add_argument("--profiles", default=None, help="comma-separated profiles (default: every profile with runs)")
    p.add_argument("--bench-dir", default=None,
                   help="folder of the speed records (speed_*.jsonl, one file per benchmark or targets run) for "
                   "Table 4's FPS and the speed page (default: <repo>/.benchmarks)")
    p.add_argument("--sweep-storage", default=None,
                   help="optuna storage of the sweeps: SQLAlchemy URL or SQLite path (default: <cache>/sweeps.sqlite, "
                   "as `hmr-bench sweep`)")
    p.add_argument("--data-root", default=None, help="real-data folder, for the gallery of runs on real data")
    p.add_argument("--no-gallery", action="store_true", help="skip the gallery (no checkpoints are loaded)")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_report)
    return p


def _names(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def cmd_report(args: argparse.Namespace) -> int:
    import logging

    from hmr_bench.report.build import build_reports
    from hmr_bench.store import ResultsStore

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    written = build_reports(ResultsStore(args.store), args.out, _names(args.tables), profiles=_names(args.profiles),
                            bench_dir=args.bench_dir, data_root=args.data_root, gallery=not args.no_gallery,
                            sweep_storage=args.sweep_storage)
    if not args.quiet:
        index = next((p for p in written if p.name == "index.html"), None)
        print(f"wrote {len(written)} files to {args.out}" + (f"; open {index.resolve()}" if index else ""))
    return 0

"""Reproducible HTML reports of the paper tables: paper numbers beside measured ones, from the results store.

    from hmr_bench.report import build_reports
    written = build_reports(ResultsStore(url), "reports")     # index.html, table2.html, table2.csv, table2.md, ...

`collect` reads the store into page sections (every table, CI, breakdown, curve, CSV and Markdown is a view of
the results frames in `experiment.table_results`), `figures` draws the figures with seaborn, `gallery` renders
predicted meshes over test images, `speed` reads the benchmark files (speed page),
`sweeps` the sweep storage (a page per study), `build` fills the Jinja2 templates, `cli` is `hmr-bench report`.
Importing the package is cheap (the CLI builds its parser from `report.cli`); matplotlib, seaborn, jinja2 and
optuna load with `build`.
"""

__all__ = ["build_reports"]


def __getattr__(name: str):
    if name == "build_reports":
        from hmr_bench.report.build import build_reports

        return build_reports
    raise AttributeError(f"module 'hmr_bench.report' has no attribute {name!r}")

"""The package's layers hold: no module imports from a layer above its own, and no two files import each other in a
loop (design.md, "Pipeline and layers"). Read from the source with `ast` (nothing is imported), so an import inside
a function counts as much as one at the top of a file.

Layers, bottom to top (a module may import its own layer and the ones below):

    base        hmr_bench/__init__, errors, registry, io, paths      utilities every layer uses
    geometry    rotations, cameras, crops, Procrustes
    body        the body model, joint sets
    components  losses · config · profiles · data · models           (see SAME_LAYER_EDGES)
    eval        metrics, protocols, statistics, the trivial baseline
    train       one run: loop, checkpoints, resume, DDP, cached features, speed settings
    experiment  store · experiment · tables                          a table's jobs, run claims, the runner,
                                                                      provenance, pretraining; the store is its
                                                                      database and `tables.py` its declarations
    drivers     sweep · bench                                        drive experiments / measure; never each other
    report      report                                               reads what the layers below wrote
    cli         cli.py and every */cli.py, */__main__.py             the commands; they may import one another

Inside one layer (base and cli excepted: their units may import one another), two different units (top-level
packages or modules) may import each other only along the edges named in SAME_LAYER_EDGES; the components layer
is where that matters:
- data, models and losses are siblings: none imports another, except that `models.build` reads `data` for the
  inputs a model is built for (an input kind's channel count, `data.proxy`; the union image that spans the RoI set,
  `data.rois`); data never imports models;
- `config` (the typed run tree, `LossConfig` among its types) sits beside them: data and models may read it; config
  imports `losses.total` for the names each loss variant accepts (`LOSS_VARIANTS`) and the term weights
  (`LossWeights`), which `total_loss` applies; losses never import config;
- `profiles` (named base configs) import config only.
In the experiment layer the runner (`experiment`) uses the store and the table declarations (`tables.py`, whose
claims are `eval.stats.Claim`s); neither imports the runner, and the store imports neither. A table's measured
results are read from the store by `experiment/table_results.py`, so `eval` stays metrics, protocols and
statistics. The report sits above sweep and bench: it reads their studies and speed files; they never import the
report.

Imports by a computed name (`importlib.import_module(f"hmr_bench.sweep.{...}")`, the lazy exports of
`sweep/__init__.py`, all inside its own package) are not seen; every `import` statement is.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "hmr_bench"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", (PACKAGE, "errors", "registry", "io", "paths")),
    ("geometry", ("geometry",)),
    ("body", ("body",)),
    ("components", ("losses", "config", "profiles", "data", "models")),
    ("eval", ("eval",)),
    ("train", ("train",)),
    ("experiment", ("store", "experiment", "tables")),
    ("drivers", ("sweep", "bench")),
    ("report", ("report",)),
    ("cli", ("cli",)),
)
# (importer, imported) allowed between two different units of one layer: a unit, or a module or package inside one
SAME_LAYER_EDGES = {
    ("config", "losses.total"), ("profiles", "config"), ("data", "config"), ("models", "config"),
    ("models.build", "data"), ("experiment", "store"), ("experiment", "tables"),
}
FREE_LAYERS = {"base", "cli"}  # units of these layers may import one another (still without a loop)
CLI_NAMES = ("cli", "__main__")  # a module with one of these names is in the cli layer, wherever it lives
RANK = {unit: i for i, (_, units) in enumerate(LAYERS) for unit in units}
LAYER_NAME = {unit: name for name, units in LAYERS for unit in units}


def modules() -> dict[str, Path]:
    """Every module of the package: dotted name → file (a package is its __init__.py)."""
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def unit(module: str) -> str:
    """The unit a module belongs to: "cli" for the commands, else its top-level package or module."""
    parts = module.split(".")
    if parts[-1] in CLI_NAMES:
        return "cli"
    return parts[1] if len(parts) > 1 else PACKAGE


def inside(module: str, part: str) -> bool:
    """Whether `module` is the package's `part` ("models.build", "data") or lies within it."""
    name = f"{PACKAGE}.{part}"
    return module == name or module.startswith(name + ".")


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The deepest module of the package that `name` (a module or a name inside one) lives in."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str, known: dict[str, Path]) -> list[tuple[str, int]]:
    """(imported module of the package, line) for every import statement of `module`, wherever it stands."""
    path = known[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            # `from a import b`: the submodule a.b when there is one, else a name defined in a
            names = [f"{origin}.{a.name}" if f"{origin}.{a.name}" in known else origin for a in node.names]
        else:
            continue
        for name in names:
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                target = _resolve(name, known)
                if target is not None and target != module:
                    out.append((target, node.lineno))
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, list[tuple[str, int]]]:
    known = modules()
    return {m: imports(m, known) for m in known}


def test_every_module_has_a_layer(graph):
    missing = sorted({unit(m) for m in graph} - set(RANK))
    assert not missing, f"units without a layer (add them to LAYERS in {Path(__file__).name}): {missing}"


def test_no_import_reaches_up_a_layer(graph):
    bad = []
    for m, targets in graph.items():
        src = unit(m)
        for t, line in sorted(set(targets)):
            dst = unit(t)
            if RANK[dst] > RANK[src]:
                bad.append(f"{m}:{line} imports {t}: layer {LAYER_NAME[dst]} is above {LAYER_NAME[src]}")
            elif (RANK[dst] == RANK[src] and src != dst and LAYER_NAME[src] not in FREE_LAYERS
                  and not any(inside(m, a) and inside(t, b) for a, b in SAME_LAYER_EDGES)):
                bad.append(f"{m}:{line} imports {t}: {src} and {dst} are siblings in layer {LAYER_NAME[src]}")
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def import_cycles(graph: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    succ = {m: sorted({t for t, _ in ts}) for m, ts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for root in succ:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = len(index)
                stack.append(v)
                on_stack.add(v)
            if i < len(succ[v]):
                work.append((v, i + 1))
                w = succ[v][i]
                if w not in index:
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return cycles


def test_no_import_cycles(graph):
    cycles = import_cycles(graph)
    lines = []
    for c in cycles:
        members = set(c)
        lines.append(" ↔ ".join(c) + ": " + "; ".join(f"{m}:{line} → {t}" for m in c
                                                       for t, line in sorted(set(graph[m])) if t in members))
    assert not cycles, "modules that import each other in a loop:\n" + "\n".join(lines)


def test_the_checks_see_what_they_must(tmp_path):
    """The walker on a made-up package: a submodule named in a from-import, a relative import and an import inside
    a function all count; a loop of three files is one component (Tarjan), a chain is none."""
    probe = tmp_path / "probe.py"
    probe.write_text("from hmr_bench.a import x, y\n"
                     "def f():\n"
                     "    from . import b\n"
                     "    import hmr_bench.c.deep\n"
                     "import numpy\n")
    known = {"hmr_bench": None, "hmr_bench.a": None, "hmr_bench.a.x": None, "hmr_bench.c": None,
             "hmr_bench.a.probe": probe}
    assert sorted(imports("hmr_bench.a.probe", known)) == [("hmr_bench.a", 1), ("hmr_bench.a", 3),
                                                            ("hmr_bench.a.x", 1), ("hmr_bench.c", 4)]

    graph = {"hmr_bench.a.x": [("hmr_bench.b", 3)], "hmr_bench.b": [("hmr_bench.c", 1)],
             "hmr_bench.c": [("hmr_bench.a.x", 9), ("hmr_bench", 2)], "hmr_bench.a": [], "hmr_bench": []}
    assert import_cycles(graph) == [["hmr_bench.a.x", "hmr_bench.b", "hmr_bench.c"]]
    assert import_cycles({**graph, "hmr_bench.c": [("hmr_bench", 2)]}) == []
    assert unit("hmr_bench.sweep.cli") == unit("hmr_bench.sweep.__main__") == unit("hmr_bench.cli") == "cli"
    assert unit("hmr_bench.experiment.runner") == "experiment" and unit("hmr_bench") == PACKAGE
    assert inside("hmr_bench.models.build", "models") and inside("hmr_bench.models", "models")
    assert not inside("hmr_bench.models_extra", "models") and not inside("hmr_bench.models.common", "models.build")


def test_no_subcommand_module_reaches_up_to_the_top_cli():
    """`hmr_bench/cli.py` is the top: the subcommands' own cli/__main__ modules never import it (house rule)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "hmr_bench"
    offenders = []
    for f in root.rglob("*.py"):
        if f == root / "cli.py":
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "hmr_bench.cli" or n.startswith("hmr_bench.cli.") for n in names):
                offenders.append(str(f.relative_to(root)))
    assert offenders == []

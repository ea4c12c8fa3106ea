"""`io.pid_alive`, the one check whether a process of this host still exists (claims, sweeps, loader workers)."""

from __future__ import annotations

import os
import subprocess
import sys

from hmr_bench.io import pid_alive


def test_this_process_is_alive_and_a_reaped_child_is_dead():
    assert pid_alive(os.getpid()) is True
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    assert child.wait(timeout=60) == 0  # reaped: its pid names no process now (Linux does not reuse it at once)
    assert pid_alive(child.pid) is False


def test_what_cannot_be_told_counts_as_alive():
    """No usable pid, or a process of another user: alive, so that no caller takes over a run on a guess."""
    assert pid_alive(0) is pid_alive(-1) is pid_alive(-(2**31)) is True  # process groups, not a process
    assert pid_alive("not a pid") is pid_alive(None) is pid_alive(2**80) is True
    if os.getuid() != 0:  # pid 1 (init) belongs to root: os.kill says PermissionError
        assert pid_alive(1) is True

"""File I/O shared by every part of hmr-bench: atomic writes, a lock between processes, pickle-free ``.npz`` reads,
and whether a process of this host still exists (`pid_alive`)."""

from __future__ import annotations

import contextlib
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from hmr_bench.errors import InputError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Calls ``write(fh)`` on a temporary file beside ``path``, then renames it over ``path``.

    A crash or error leaves the old file (or none), never a partial one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the permissions open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def file_lock(path: str | os.PathLike | None, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """An exclusive lock between processes of this host, held for the ``with`` block (``fcntl.flock``).

    `path` is a dedicated lock file (created if missing, never removed, its content unused), e.g.
    ``results.json.lock`` beside ``results.json``: never the data file itself when it is replaced with
    `atomic_write`, whose rename gives the new file an inode that nobody has locked. None: no lock.
    A read-modify-write of a shared file inside the block loses no other process's update. The lock is released
    when the block ends, also on an error or when the process dies. Not a lock between machines (NFS).
    `on_wait()` is called once before waiting when another process holds the lock (e.g. to log that it waits).
    """
    if path is None:
        yield
        return
    import fcntl

    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def pid_alive(pid) -> bool:
    """Whether process `pid` may still exist on this host (``os.kill(pid, 0)``, which sends nothing).

    False only when the system says there is no such process (ProcessLookupError). True when it exists, when it
    belongs to another user (PermissionError), and when `pid` is no usable process id (not an integer, ≤ 0,
    too large): a caller then leaves the decision to a slower rule (a heartbeat), never takes over a live run.
    A child that has exited but was not reaped yet (a zombie) still exists.
    """
    try:
        pid = int(pid)
    except (TypeError, ValueError, OverflowError):
        return True
    if pid <= 0:  # 0 and negative numbers name process groups, not a process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def load_npz(path: str | os.PathLike, what: str) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` read with ``allow_pickle=False``; `what` names the expected content in errors."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, found="no such file", expected=what)
    if path.is_dir():
        raise InputError(path, found="a directory", expected=what)
    if not zipfile.is_zipfile(path):  # np.load would take it for a pickle and advise loading it unsafely
        raise InputError(path, found="a file that is not an .npz archive (no zip directory: another format, or "
                         "truncated)", expected=f"a complete .npz archive ({what})")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {}
            for k in npz.files:
                try:
                    arrays[k] = npz[k]
                except ValueError as e:  # object arrays need pickle: refused
                    raise InputError(path, k, found="an object array (needs pickle)",
                                     expected="plain numeric or text data") from e
    except InputError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise InputError(path, found=f"an unreadable or truncated file ({type(e).__name__}: {e})",
                         expected=f"a complete .npz archive ({what})") from e
    return arrays

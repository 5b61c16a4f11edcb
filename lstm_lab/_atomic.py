"""Changes that either complete or leave nothing behind: commits that Stop cannot split, arrays
put back when a computation fails half-way, files replaced in one step.

A classroom interrupts code at any moment: a student presses Stop (a KeyboardInterrupt at the
next Python bytecode), a kernel is restarted, a disk fills up. The helpers here let a function
validate first, compute into scratch arrays, and then commit several arrays at once with the
interrupt held off, or restore what it changed in place when it is interrupted. The tools that
rewrite notebooks and data files (``tools/execute_notebooks.py``,
``tools/make_student_notebooks.py``, ``tools/manifest.py``) write through ``write_atomic``.
"""

import contextlib
import os
import signal
import tempfile
import threading
from pathlib import Path

__all__ = ["interrupts_deferred", "commit", "restored_on_failure", "write_atomic"]


@contextlib.contextmanager
def interrupts_deferred():
    """Hold SIGINT (Stop in Jupyter, Ctrl-C in a terminal) off inside the block; deliver it after.

    Only the main thread receives signals, so elsewhere this holds nothing off (and nothing
    needs to be). A SIGINT that arrives inside the block is raised again, to whatever handler
    was installed before, as soon as the block ends.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    except (ValueError, OSError):  # no signals here (an embedded interpreter)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
        if caught:
            signal.raise_signal(signal.SIGINT)


def commit(pairs):
    """Copy each (value, target) pair into its target array in place, all of them or none.

    Every value must already have its target's shape and dtype (validated by the caller), so
    no copy can fail; SIGINT is held off until the last one is written.
    """
    pairs = list(pairs)
    with interrupts_deferred():
        for value, target in pairs:
            target[...] = value


@contextlib.contextmanager
def restored_on_failure(arrays):
    """Keep copies of `arrays`; if the block raises anything (KeyboardInterrupt too), copy them
    back in place before the exception goes on."""
    saved = [(arr.copy(), arr) for arr in arrays]
    try:
        yield
    except BaseException:
        commit(saved)
        raise


def _mode_for(path):
    """The permission bits the file has now, or what a new file gets under the umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def write_atomic(path, data, encoding="utf-8"):
    """Write `data` (str or bytes) to `path` so that the file is either the old one or the new one.

    The data goes to a temporary file in the same folder, is flushed to disk, and then replaces
    `path` in one ``os.replace``. A failure at any point (a full disk, an interrupt) leaves the
    old file untouched and removes the temporary one.
    """
    path = Path(path)
    raw = data.encode(encoding) if isinstance(data, str) else bytes(data)
    mode = _mode_for(path)
    fd = tmp = None
    try:
        with interrupts_deferred():  # Stop cannot fall between creating the file and noting it
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            fd = None  # closed by the `with` from here on
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise

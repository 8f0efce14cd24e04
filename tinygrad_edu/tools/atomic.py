"""Atomic file writes: ``write_atomic(path, payload)`` for checkpoints, pictures and reports.

The bytes go to a temporary file in the same folder, are flushed and fsynced, and
only then replace ``path`` (``os.replace``), so ``path`` holds either its previous
content or the new one, never a mixture, even if the process dies or the disk fills
midway. Beyond that, a write behaves as writing the file in place would:

* overwriting keeps the file's permission bits (a new file gets the umask's);
* a symbolic link is followed: its target is rewritten and the link stays a link;
* an error names the caller's path, never the temporary file;
* the temporary name is short, so any file name the file system accepts can be written;
* temporary files left by a writer that was killed (SIGKILL, power loss) are removed
  by the next write into that folder (POSIX: a file is stale once no process has
  the id written in its name, or it is this process's own and not being written).
"""
from __future__ import annotations

import contextlib
import itertools
import os
import re
import stat
import threading

__all__ = ["write_atomic"]

TEMP_MARK = "~tgwrite"  # every temporary file is ".<start of name>~tgwrite-<pid>-<n>.tmp"
_TEMP_NAME = re.compile(r"^\..{0,32}" + re.escape(TEMP_MARK) + r"-(\d+)-\d+\.tmp$", re.DOTALL)
_counter = itertools.count()
_writing = set()  # temporary files this process is writing now (other threads may be mid-write)
_writing_lock = threading.Lock()


def write_atomic(path, payload: bytes) -> str:
    """Write ``payload`` to ``path`` atomically (see the module docstring); returns the path written."""
    shown = os.fspath(path)
    target = os.path.realpath(shown)  # through symbolic links: the link stays, its target changes
    folder = os.path.dirname(target)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = None  # a new file: the umask decides, as for any new file
    _remove_stale_temps(folder)
    temp = None
    try:
        temp, fd = _open_temp(folder, os.path.basename(target))
        with os.fdopen(fd, "wb") as file:
            if mode is not None:
                _chmod(file.fileno(), temp, mode)
            _write_all(file, payload)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException as error:  # a full disk, a crash signal, Ctrl-C: the old file stays as it was
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        if isinstance(error, OSError):
            raise _naming(error, shown) from None
        raise
    finally:
        with _writing_lock:
            _writing.discard(temp)
    _fsync_folder(folder)
    return shown


def _open_temp(folder: str, name: str):
    """(path, fd) of a new, exclusively created temporary file in ``folder``."""
    while True:
        temp = os.path.join(folder, f".{name[:32]}{TEMP_MARK}-{os.getpid()}-{next(_counter)}.tmp")
        with _writing_lock:
            _writing.add(temp)
        try:  # O_EXCL: never reuse a name; mode 0o666 lets the umask decide, as for any new file
            return temp, os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            with _writing_lock:
                _writing.discard(temp)


def _naming(error: OSError, path: str) -> OSError:
    """The same kind of error, naming ``path`` instead of a temporary file."""
    reason = error.strerror or str(error)
    if error.errno is None:
        return type(error)(f"cannot write {path!r}: {reason}")
    return type(error)(error.errno, f"cannot write the file ({reason})", path)


def _chmod(fd: int, temp: str, mode: int) -> None:
    if hasattr(os, "fchmod"):
        os.fchmod(fd, mode)
    else:
        os.chmod(temp, mode)


def _write_all(file, payload: bytes) -> None:
    file.write(payload)


def _remove_stale_temps(folder: str) -> None:
    """Delete temporary files of writers that died; a live writer's file is left alone."""
    if os.name != "posix":
        return  # no safe way to ask whether a process id is alive
    try:
        names = os.listdir(folder)
    except OSError:
        return  # the write itself will report what is wrong with the folder
    for name in names:
        match = _TEMP_NAME.match(name)
        if match is None:
            continue
        temp = os.path.join(folder, name)
        pid = int(match.group(1))
        with _writing_lock:
            if temp in _writing:
                continue
        if pid == os.getpid() or not _process_alive(pid):
            with contextlib.suppress(OSError):
                os.unlink(temp)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # it exists under another user (or the id is absurd: leave the file)
    return True


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

"""One writer per data directory: an operating-system file lock that names its holder.

Two processes writing one data directory (the app and ``simulate``, two ``simulate`` runs, a
strategy import while the app runs) would be two traders on one account: their databases and paper
state drift apart. Every writing process therefore holds :class:`WriterLock` on the directory's
lock file for as long as it runs; a second writer is refused with :class:`LockHeld`, whose message
names the holder's pid and command line. Read-only commands never take it.

The lock is the kernel's (``flock`` on POSIX, ``msvcrt.locking`` on Windows): it is released
when the holder exits or crashes, so there is no stale lock to clean up. The lock file also
carries the holder's pid and command line as JSON, written after the lock is taken; a reader
needs no lock to show it. The lock file path is a parameter so any directory whose files belong
together (a data directory, later one account's directory) can be guarded the same way.

This module never imports Qt: the desktop app and the headless commands share it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tastydesk.exit_codes import CommandError, ExitCode

LOCK_FILE = "writer.lock"
_WINDOWS_LOCK_OFFSET = 1 << 20  # lock a byte past the holder text so readers can still read it


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a lock, as the holder wrote it."""

    pid: int | None
    command: str
    since: str

    def describe(self) -> str:
        pid = "unknown pid" if self.pid is None else f"pid {self.pid}"
        return f"{pid} ({self.command or 'command unknown'})"


class LockHeld(CommandError):
    """Another process holds the writer lock; the message names it in one line."""

    exit_code = ExitCode.LOCKED

    def __init__(self, path: Path, holder: Holder | None) -> None:
        self.path = path
        self.holder = holder
        who = holder.describe() if holder is not None else "another process"
        super().__init__(f"{path.parent} is in use by {who}; only one tastydesk process may "
                         f"write it at a time (lock file {path})")


def lock_path(data_dir: Path) -> Path:
    """The writer lock file of a data directory."""
    return Path(data_dir) / LOCK_FILE


def current_command() -> str:
    """This process's command line, as a person would type it."""
    argv = list(sys.argv)
    first = Path(argv[0]).name if argv and argv[0] else "python"
    if first == "__main__.py":
        first = "python -m tastydesk"
    return " ".join([first, *argv[1:]])


class WriterLock:
    """An exclusive, non-blocking lock on ``path``; see the module docstring.

    Within one process a second :class:`WriterLock` on the same file is refused too (the lock
    belongs to the open file, not to the process), which is what lets tests hold it in-process.
    """

    def __init__(self, path: Path, command: str | None = None) -> None:
        self.path = Path(path)
        self._command = command
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self) -> None:
        """Take the lock or raise :class:`LockHeld` naming the holder; never waits."""
        if self._file is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - kept open while held
        if not _try_lock(handle):
            handle.close()
            raise LockHeld(self.path, read_holder(self.path))
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(),
                                 "command": self._command or current_command(),
                                 "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Give the lock up (closing the file releases it); the holder text is cleared."""
        handle, self._file = self._file, None
        if handle is None:
            return
        try:
            handle.seek(0)
            handle.truncate()
            handle.flush()
        except OSError:
            pass
        _unlock(handle)
        handle.close()

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def read_holder(path: Path) -> Holder | None:
    """The holder text in a lock file (None when empty or unreadable); takes no lock."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
        data = json.loads(text) if text else None
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid = data.get("pid")
    return Holder(pid=pid if isinstance(pid, int) else None,
                  command=str(data.get("command", "")), since=str(data.get("since", "")))


def probe(path: Path) -> Holder | None:
    """The current holder of ``path``'s lock, None when no process holds it.

    Checked by trying the lock for an instant; a free lock is released at once and its file
    left as it was, so this is safe to run beside a writer.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError:
        return None
    try:
        if _try_lock(handle):
            _unlock(handle)
            return None
        return read_holder(path) or Holder(pid=None, command="", since="")
    finally:
        handle.close()


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _try_lock(handle: IO[str]) -> bool:
        handle.seek(_WINDOWS_LOCK_OFFSET)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        finally:
            handle.seek(0)
        return True

    def _unlock(handle: IO[str]) -> None:
        handle.seek(_WINDOWS_LOCK_OFFSET)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        except OSError:
            pass
        handle.seek(0)

else:
    import fcntl

    def _try_lock(handle: IO[str]) -> bool:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(handle: IO[str]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

"""The writer lock: one holder at a time, named to whoever is refused, gone with its process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tastydesk.locking import LockHeld, WriterLock, lock_path, probe, read_holder

ROOT = Path(__file__).resolve().parents[1]


def test_second_writer_is_refused_naming_the_first(tmp_path: Path) -> None:
    path = lock_path(tmp_path / "data")
    first = WriterLock(path, command="tastydesk simulate --days 5")
    first.acquire()
    try:
        holder = probe(path)
        assert holder is not None and holder.command == "tastydesk simulate --days 5"
        with pytest.raises(LockHeld) as info:
            WriterLock(path, command="tastydesk strategies import x.json").acquire()
        message = str(info.value)
        assert "\n" not in message
        assert f"pid {holder.pid}" in message and "tastydesk simulate --days 5" in message
    finally:
        first.release()
    assert probe(path) is None
    assert read_holder(path) is None  # the holder text goes with the lock
    with WriterLock(path) as again:
        assert again.held


def test_lock_goes_with_a_killed_holder(tmp_path: Path) -> None:
    path = lock_path(tmp_path)
    script = textwrap.dedent(f"""
        import sys, time
        from tastydesk.locking import WriterLock
        lock = WriterLock({str(path)!r}, command="holder")
        lock.acquire()
        print("held", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        holder = probe(path)
        assert holder is not None and holder.pid == proc.pid and holder.command == "holder"
    finally:
        proc.kill()
        proc.wait(timeout=10)
    deadline = time.monotonic() + 5
    while probe(path) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert probe(path) is None  # no stale lock after a crash: the kernel released it
    with WriterLock(path):
        pass

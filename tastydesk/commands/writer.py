"""Taking a data directory for writing: its writer lock first, then a check of its state files.

Every command that writes a data directory goes through :func:`writing` after its input is
validated and before it opens anything for writing (and commands that run the paper engine
leave a daily backup, see :mod:`tastydesk.accounts.backup`), so a second writer is refused
(:class:`~tastydesk.locking.LockHeld`) and damaged state stops the command
(:class:`~tastydesk.commands.state_files.DamagedState`) with nothing written. The command line
turns both into a one-line message and their exit codes. (Not a command.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tastydesk.locking import WriterLock, lock_path


@contextmanager
def writing(base: Path, *, paper_state: bool) -> Iterator[Path]:
    """Hold ``base``'s writer lock for the block; refuse damaged state before it runs.

    ``paper_state``: the command also opens the paper state (``simulate``, ``--self-test``), so
    the app database and ``paper.db`` are checked as a pair; otherwise only the app database.
    """
    from tastydesk.accounts.backup import take_backup
    from tastydesk.commands.state_files import (
        DamagedState,
        check_state_files,
        require_readable_app_database,
    )

    base = Path(base)
    with WriterLock(lock_path(base)):
        if paper_state:
            problems = check_state_files(base)
            if problems:
                raise DamagedState(problems)
            take_backup(base, replace=False)  # the day's first backup, of state that passed
        else:
            require_readable_app_database(base)
        yield base
        if paper_state and not check_state_files(base):
            take_backup(base)  # ended cleanly on sound state: the day's backup is this one

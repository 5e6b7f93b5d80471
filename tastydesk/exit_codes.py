"""The exit codes of every tastydesk command (documented in the README and ``--help``).

Scripts can tell "the run found problems" from "the input was wrong", "the state on disk is
damaged" and "another tastydesk process is writing this data directory" without parsing text.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class ExitCode(IntEnum):
    OK = 0
    PROBLEMS = 1  # the command ran and found problems (doctor, self-test, simulate, bench,
    # roll-preview's refused roll)
    BAD_INPUT = 2  # bad arguments, an invalid strategy file, an unknown strategy name
    DAMAGED_STATE = 3  # a database or the paper state is unreadable, mismatched or too new
    LOCKED = 4  # another process holds the data directory's writer lock (message names it)
    INTERNAL_ERROR = 5  # a bug: one line here, the traceback in the log file
    INTERRUPTED = 130  # Ctrl+C


class CommandError(RuntimeError):
    """A refusal that ends a command: ``str()`` is its one-line message, :attr:`exit_code` its
    code. The command line catches these once for every command."""

    exit_code: ClassVar[ExitCode] = ExitCode.INTERNAL_ERROR


HELP = """exit codes:
  0  success
  1  the command ran and found problems (doctor, --self-test, simulate, bench targets;
     roll-preview: the pre-trade checks would refuse the roll)
  2  bad input: arguments, an invalid strategy file, an unknown strategy name
  3  damaged or incompatible state: a database or paper.db unreadable, missing beside its
     partner, or migrated by a newer tastydesk
  4  the data directory is in use by another writer (the message names its pid and command)
  5  internal error: a one-line message here, the full traceback in the data directory's log
"""

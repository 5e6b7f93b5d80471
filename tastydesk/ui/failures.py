"""How a failed command reads: one line, naming the field when the error names one.

Engine refusals (``EngineError``), validation errors and configuration errors are answers for
the trader: shown inline or on a status line, never as a traceback. Anything else is a defect:
still one line for the trader, with the traceback in the log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tastydesk.engine.config import ConfigError
from tastydesk.engine.errors import EngineError
from tastydesk.engine.strategies.validation import StrategyValidationError

# "filters.min_credit: must be >= 0", "rules[2].threshold: must be positive"
_FIELD_MESSAGE = re.compile(r"^([A-Za-z_]\w*(?:\[\d+\])?(?:\.[A-Za-z_]\w*(?:\[\d+\])?)*): (.+)$",
                            re.DOTALL)
# Failures that are answers for the trader, not defects: shown as one line, never a traceback.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (EngineError, ValueError, TimeoutError,
                                                     ConnectionError)


@dataclass(frozen=True, slots=True)
class CommandFailure:
    """Why a command did not happen, as the trader reads it.

    ``message`` is one line; ``fields`` lists (path, reason) for every field the error names
    (validation errors name several); ``expected`` is False for defects (logged with their
    traceback).
    """

    message: str
    fields: tuple[tuple[str, str], ...] = ()
    expected: bool = True
    cancelled: bool = False

    @property
    def path(self) -> str | None:
        """The first field the error names, if any."""
        return self.fields[0][0] if self.fields else None

    def __str__(self) -> str:
        return self.message


def describe_failure(exc: BaseException) -> CommandFailure:
    """One line for ``exc``, with the field paths it names."""
    if isinstance(exc, StrategyValidationError):
        fields = tuple((e.path, e.message) for e in exc.errors)
    elif isinstance(exc, ConfigError):
        fields = tuple(exc.errors.items())
    else:
        text = " ".join(str(exc).split())
        match = _FIELD_MESSAGE.match(text)
        fields = ((match.group(1), match.group(2)),) if match else ()
        if not isinstance(exc, EXPECTED_ERRORS):
            return CommandFailure(f"Unexpected error ({type(exc).__name__}): {text or '?'}; "
                                  "details are in the log", fields, expected=False)
        return CommandFailure(text or type(exc).__name__, fields)
    first = f"{fields[0][0]}: {fields[0][1]}" if fields else str(exc)
    more = f" (and {len(fields) - 1} more)" if len(fields) > 1 else ""
    return CommandFailure(first + more, fields)

"""The normal distribution functions of ``scipy.special``, imported on first use.

Importing ``scipy.special`` takes most of a second, and the main window needs no option priced
to appear: the import waits for the first price. Call them as ``special.ndtr(x)`` (an attribute
of this module): after the first call the name is bound to scipy's own function.
"""

from __future__ import annotations

from typing import Any


def ndtr(x: Any) -> Any:
    """Standard normal CDF (``scipy.special.ndtr``)."""
    _load()
    return ndtr(x)


def log_ndtr(x: Any) -> Any:
    """Log of the standard normal CDF (``scipy.special.log_ndtr``)."""
    _load()
    return log_ndtr(x)


def _load() -> None:
    global ndtr, log_ndtr
    from scipy.special import log_ndtr as scipy_log_ndtr
    from scipy.special import ndtr as scipy_ndtr

    ndtr, log_ndtr = scipy_ndtr, scipy_log_ndtr

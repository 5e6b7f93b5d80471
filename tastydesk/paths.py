"""Where tastydesk keeps its files, and logging set-up.

The data directory comes from ``--data-dir``, else ``TASTYDESK_DATA_DIR``, else the platform's
user data directory; tests and several profiles therefore never collide.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
from pathlib import Path

APP_NAME = "tastydesk"
ORG_NAME = "tastydesk"
DB_FILE = "tastydesk.db"
PAPER_STATE_FILE = "paper.db"  # the paper account and market, beside the app database


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    if override:
        path = Path(override)
    elif os.environ.get("TASTYDESK_DATA_DIR"):
        path = Path(os.environ["TASTYDESK_DATA_DIR"])
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir(APP_NAME, ORG_NAME))
    path.mkdir(parents=True, exist_ok=True)
    return path


def db_path(base: Path) -> Path:
    return base / DB_FILE


def log_dir(base: Path) -> Path:
    path = base / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


_SECRET_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]+"),
    re.compile(r"(?i)((?:refresh[_-]?token|client[_-]?secret|provider[_-]?secret|access[_-]?token"
               r"|auth-token|token)[\"']?\s*[:=]\s*[\"']?)[^\"',\s}]+"),
]


class RedactingFilter(logging.Filter):
    """Scrub bearer tokens and secrets from every record before it reaches a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        redacted = redact(msg)
        if redacted != msg:
            record.msg = redacted
            record.args = None
        return True


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***", text)
    return text


def setup_logging(base: Path, level: int = logging.INFO, console: bool = True) -> None:
    root = logging.getLogger()
    if getattr(root, "_tastydesk_configured", None) == str(base):
        return
    for handler in list(root.handlers):
        if getattr(handler, "_tastydesk", False):
            root.removeHandler(handler)
    root.setLevel(level)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    file_handler = logging.handlers.RotatingFileHandler(
        log_dir(base) / "tastydesk.log", maxBytes=5_000_000, backupCount=5, encoding="utf-8"
    )
    handlers: list[logging.Handler] = [file_handler]
    if console:
        stream = logging.StreamHandler()
        stream.setLevel(logging.WARNING)
        handlers.append(stream)
    for handler in handlers:
        handler.setFormatter(fmt)
        handler.addFilter(RedactingFilter())
        handler._tastydesk = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root._tastydesk_configured = str(base)  # type: ignore[attr-defined]

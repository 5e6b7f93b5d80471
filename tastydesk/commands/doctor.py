"""``tastydesk doctor``: everything a support request needs, in one paste, without a secret.

Sections: versions, platform, data directory, database (integrity, migration level, history),
paper state (readable, and present beside a database with paper history), the writer lock's
holder, backups (when the folder exists), keyring, stored credentials (yes/no only), Qt platform
plugin and broker mode. The database is inspected
read-only first, so a database that is behind its schema is reported, not silently migrated.
Problems are marked ``!!`` and make the exit code 1; warnings are marked ``??``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

from tastydesk import __version__, paths
from tastydesk.commands import doctor_state
from tastydesk.commands.doctor_report import OK, PROBLEM, WARN, Report

DISTRIBUTIONS = (
    ("PySide6", "PySide6-Essentials"),
    ("pyqtgraph", "pyqtgraph"),
    ("tastytrade SDK", "tastytrade"),
    ("SQLAlchemy", "SQLAlchemy"),
    ("alembic", "alembic"),
    ("numpy", "numpy"),
    ("scipy", "scipy"),
    ("qasync", "qasync"),
    ("keyring", "keyring"),
)


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-qt", action="store_true",
                        help="skip starting Qt to find the platform plugin")


def run(args: argparse.Namespace) -> int:
    report = collect(getattr(args, "data_dir", None), probe_qt=not getattr(args, "no_qt", False),
                     root=getattr(args, "data_root", None))
    print(paths.redact(report.render()), flush=True)
    if report.problems:
        print(f"doctor: {report.problems} problem(s) found", flush=True)
        return 1
    print("doctor: no problems found", flush=True)
    return 0


def collect(data_dir: str | os.PathLike[str] | None, probe_qt: bool = True,
            root: str | os.PathLike[str] | None = None) -> Report:
    """Build the whole report; each section is isolated so one failure never hides the rest.

    ``data_dir`` is the account in use (checked in full); ``root``, the data directory holding
    every account, adds one section per other account."""
    report = Report()
    _versions(report.section("versions"))
    _platform(report.section("platform"))
    base = _data_dir(report.section("data"), data_dir)
    if base is not None:
        _database(report.section("database"), paths.db_path(base))
        doctor_state.paper_state(report.section("paper state"), base)
        doctor_state.writer_lock(report.section("lock"), base)
        if doctor_state.backups_folder(base).is_dir():
            doctor_state.backups(report.section("backups"), base)
    if root is not None and Path(root).is_dir():
        _other_accounts(report, Path(root), base)
    secure = _keyring(report.section("keyring"))
    stored = _credentials(report.section("credentials"))
    _qt(report.section("qt"), probe_qt)
    _broker(report.section("broker"), stored, secure)
    return report


def _other_accounts(report: Report, root: Path, current: Path | None) -> None:
    from tastydesk.accounts.registry import account_dir, list_accounts

    for account in list_accounts(root):
        folder = account_dir(root, account)
        if current is not None and folder.resolve() == current.resolve():
            continue
        doctor_state.account_summary(report.section(f"account {account.slug}"), folder,
                                     paper=account.is_paper)


def _error(exc: BaseException) -> str:
    return paths.redact(f"{type(exc).__name__}: {exc}")


def _versions(add: Callable[..., None]) -> None:
    add("tastydesk", __version__)
    add("Python", f"{platform.python_version()} ({platform.python_implementation()}, "
                  f"{sys.executable})")
    for label, dist in DISTRIBUTIONS:
        try:
            add(label, importlib.metadata.version(dist))
        except importlib.metadata.PackageNotFoundError:
            # A frozen bundle carries no dist-info for some packages; the module may still know.
            module = {"PySide6-Essentials": "PySide6"}.get(dist, dist)
            version = _module_version(module) if dist != "tastytrade" else None
            if version:
                add(label, version)
            else:
                add(label, "not installed (no package metadata)", WARN)
    try:
        from PySide6.QtCore import qVersion

        add("Qt runtime", qVersion())
    except ImportError as exc:
        add("Qt runtime", f"unavailable: {_error(exc)}", PROBLEM)


def _module_version(name: str) -> str | None:
    try:
        module = __import__(name)
    except ImportError:
        return None
    return getattr(module, "__version__", None)


def _platform(add: Callable[..., None]) -> None:
    add("system", platform.platform())
    add("machine", platform.machine() or "unknown")
    frozen = getattr(sys, "frozen", False)
    add("bundle", f"frozen ({getattr(sys, '_MEIPASS', '?')})" if frozen else "not frozen")


def _data_dir(add: Callable[..., None], override: str | os.PathLike[str] | None) -> Path | None:
    source = ("--data-dir" if override else
              "TASTYDESK_DATA_DIR" if os.environ.get("TASTYDESK_DATA_DIR") else "platform default")
    try:
        base = paths.data_dir(override)
    except OSError as exc:
        add("data directory", f"unusable ({source}): {_error(exc)}", PROBLEM)
        return None
    writable = os.access(base, os.W_OK)
    add("data directory", f"{base} ({source})", OK if writable else PROBLEM)
    if not writable:
        add("writable", "no: the app cannot save its state here", PROBLEM)
    add("log directory", str(base / "logs"))
    return base


def _database(add: Callable[..., None], path: Path) -> None:
    from tastydesk.commands.state_files import inspect_app_database

    add("path", str(path))
    if not path.exists():
        add("status", "not created yet (created on first start)")
        return
    try:
        app = inspect_app_database(path)
    except Exception as exc:
        add("migration", f"unreadable: {_error(exc)}", PROBLEM)
        return
    add("size", f"{app.size / 1024:.0f} KiB")
    current, head = app.revision, app.head
    if app.size == 0:
        add("status", "empty (0 bytes): the app would start a new account over it", PROBLEM)
        return
    if app.problem:
        add("migration", f"unreadable: {app.problem}", PROBLEM)
        return
    if current == head:
        add("migration", f"{current} (head)")
    elif current is None:
        add("migration", f"none, head is {head}: not a tastydesk database or never migrated", PROBLEM)
    elif not app.known_revision:
        add("migration", f"{current} is newer than this tastydesk (head {head}): written by a "
                         f"newer version; update tastydesk before opening it", PROBLEM)
        return
    else:
        add("migration", f"{current}, head is {head}: upgraded on the next start", WARN)
    add("history", f"{app.history} workflow(s) and order(s)"
                   + ("; paper account in use" if app.paper_used else ""))
    try:
        problems = _integrity(path, at_head=current == head)
    except Exception as exc:
        add("integrity", f"check failed: {_error(exc)}", PROBLEM)
        return
    if problems:
        add("integrity", f"{len(problems)} problem(s)", PROBLEM)
        for problem in problems[:20]:
            add("", problem, PROBLEM)
    else:
        add("integrity", "ok")


def _integrity(path: Path, at_head: bool) -> list[str]:
    """The store's full check at the current schema, SQLite's own checks otherwise."""
    if at_head:
        from tastydesk.engine.store.service import Store

        with Store.open(path) as store:
            return store.integrity_check()
    from tastydesk.engine.store.database import check_database

    with _read_only(path) as raw:
        return check_database(raw)


class _read_only:
    def __init__(self, path: Path) -> None:
        self._raw = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)

    def __enter__(self) -> sqlite3.Connection:
        return self._raw

    def __exit__(self, *exc: object) -> None:
        self._raw.close()


def _keyring(add: Callable[..., None]) -> bool:
    try:
        import keyring

        backend = keyring.get_keyring()
    except Exception as exc:
        add("backend", f"unavailable: {_error(exc)}", WARN)
        return False
    cls = type(backend)
    add("backend", f"{cls.__module__}.{cls.__qualname__}")
    inner = getattr(backend, "backends", None)
    if inner is not None:
        names = ", ".join(f"{type(b).__module__}.{type(b).__qualname__}" for b in inner) or "none"
        add("chained", names)
    try:
        from tastydesk.engine.broker.tastytrade.credentials import KeyringCredentialStore
    except ImportError as exc:
        add("secure", f"cannot check: {_error(exc)}", WARN)
        return False
    try:
        KeyringCredentialStore.check_backend(backend)
    except Exception as exc:
        add("secure", f"no: {_error(exc)}", WARN)
        return False
    add("secure", "yes")
    return True


def _credentials(add: Callable[..., None]) -> dict[str, bool]:
    """Which environments hold a stored login; only yes/no ever leaves this function."""
    try:
        from tastydesk.engine.broker.tastytrade.credentials import (
            ENVIRONMENTS,
            InsecureKeyringError,
            KeyringCredentialStore,
        )
    except ImportError as exc:
        add("stored", f"cannot check: {_error(exc)}", WARN)
        return {}
    store = KeyringCredentialStore()
    stored: dict[str, bool] = {}
    for env in ENVIRONMENTS:
        try:
            stored[env] = store.load(env) is not None
        except InsecureKeyringError as exc:
            stored[env] = False
            add(env, f"refused: {_error(exc)}", PROBLEM)
            continue
        except Exception as exc:
            if type(exc).__name__ == "NoKeyringError":
                stored[env] = False
                add(env, "no (no OS keyring available)")
                continue
            add(env, f"unknown: {_error(exc)}", WARN)
            continue
        add(env, "yes" if stored[env] else "no")
    return stored


def _qt(add: Callable[..., None], probe: bool) -> None:
    try:
        from PySide6.QtCore import QLibraryInfo
        from PySide6.QtGui import QGuiApplication
    except ImportError as exc:
        add("platform plugin", f"Qt unavailable: {_error(exc)}", PROBLEM)
        return
    plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    available = sorted(_plugin_name(p) for p in plugins.glob("*") if p.is_file()) if plugins.is_dir() else []
    add("available plugins", ", ".join(available) or f"none found in {plugins}",
        OK if available else PROBLEM)
    requested = os.environ.get("QT_QPA_PLATFORM")
    if requested:
        add("QT_QPA_PLATFORM", requested)
    app = QGuiApplication.instance()
    if app is not None:
        add("platform plugin", f"{QGuiApplication.platformName()} (in use)")
        return
    if not probe:
        add("platform plugin", "not probed (--no-qt)")
        return
    if (sys.platform.startswith("linux") and not requested
            and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))):
        # Qt would abort the process; say why instead.
        add("platform plugin", "none: no DISPLAY or WAYLAND_DISPLAY (set QT_QPA_PLATFORM=offscreen "
                               "for headless use)", WARN)
        return
    app = QGuiApplication(sys.argv[:1])
    add("platform plugin", QGuiApplication.platformName())
    screen = QGuiApplication.primaryScreen()
    if screen is not None:
        size = screen.size()
        add("primary screen", f"{size.width()}x{size.height()} @ {screen.devicePixelRatio():g}x")


def _plugin_name(path: Path) -> str:
    name = path.stem
    for prefix in ("libq", "q"):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _broker(add: Callable[..., None], stored: dict[str, bool], secure: bool) -> None:
    logins = [env for env, yes in stored.items() if yes]
    if logins:
        add("mode", f"tastytrade: login stored for {', '.join(logins)}")
        if not secure:
            add("keyring", "the stored login sits in a keyring judged insecure", WARN)
    else:
        add("mode", "paper: no tastytrade login stored (log in from the app to trade live)")

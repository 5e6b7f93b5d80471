"""The account check the command line and the app run before anything opens imports neither
the engine nor SQLAlchemy: the engine's import is paid once, inside the app's start-up, where
the start-up benchmark's clock sees it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tastydesk.engine.store.service import Store

HEAVY = ("sqlalchemy", "numpy", "tastydesk.engine.bootstrap", "tastydesk.engine.store")


def test_checking_an_existing_account_loads_no_engine(tmp_path: Path) -> None:
    Store.open(tmp_path / "tastydesk.db").close()  # an account that has run: the full check
    code = ("import sys\nfrom pathlib import Path\n"
            "from tastydesk.accounts.migrate import migrate_legacy\n"
            "from tastydesk.commands.state_files import check_state_files, inspect_app_database\n"
            f"base = Path({str(tmp_path)!r})\n"
            "app = inspect_app_database(base / 'tastydesk.db')\n"
            "print(app.revision == app.head, check_state_files(base), migrate_legacy(base))\n"
            f"print([m for m in {HEAVY!r} if m in sys.modules])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.split("\n")[:2] == ["True [] None", "[]"]

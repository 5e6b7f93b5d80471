"""``tastydesk roll-preview``: the Roll ticket's preview from the command line, read-only beside
the app, on the account's own paper market; one-line refusals with documented exit codes."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tastydesk.cli import main
from tastydesk.exit_codes import ExitCode
from tastydesk.paths import db_path
from tests.engine.rolls.test_roll_preview import vertical


@pytest.fixture(scope="module", name="account")
def fixture_account(tmp_path_factory: Any) -> tuple[Path, int, dict[str, Any]]:
    """A paper account holding one credit spread, with the engine's own preview of its roll."""
    base = tmp_path_factory.mktemp("account")

    async def build() -> tuple[int, dict[str, Any]]:
        engine, _driver, pos = await vertical(base)
        preview = await engine.facade.preview_roll(pos.workflow_id)
        await engine.stop()
        return pos.workflow_id, dataclasses.asdict(preview)

    wid, preview = asyncio.run(build())
    return base, wid, preview


def _digest(base: Path) -> dict[str, str]:
    """The account's two databases (SQLite may add an empty -shm/-wal beside a read-only
    reader, as for every export)."""
    return {name: hashlib.sha256((base / name).read_bytes()).hexdigest()
            for name in ("tastydesk.db", "paper.db")}


def test_json_is_the_engines_preview_and_nothing_is_written(
        account: tuple[Path, int, dict[str, Any]], capsys: Any) -> None:
    base, wid, engine_preview = account
    before = _digest(base)
    assert main(["roll-preview", "--data-dir", str(base), "--workflow", str(wid),
                 "--json"]) == ExitCode.OK
    doc = json.loads(capsys.readouterr().out)
    assert doc["workflow_id"] == wid and doc["refused"] is None
    # The same paper market as the account's: the same legs and prices the engine previewed.
    assert [leg["symbol"] for leg in doc["opening"]] == [
        leg["symbol"] for leg in engine_preview["opening"]]
    assert Decimal(doc["net_mid"]) == engine_preview["mid"]
    assert Decimal(doc["net_natural"]) == engine_preview["natural"]
    assert Decimal(doc["max_loss"]) == engine_preview["max_loss"]
    assert Decimal(doc["buying_power_effect"]) == engine_preview["buying_power_effect"]
    assert Decimal(doc["credit_collected"]) == engine_preview["credit_collected"]
    assert doc["orders"] == ["put spread"] or doc["orders"] == ["call spread"]
    assert len(doc["closing"]) == 2 and doc["expiry"] in doc["expirations"]
    assert _digest(base) == before  # read-only: the account's files are untouched


def test_text_names_the_legs_and_the_checks(account: tuple[Path, int, dict[str, Any]],
                                            capsys: Any) -> None:
    base, wid, _ = account
    assert main(["roll-preview", "--data-dir", str(base), "--workflow", str(wid)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Roll #{wid} ")
    assert "STO" in out and "BTO" in out and "net_mid" in out
    assert out.rstrip().endswith("pre-trade checks: pass")


def test_refusals_are_one_line_with_their_exit_code(
        account: tuple[Path, int, dict[str, Any]], capsys: Any, tmp_path: Path) -> None:
    base, _wid, _ = account
    assert main(["roll-preview", "--data-dir", str(base), "--workflow", "999"]) == \
        ExitCode.BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert err == "tastydesk: workflow: no open position for workflow #999"
    assert main(["roll-preview", "--data-dir", str(tmp_path / "nowhere"), "--workflow",
                 "1"]) == ExitCode.BAD_INPUT
    assert "no such directory" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["roll-preview", "--data-dir", str(empty), "--workflow", "1"]) == \
        ExitCode.BAD_INPUT
    assert "no tastydesk database" in capsys.readouterr().err
    garbled = tmp_path / "garbled"
    garbled.mkdir()
    db_path(garbled).write_bytes(b"not a database " * 100)
    (garbled / "paper.db").write_bytes(b"")
    assert main(["roll-preview", "--data-dir", str(garbled), "--workflow", "1"]) == \
        ExitCode.DAMAGED_STATE
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "tastydesk.db" in err

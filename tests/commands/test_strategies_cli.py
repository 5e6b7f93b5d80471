from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from tastydesk.commands import strategies
from tastydesk.engine.store.service import Store
from tastydesk.engine.strategies.codec import strategy_to_dict
from tastydesk.engine.strategies.defaults import DEFAULT_STRATEGIES


def run(data_dir: Path, *argv: str) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir")
    strategies.add_parser(parser)
    return strategies.run(parser.parse_args(["--data-dir", str(data_dir), *argv]))


def names(data_dir: Path) -> list[str]:
    with Store.open(data_dir / "tastydesk.db") as store:
        return [s.name for s in store.list_strategies()]


def test_list_shows_the_defaults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "list") == 0
    out = capsys.readouterr().out
    for s in DEFAULT_STRATEGIES:
        assert s.name in out
    assert "[built-in]" in out


def test_export_validate_import_round_trip(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "ic.json"
    assert run(tmp_path, "export", "Iron Condor - 45 DTE", "--out", str(file)) == 0
    doc = json.loads(file.read_text())
    assert doc["schema_version"] == 1 and doc["name"] == "Iron Condor - 45 DTE"
    assert run(tmp_path, "validate", str(file)) == 0
    doc["name"] = "My Condor"
    doc["dte"] = {"min": 30, "target": 35, "max": 40}
    file.write_text(json.dumps(doc))
    assert run(tmp_path, "import", str(file)) == 0
    assert "My Condor" in names(tmp_path)
    capsys.readouterr()
    assert run(tmp_path, "show", "My Condor") == 0
    assert json.loads(capsys.readouterr().out)["dte"]["target"] == 35


def test_bad_import_names_fields_and_changes_nothing(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    before = names(tmp_path)
    doc = strategy_to_dict(DEFAULT_STRATEGIES[0])
    doc["name"] = "Broken"
    doc["legs"][0]["selection"]["value"] = "1.5"
    doc["rules"][0]["threshold"] = "-1"
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(doc))
    assert run(tmp_path, "import", str(file)) == 2
    err = capsys.readouterr().err
    assert "legs[0].selection.value" in err and "rules[0].threshold" in err
    assert err.count("\n") == 1 and err.startswith(f"{file}: invalid strategy: ")
    assert run(tmp_path, "validate", str(file)) == 2
    assert names(tmp_path) == before


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not valid JSON"),
    (json.dumps({**strategy_to_dict(DEFAULT_STRATEGIES[0]), "schema_version": 3}), "newer"),
])
def test_bad_json_and_newer_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   content: str, message: str) -> None:
    file = tmp_path / "x.json"
    file.write_text(content)
    assert run(tmp_path, "import", str(file)) == 2
    assert message in capsys.readouterr().err


def test_missing_things(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(tmp_path, "show", "Nope") == 2
    assert run(tmp_path, "export", "Nope") == 2
    assert run(tmp_path, "validate", str(tmp_path / "absent.json")) == 2
    err = capsys.readouterr().err
    assert "no strategy named 'Nope'" in err and "cannot read" in err


def test_restore_defaults(tmp_path: Path) -> None:
    with Store.open(tmp_path / "tastydesk.db") as store:
        store.delete_strategy("Cash Secured Put - 30 DTE")
    assert "Cash Secured Put - 30 DTE" not in names(tmp_path)
    assert run(tmp_path, "restore-defaults") == 0
    assert "Cash Secured Put - 30 DTE" in names(tmp_path)

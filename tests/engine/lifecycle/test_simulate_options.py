"""``simulate --without-rule``: a bad rule type is refused in one line, before anything is
written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tastydesk.cli import main
from tastydesk.exit_codes import ExitCode


def test_an_unknown_rule_type_is_refused_naming_the_option(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    argv = ["simulate", "--without-rule", "expiration_risk,expiry", "--data-dir", str(data)]
    assert main(argv) == ExitCode.BAD_INPUT
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "--without-rule" in line and "'expiry'" in line and "expiration_risk" in line
    assert not data.exists()

from pathlib import Path

import pytest

from tastydesk.cli import _take_data_dir, main


def test_data_dir_is_accepted_anywhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strategies", "list", "--data-dir", str(tmp_path)]) == 0
    assert "Iron Condor - 45 DTE" in capsys.readouterr().out
    assert (tmp_path / "tastydesk.db").exists()
    assert _take_data_dir(["a", f"--data-dir={tmp_path}", "b"]) == (["a", "b"], str(tmp_path))


def test_data_dir_without_a_value_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strategies", "list", "--data-dir"]) == 2
    assert capsys.readouterr().err == "tastydesk: error: --data-dir needs a directory\n"

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


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for code in ("0  success", "2  bad input", "3  damaged", "4  the data directory is in use",
                 "5  internal error"):
        assert code in out
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    assert "4  the data directory is in use" in capsys.readouterr().out


def test_preview_answers_bad_input_and_damaged_state_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "No Such Strategy", "--symbol", "SPY", "--data-dir",
                 str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no strategy named 'No Such Strategy'" in err
    (tmp_path / "tastydesk.db").unlink()
    (tmp_path / "tastydesk.db").write_bytes(b"garbage" * 100)
    assert main(["preview", "Iron Condor - 45 DTE", "--symbol", "SPY", "--data-dir",
                 str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "tastydesk.db") in err
    assert "Traceback" not in err


def test_an_unusable_data_directory_is_one_line(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    assert main(["strategies", "restore-defaults", "--data-dir", str(not_a_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"tastydesk: cannot use {not_a_dir}")

"""CI runs what the README promises: the same test command, the same system packages, and the
app started on a real X server (Xvfb) with Qt's xcb platform."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI_RUN = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
# Qt 6's xcb platform plugin links these (ldd of libqxcb.so and libQt6XcbQpa.so.6).
XCB_PACKAGES = {"libxcb-cursor0", "libxcb-icccm4", "libxcb-image0", "libxcb-keysyms1",
                "libxcb-randr0", "libxcb-render-util0", "libxcb-shape0", "libxcb-xinerama0",
                "libxcb-xkb1", "libxkbcommon-x11-0", "libxcb-shm0", "libxcb-sync1",
                "libxcb-xfixes0", "libxcb-util1", "libx11-xcb1"}


def _readme_block(start: str) -> str:
    match = re.search(r"```bash\n(" + re.escape(start) + r".*?)```", README, re.S)
    assert match, f"README has no bash block starting with {start!r}"
    return match.group(1).replace("\\\n", " ")


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    command = _readme_block("python3 -m venv .venv && .venv/bin/pip install -q -e \".[test]\"")
    assert command.strip() in CI_RUN


def test_ci_installs_the_readme_package_list_which_covers_qt_xcb() -> None:
    readme = set(_readme_block("apt-get install").split()[2:])
    assert readme >= XCB_PACKAGES
    listed = re.search(r'QT_XCB_PACKAGES="(.*?)"', CI_RUN, re.S)
    assert listed is not None
    assert set(listed.group(1).split()) == readme


def test_ci_starts_the_app_under_xvfb_on_xcb() -> None:
    assert re.search(r"xvfb-run -a .*\n?.*QT_QPA_PLATFORM=xcb\s*\\?\n?\s*\.venv/bin/tastydesk "
                     r"--self-test", CI_RUN)
    subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], check=True)
    subprocess.run(["bash", "-n", str(ROOT / ".ci" / "package")], check=True)


def test_pyinstaller_floor_is_past_the_numpy_and_scipy_hook_fixes() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    floor = re.search(r'"pyinstaller>=([0-9.]+)"', pyproject)
    assert floor is not None
    assert tuple(int(p) for p in floor.group(1).split(".")) >= (6, 18, 0)

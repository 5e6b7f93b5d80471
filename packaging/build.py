"""Build the one-folder bundle with PyInstaller, archive it, and measure what a user will feel.

``python packaging/build.py`` (from anywhere; paths are resolved from this file) prints the build
time, the unpacked bundle size, the archive size and the bundle's start-up time to first window
(the app's startup probe, offscreen), then runs the bundle's ``--self-test``. It exits non-zero
when the build fails, the bundle exceeds its size budget, the window never appears or the
self-test fails.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "tastydesk.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build" / "pyinstaller"
SIZE_BUDGET_MB = 250.0
PROBE_ENV = "TASTYDESK_STARTUP_PROBE"  # the app prints its window times and quits
PROBE_LINE = re.compile(r"first-window-s\s+([0-9.]+)")  # first painted window (splash)
MAIN_LINE = re.compile(r"main-window-s\s+([0-9.]+)")  # main window, engine opened


def version() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    if match is None:
        raise ValueError("pyproject.toml: no version field in [project]")
    return match.group(1)


def bundle_dir() -> Path:
    if sys.platform == "darwin":
        return DIST / "TastyDesk.app"
    return DIST / "tastydesk"


def executable(bundle: Path, console: bool = True) -> Path:
    """The bundle's executable; on Windows the console twin when ``console`` is set."""
    if sys.platform == "win32":
        return bundle / ("tastydesk-cli.exe" if console else "tastydesk.exe")
    if sys.platform == "darwin":
        return bundle / "Contents" / "MacOS" / "tastydesk"
    return bundle / "tastydesk"


def tree_size(path: Path) -> int:
    """Bytes of every regular file under ``path``, symlinks not followed (what unpacking costs)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            file = Path(root) / name
            if not file.is_symlink():
                total += file.stat().st_size
    return total


def build(clean: bool) -> float:
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--distpath", str(DIST),
           "--workpath", str(WORK), str(SPEC)]
    if clean:
        cmd.insert(4, "--clean")
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    log = WORK / "build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise RuntimeError(f"PyInstaller failed (exit {proc.returncode}); log: {log}\n{tail}")
    return elapsed


def archive(bundle: Path) -> Path:
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    target = DIST / f"tastydesk-{version()}-{system}-{platform.machine().lower()}.tar.gz"
    with tarfile.open(target, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname=bundle.name)
    return target


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "TASTYDESK_"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["TASTYDESK_DATA_DIR"] = str(data_dir)
    return env


def startup_times(exe: Path, runs: int) -> list[float]:
    """Seconds from process start to the first painted window, as the app itself reports it."""
    times: list[float] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="tastydesk-probe-") as tmp:
            env = {**_env(Path(tmp)), PROBE_ENV: "1"}
            started = time.perf_counter()
            proc = subprocess.run([str(exe), "--paper", "--data-dir", tmp], env=env,
                                  capture_output=True, text=True, timeout=120)
            wall = time.perf_counter() - started
        match = PROBE_LINE.search(proc.stdout)
        if proc.returncode != 0 or match is None:
            raise RuntimeError(f"startup probe failed (exit {proc.returncode}):\n"
                               f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        times.append(float(match.group(1)))
        main = MAIN_LINE.search(proc.stdout)
        print(f"  startup run: first window {float(match.group(1)):.3f} s, main window "
              f"{f'{float(main.group(1)):.3f} s' if main else 'not reported'}, process exit "
              f"{wall:.3f} s", flush=True)
    return times


def self_test(exe: Path, timeout: float) -> tuple[bool, float, str]:
    with tempfile.TemporaryDirectory(prefix="tastydesk-selftest-") as tmp:
        started = time.perf_counter()
        proc = subprocess.run([str(exe), "--self-test", "--data-dir", tmp], env=_env(Path(tmp)),
                              capture_output=True, text=True, timeout=timeout)
        wall = time.perf_counter() - started
    return proc.returncode == 0, wall, proc.stdout + proc.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-clean", action="store_true", help="reuse PyInstaller's cache")
    parser.add_argument("--skip-build", action="store_true", help="measure an existing bundle")
    parser.add_argument("--runs", type=int, default=3, help="start-up measurements (default 3)")
    parser.add_argument("--no-self-test", action="store_true", help="skip the bundle's self-test")
    parser.add_argument("--max-mb", type=float, default=SIZE_BUDGET_MB,
                        help=f"unpacked size budget in MB (default {SIZE_BUDGET_MB:g})")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs: must be at least 1")
    failures: list[str] = []
    try:
        if not args.skip_build:
            if not args.no_clean:
                shutil.rmtree(bundle_dir(), ignore_errors=True)
            print(f"building {SPEC.relative_to(ROOT)} with PyInstaller ...", flush=True)
            seconds = build(clean=not args.no_clean)
            print(f"build time: {seconds:.1f} s", flush=True)
        bundle = bundle_dir()
        exe = executable(bundle)
        if not exe.exists():
            raise RuntimeError(f"bundle executable missing: {exe}")
        size_mb = tree_size(bundle) / 1e6
        print(f"bundle: {bundle} ({size_mb:.1f} MB unpacked, budget {args.max_mb:g} MB)", flush=True)
        if size_mb > args.max_mb:
            failures.append(f"bundle size {size_mb:.1f} MB over the {args.max_mb:g} MB budget")
        tar = archive(bundle)
        print(f"archive: {tar} ({tar.stat().st_size / 1e6:.1f} MB)", flush=True)
        times = startup_times(exe, args.runs)
        print(f"startup to first window: median {statistics.median(times):.3f} s, "
              f"min {min(times):.3f} s, max {max(times):.3f} s over {len(times)} run(s)", flush=True)
        if not args.no_self_test:
            ok, wall, output = self_test(exe, timeout=180)
            print(output.rstrip(), flush=True)
            print(f"bundle self-test: {'passed' if ok else 'FAILED'} in {wall:.1f} s", flush=True)
            if not ok:
                failures.append("bundle self-test failed")
    except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as exc:
        failures.append(str(exc))
    if failures:
        print("build FAILED: " + "; ".join(failures), file=sys.stderr, flush=True)
        return 1
    print("build ok", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

from __future__ import annotations

import configparser
import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ICONS = ROOT / "resources" / "icons"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"packaging_{name}", ROOT / "packaging" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


icons = _load("icons")
build = _load("build")


def test_icon_set_is_complete_and_square():
    from PySide6.QtGui import QImage

    assert (ICONS / "tastydesk.svg").exists()
    for size in (16, 32, 48, 64, 128, 256, 512):
        image = QImage(str(ICONS / f"tastydesk-{size}.png"))
        assert (image.width(), image.height()) == (size, size), size


@pytest.mark.parametrize("container", ["tastydesk.ico", "tastydesk.icns"])
def test_committed_icon_containers_are_readable(container, qapp):
    from PySide6.QtGui import QImageReader

    reader = QImageReader(str(ICONS / container))
    expected = len(icons.ICO_SIZES) if container.endswith("ico") else len(icons.ICNS_TYPES)
    assert reader.imageCount() == expected
    sizes = set()
    for i in range(reader.imageCount()):
        reader.jumpToImage(i)
        image = reader.read()
        assert not image.isNull(), (container, i)
        sizes.add(image.width())
    assert max(sizes) == (256 if container.endswith("ico") else 1024)


def test_generate_keeps_existing_pngs_and_renders_missing(tmp_path, qapp):
    (tmp_path / "tastydesk.svg").write_bytes((ICONS / "tastydesk.svg").read_bytes())
    kept = tmp_path / "tastydesk-16.png"
    kept.write_bytes(b"hand-tuned")
    written = icons.generate(tmp_path)
    assert kept.read_bytes() == b"hand-tuned"
    assert kept not in written
    assert (tmp_path / "tastydesk-512.png").read_bytes().startswith(b"\x89PNG")
    icns = (tmp_path / "tastydesk.icns").read_bytes()
    assert icns[:4] == b"icns" and int.from_bytes(icns[4:8], "big") == len(icns)
    ico = (tmp_path / "tastydesk.ico").read_bytes()
    assert ico[:4] == b"\x00\x00\x01\x00" and int.from_bytes(ico[4:6], "little") == len(icons.ICO_SIZES)


def test_bad_icon_input_names_the_field(tmp_path):
    with pytest.raises(ValueError, match="size"):
        icons.build_ico({512: b"x"})
    with pytest.raises(ValueError, match="type"):
        icons.build_icns({"ic7": b"x"})
    with pytest.raises(FileNotFoundError, match="svg"):
        icons.generate(tmp_path)


def test_spec_compiles_and_ships_what_the_app_loads_by_path():
    text = (ROOT / "packaging" / "tastydesk.spec").read_text()
    compile(text, "tastydesk.spec", "exec")
    assert '"resources"' in text and "tastydesk/engine/store/migrations" in text
    assert 'collect_submodules("tastydesk")' in text
    assert "io.tastydesk.TastyDesk" in text and "tastydesk.icns" in text and "tastydesk.ico" in text
    for excluded in ("PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtPdf", "PySide6.QtMultimedia",
                     "pyqtgraph.opengl", "tkinter", "matplotlib", "IPython"):
        assert f'"{excluded}"' in text, excluded
    assert (ROOT / "tastydesk" / "engine" / "store" / "migrations" / "env.py").exists()
    assert (ROOT / "packaging" / "entry.py").exists()


def test_desktop_entry():
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(ROOT / "packaging" / "linux" / "io.tastydesk.TastyDesk.desktop")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Exec"].split()[0] == "tastydesk"
    assert entry["Icon"] == "io.tastydesk.TastyDesk"
    assert "Finance" in entry["Categories"].split(";")
    assert entry["Terminal"] == "false"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^tastydesk = "tastydesk\.cli:main"', pyproject, re.M)


def test_build_helpers(tmp_path):
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", build.version())
    (tmp_path / "a").write_bytes(b"x" * 1000)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"y" * 24)
    (tmp_path / "link").symlink_to(tmp_path / "a")
    assert build.tree_size(tmp_path) == 1024
    assert build.PROBE_LINE.search("splash 0.1\nfirst-window-s 0.8123\n").group(1) == "0.8123"

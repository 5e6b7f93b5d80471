from __future__ import annotations

import ctypes
import importlib.util
import shutil
import struct
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("packaging_slim", ROOT / "packaging" / "slim.py")
slim = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = slim
_spec.loader.exec_module(slim)

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF files")


@pytest.mark.parametrize(("dest", "unused"), [
    ("PySide6/Qt/plugins/platforms/libqxcb.so", False),
    ("PySide6/Qt/plugins/platforms/libqwayland.so", False),
    ("PySide6/Qt/plugins/platforms/libqoffscreen.so", False),
    ("PySide6/Qt/plugins/platforms/libqminimal.so", False),
    ("PySide6\\plugins\\platforms\\qwindows.dll", False),
    ("PySide6/Qt/plugins/platforms/libqcocoa.dylib", False),
    ("PySide6/Qt/plugins/platforms/libqeglfs.so", True),
    ("PySide6/Qt/plugins/platforms/libqlinuxfb.so", True),
    ("PySide6/Qt/plugins/platforms/libqvnc.so", True),
    ("PySide6/Qt/plugins/imageformats/libqsvg.so", False),
    ("PySide6/Qt/plugins/imageformats/libqico.so", False),
    ("PySide6/Qt/plugins/imageformats/libqjpeg.so", True),
    ("PySide6/Qt/plugins/imageformats/libqwebp.so", True),
    ("PySide6/Qt/plugins/iconengines/libqsvgicon.so", False),
    ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", True),
    ("PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so", False),
    ("PySide6/Qt/plugins/tls/libqopensslbackend.so", True),
    ("PySide6/Qt/plugins/networkinformation/libqglib.so", True),
    ("PySide6/Qt/plugins/wayland-shell-integration/libxdg-shell.so", False),
    ("PySide6/Qt/plugins/wayland-shell-integration/libivi-shell.so", True),
    ("PySide6/Qt/plugins/wayland-graphics-integration-client/libqt-plugin-wayland-egl.so", True),
    ("PySide6/Qt/plugins/wayland-shell-integration/libwl-shell-plugin.so", True),
    ("PySide6/Qt/lib/libQt6WlShellIntegration.so.6", True),
    ("PySide6/Qt/lib/libQt6OpenGL.so.6", False),  # only when nothing kept links it
    ("PySide6/Qt/plugins/wayland-graphics-integration-client/libdmabuf-server.so", True),
    ("PySide6/Qt/plugins/wayland-decoration-client/libadwaita.so", False),
    ("PySide6/Qt/plugins/platforminputcontexts/libibusplatforminputcontextplugin.so", False),
    ("PySide6/Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so", False),
    ("PySide6/Qt/lib/libQt6EglFSDeviceIntegration.so.6", True),
    ("libQt6EglFsKmsSupport.so.6", True),
    ("PySide6/Qt/lib/libQt6Gui.so.6", False),
    ("PySide6/Qt/plugins/imageformats/README.json", False),
    ("numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so", False),
])
def test_unused_qt_file(dest, unused):
    assert slim.unused_qt_file(dest) is unused


def test_plugin_name_rejects_non_libraries():
    assert slim.plugin_name("libqwayland.so") == "qwayland"  # a trailing "d" is not a debug tag
    with pytest.raises(ValueError, match="plugin file name"):
        slim.plugin_name("manifest.json")


def test_drop_entries_takes_symlinks_to_dropped_files_along():
    entries = [
        ("PySide6/Qt/lib/libQt6EglFSDeviceIntegration.so.6", "/x/a", "BINARY"),
        ("libQt6EglFSDeviceIntegration.so.6", "PySide6/Qt/lib/libQt6EglFSDeviceIntegration.so.6",
         "SYMLINK"),
        ("libQt6Gui.so.6", "PySide6/Qt/lib/libQt6Gui.so.6", "SYMLINK"),
        ("PySide6/Qt/lib/libQt6Gui.so.6", "/x/b", "BINARY"),
    ]
    kept, dropped = slim.drop_entries(entries, lambda d: d.startswith("PySide6/Qt/lib/libQt6Egl"))
    assert [e[0] for e in kept] == ["libQt6Gui.so.6", "PySide6/Qt/lib/libQt6Gui.so.6"]
    assert len(dropped) == 2
    assert slim.link_target("scipy.libs/x.so", "../numpy.libs/x.so") == "numpy.libs/x.so"


def test_orphaned_keeps_libraries_a_kept_binary_still_needs():
    links = {
        "/src/gtk3.so": ["libgtk-3.so.0", "libcairo.so.2", "libglib-2.0.so.0", "libz.so.1"],
        "/sys/libpython": ["libz.so.1"],
        "/src/xcb.so": ["libxcb.so.1", "libglib-2.0.so.0"],
        "/sys/libcairo.so.2": ["libpixman-1.so.0"],
        "/sys/libglib-2.0.so.0": [],
        "/sys/libpixman-1.so.0": [],
        "/src/ext.so": ["libquadmath.so"],
    }
    kept = [
        ("PySide6/Qt/plugins/platforms/libqxcb.so", "/src/xcb.so", "BINARY"),
        ("libcairo.so.2", "/sys/libcairo.so.2", "BINARY"),
        ("libglib-2.0.so.0", "/sys/libglib-2.0.so.0", "BINARY"),
        ("libpixman-1.so.0", "/sys/libpixman-1.so.0", "BINARY"),
        ("scipy.libs/libquadmath.so", "/sys/q.so", "BINARY"),
        ("libpython3.11.so.1.0", "/sys/libpython", "BINARY"),
        ("libz.so.1", "/sys/libz.so.1", "BINARY"),
    ]
    dropped = [("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "/src/gtk3.so", "BINARY"),
               ("mod/ext.so", "/src/ext.so", "EXTENSION")]
    orphans = slim.orphaned(kept, dropped, lambda src: links.get(src, []))
    # pixman is reached through cairo; glib is still needed by xcb, zlib by libpython (loaded by
    # the bootloader, linked by nothing); libquadmath is package-owned.
    assert orphans == {"libcairo.so.2", "libpixman-1.so.0"}


def test_orphaned_qt_library_needs_every_kept_user_gone():
    links = {"/p/egl.so": ["libQt6OpenGL.so.6", "libQt6Gui.so.6"], "/p/xcb.so": ["libQt6Gui.so.6"],
             "/p/other.so": ["libQt6OpenGL.so.6"]}
    gl = ("PySide6/Qt/lib/libQt6OpenGL.so.6", "/p/gl.so", "BINARY")
    gui = ("PySide6/Qt/lib/libQt6Gui.so.6", "/p/gui.so", "BINARY")
    xcb = ("PySide6/Qt/plugins/platforms/libqxcb.so", "/p/xcb.so", "BINARY")
    egl = ("PySide6/Qt/plugins/wayland-graphics-integration-client/libqt-plugin-wayland-egl.so",
           "/p/egl.so", "BINARY")
    other = ("PySide6/Qt/plugins/platforms/libqother.so", "/p/other.so", "BINARY")
    is_gl = slim.QT_LIB_IF_UNUSED.search
    assert slim.orphaned([gl, gui, xcb], [egl], lambda s: links.get(s, []), is_gl) == {"libQt6OpenGL.so.6"}
    assert slim.orphaned([gl, gui, xcb, other], [egl], lambda s: links.get(s, []), is_gl) == set()
    assert slim.orphaned([gl, gui, xcb], [egl], lambda s: links.get(s, [])) == set()


def test_dedupe_links_identical_copies_with_the_same_name(tmp_path):
    (tmp_path / "a").write_bytes(b"same" * 1000)
    (tmp_path / "b").write_bytes(b"same" * 1000)
    (tmp_path / "c").write_bytes(b"other" * 10)
    entries = [
        ("numpy.libs/libgfortran.so.5", str(tmp_path / "a"), "BINARY"),
        ("scipy.libs/libgfortran.so.5", str(tmp_path / "b"), "BINARY"),
        ("scipy.libs/renamed.so.5", str(tmp_path / "b"), "BINARY"),
        ("scipy.libs/libquadmath.so", str(tmp_path / "c"), "BINARY"),
        ("base_library.zip", str(tmp_path / "a"), "DATA"),
    ]
    out, saved = slim.dedupe(entries)
    assert out[1] == ("scipy.libs/libgfortran.so.5", "../numpy.libs/libgfortran.so.5", "SYMLINK")
    assert out[0] == entries[0] and out[2] == entries[2] and out[3:] == entries[3:]
    assert saved == 4000


def _elf(loads: list[tuple[int, int, int]]) -> bytes:
    """A minimal 64-bit little-endian ELF header with the given PT_LOAD headers."""
    phoff, phentsize = 64, 56
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", header, 0x20, phoff)
    struct.pack_into("<HH", header, 0x36, phentsize, len(loads))
    body = b"".join(struct.pack("<IIQQQQQQ", 1, 5, off, vaddr, vaddr, 16, 16, align)
                    for off, vaddr, align in loads)
    return bytes(header) + body


def test_elf_info_flags_misaligned_segments(tmp_path):
    good = tmp_path / "good.so"
    good.write_bytes(_elf([(0, 0, 0x1000), (0x1010, 0x2010, 0x1000)]))
    bad = tmp_path / "bad.so"
    bad.write_bytes(_elf([(0, 0, 0x1000), (0x1010, 0x2000, 0x1000)]))
    text = tmp_path / "text.so"
    text.write_text("not an ELF file, a linker script\n")
    assert slim.elf_info(good).aligned
    assert not slim.elf_info(bad).aligned
    assert not slim.strip_candidate("lib.so", slim.elf_info(bad))
    assert slim.elf_info(text) is None
    assert not slim.strip_candidate("lib.so", None)
    truncated = tmp_path / "cut.so"
    truncated.write_bytes(_elf([(0, 0, 0x1000)])[:80])
    with pytest.raises(ValueError, match="program header 0"):
        slim.elf_info(truncated)


def _extension(package: str, stem: str) -> Path:
    spec = importlib.util.find_spec(package)
    return next(Path(spec.submodule_search_locations[0]).glob(f"{stem}*.so"))


@linux_only
def test_repaired_wheels_are_recognised_and_never_stripped():
    umath = _extension("numpy._core", "_multiarray_umath")
    info = slim.elf_info(umath)
    assert info.repaired and info.aligned
    assert not slim.strip_candidate("numpy/_core/" + umath.name, info)
    assert not slim.strip_candidate("numpy.libs/libfoo.so", slim.elf_info(umath))


@linux_only
@pytest.mark.skipif(shutil.which("strip") is None, reason="binutils strip")
def test_strip_binaries_shrinks_plain_modules_and_they_still_load(tmp_path):
    plain = _extension("sqlalchemy.engine", "_result_cy")
    umath = _extension("numpy._core", "_multiarray_umath")
    entries = [
        ("sqlalchemy/engine/" + plain.name, str(plain), "EXTENSION"),
        ("numpy/_core/" + umath.name, str(umath), "EXTENSION"),
        ("resources/x.qss", str(ROOT / "pyproject.toml"), "DATA"),
    ]
    out, saved = slim.strip_binaries(entries, tmp_path / "stripped")
    stripped = Path(out[0][1])
    assert stripped.parent == tmp_path / "stripped"
    assert saved == plain.stat().st_size - stripped.stat().st_size
    assert slim.elf_info(stripped).aligned
    ctypes.CDLL(str(stripped))  # glibc maps the stripped copy
    assert out[1:] == entries[1:]  # the repaired module and the data file are untouched
    assert plain.stat().st_size == Path(entries[0][1]).stat().st_size

"""Trimming rules for the frozen bundle: what the app can never load, and which libraries are safe
to strip.

The spec imports this module, so every rule here is also unit-tested without a build. Entries are
PyInstaller TOC tuples ``(dest, src, typecode)``; ``SYMLINK`` entries carry the link target,
relative to the link's folder, in place of ``src``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

Entry = tuple[str, str, str]

# Qt plugin folders the bundle filters, and the plugins it keeps in each (file names without the
# "lib" prefix, the extension and Qt's "q" prefix). Folders not listed are kept whole; a folder mapped to an
# empty set is dropped. The app draws with QtWidgets' raster engine (no OpenGL), loads PNG
# (built into QtGui), SVG and ICO images, and uses QtNetwork only for its single-instance
# QLocalServer, so TLS and network-information backends are never loaded.
QT_PLUGIN_KEEP: dict[str, frozenset[str]] = {
    # xcb/wayland: desktops; offscreen/minimal: CI and the self-test; the rest are the other
    # operating systems' platforms. eglfs, linuxfb, vnc and vkkhrdisplay are for kiosk devices.
    "platforms": frozenset({"xcb", "wayland", "offscreen", "minimal", "windows", "direct2d",
                            "cocoa"}),
    "imageformats": frozenset({"svg", "ico"}),
    "iconengines": frozenset({"svgicon"}),
    # The GTK3 theme plugin pulls the whole GTK/cairo/pango stack into the bundle; the XDG
    # desktop portal theme still gives native dialogs on GNOME and KDE.
    "platformthemes": frozenset({"xdgdesktopportal"}),
    # Client buffer integrations only serve OpenGL windows (raster windows use shared memory);
    # the rest of the folder is compositor-side. Every current compositor speaks xdg-shell.
    "wayland-graphics-integration-client": frozenset(),
    "wayland-shell-integration": frozenset({"xdg-shell"}),
    "egldeviceintegrations": frozenset(),
    "generic": frozenset(),  # evdev/tuio input, used by eglfs and linuxfb only
    "networkinformation": frozenset(),
    "tls": frozenset(),
}

# Qt libraries that only dropped plugins link (eglfs, the wl-shell plugin).
QT_LIB_DROP = re.compile(r"(^|/)(lib)?Qt6(EglFSDeviceIntegration|EglFsKmsSupport|WlShellIntegration)\b")
# Qt libraries dropped once nothing kept links them (the Wayland EGL client plugin is the only
# user of QtOpenGL on Linux).
QT_LIB_IF_UNUSED = re.compile(r"(^|/)(lib)?Qt6OpenGL\b")

_PLUGIN = re.compile(r"(^|/)plugins/(?P<folder>[^/]+)/(?P<file>[^/]+)$")
_PLUGIN_NAME = re.compile(r"^(lib)?(?P<name>.+)\.(so|dll|dylib)$")


def _posix(dest: str) -> str:
    return dest.replace("\\", "/")


def plugin_name(file_name: str) -> str:
    """``libqxcb.so`` -> ``qxcb``, ``qwindows.dll`` -> ``qwindows``, ``libxdg-shell.so`` -> ``xdg-shell``."""
    match = _PLUGIN_NAME.match(file_name)
    if match is None:
        raise ValueError(f"plugin file name: {file_name!r} is not a shared library")
    return match.group("name")


def unused_qt_file(dest: str) -> bool:
    """True for a Qt plugin or library the app can never load (see ``QT_PLUGIN_KEEP``)."""
    path = _posix(dest)
    if QT_LIB_DROP.search(path):
        return True
    match = _PLUGIN.search(path)
    if match is None or match.group("folder") not in QT_PLUGIN_KEEP:
        return False
    try:
        name = plugin_name(match.group("file"))
    except ValueError:
        return False  # data next to a plugin (e.g. a JSON manifest) is left alone
    keep = QT_PLUGIN_KEEP[match.group("folder")]
    return name not in keep and name.removeprefix("q") not in keep


def link_target(dest: str, target: str) -> str:
    """The bundle path a ``SYMLINK`` entry points to (its target is relative to its folder)."""
    parent = PurePosixPath(_posix(dest)).parent
    return os.path.normpath(str(parent / _posix(target))).replace("\\", "/")


def drop_entries(entries: Iterable[Entry],
                 unwanted: Callable[[str], bool]) -> tuple[list[Entry], list[Entry]]:
    """Split ``entries`` into (kept, dropped); symlinks to a dropped file are dropped with it."""
    kept: list[Entry] = []
    dropped: list[Entry] = []
    for entry in entries:
        (dropped if unwanted(entry[0]) else kept).append(entry)
    gone = {_posix(e[0]) for e in dropped}
    final: list[Entry] = []
    for entry in kept:
        if entry[2] == "SYMLINK" and link_target(entry[0], entry[1]) in gone:
            dropped.append(entry)
        else:
            final.append(entry)
    return final, dropped


def orphaned(kept: list[Entry], dropped: list[Entry],
             imports: Callable[[str], Iterable[str]],
             candidate: Callable[[str], bool] = lambda dest: False) -> set[str]:
    """Library file names that only dropped binaries link to.

    ``imports(src)`` returns the shared-library names ``src`` links to. Candidates are the
    libraries PyInstaller collected as dependencies (``BINARY`` entries at the bundle's top
    level) and those ``candidate(dest)`` accepts; one is orphaned when a dropped binary reaches
    it and no kept binary other than a fellow candidate does. Python extension modules and
    other package-owned libraries never are.
    """
    top_level = {PurePosixPath(_posix(e[0])).name for e in kept
                 if e[2] == "BINARY" and ("/" not in _posix(e[0]) or candidate(e[0]))}
    by_name = {PurePosixPath(_posix(e[0])).name: e[1] for e in kept + dropped
               if e[2] in ("BINARY", "EXTENSION")}

    def closure(sources: Iterable[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(sources)
        done: set[str] = set()
        while todo:
            src = todo.pop()
            if src in done:
                continue
            done.add(src)
            for name in imports(src):
                if name not in seen:
                    seen.add(name)
                    if name in by_name:
                        todo.append(by_name[name])
        return seen

    # libpython is loaded by the bootloader, not linked by anything in the bundle.
    roots = [e[1] for e in kept if e[2] in ("BINARY", "EXTENSION")
             and (PurePosixPath(_posix(e[0])).name not in top_level
                  or PurePosixPath(_posix(e[0])).name.startswith(("libpython", "python3")))]
    reached_by_dropped = closure(e[1] for e in dropped if e[2] in ("BINARY", "EXTENSION"))
    return (reached_by_dropped & top_level) - closure(roots)


def dedupe(entries: list[Entry]) -> tuple[list[Entry], int]:
    """Replace byte-identical copies of a binary by symlinks to the first copy.

    Wheels repaired by auditwheel each vendor their own runtime (numpy and scipy both ship the
    same libgfortran and libquadmath). The dynamic loader matches an already-loaded library by
    its soname, so the second copy is never mapped; a symlink keeps the path the loader looks
    up. Returns the new entries and the bytes saved.
    """
    first: dict[tuple[int, str], str] = {}
    out: list[Entry] = []
    saved = 0
    for dest, src, kind in entries:
        if kind not in ("BINARY", "EXTENSION") or not os.path.isfile(src):
            out.append((dest, src, kind))
            continue
        size = os.path.getsize(src)
        with open(src, "rb") as handle:
            key = (size, hashlib.sha256(handle.read()).hexdigest())
        original = first.get(key)
        if original is None or PurePosixPath(original).name != PurePosixPath(_posix(dest)).name:
            first.setdefault(key, _posix(dest))
            out.append((dest, src, kind))
            continue
        parent = PurePosixPath(_posix(dest)).parent
        out.append((dest, os.path.relpath(original, str(parent)).replace("\\", "/"), "SYMLINK"))
        saved += size
    return out, saved


# --- ELF inspection and selective stripping (Linux) -------------------------------------------

PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_STRTAB, DT_RPATH, DT_RUNPATH = 0, 5, 15, 29


@dataclass(frozen=True, slots=True)
class ElfInfo:
    """What stripping needs to know about one ELF file."""

    loads: tuple[tuple[int, int, int], ...]  # (p_offset, p_vaddr, p_align) of each PT_LOAD
    search_paths: tuple[str, ...]  # DT_RPATH and DT_RUNPATH entries

    @property
    def aligned(self) -> bool:
        """glibc refuses a PT_LOAD whose address and offset differ modulo its alignment."""
        return all(align <= 1 or (vaddr - offset) % align == 0 for offset, vaddr, align in self.loads)

    @property
    def repaired(self) -> bool:
        """Rewritten by auditwheel/delocate (patchelf): points at a vendored ``*.libs`` folder."""
        return any(".libs" in path or ".dylibs" in path for path in self.search_paths)


def elf_info(path: str | Path) -> ElfInfo | None:
    """Program headers and library search paths of an ELF file; None for anything else."""
    data = Path(path).read_bytes()
    if len(data) < 64 or data[:4] != b"\x7fELF":
        return None
    is64 = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    if is64:
        phoff, = struct.unpack_from(end + "Q", data, 0x20)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 0x36)
    else:
        phoff, = struct.unpack_from(end + "I", data, 0x1C)
        phentsize, phnum = struct.unpack_from(end + "HH", data, 0x2A)
    loads: list[tuple[int, int, int]] = []
    dynamic: tuple[int, int] | None = None
    for i in range(phnum):
        base = phoff + i * phentsize
        if base + phentsize > len(data):
            raise ValueError(f"{path}: program header {i} lies outside the file")
        if is64:
            ptype, _flags, offset, vaddr, _paddr, filesz, _memsz, align = struct.unpack_from(
                end + "IIQQQQQQ", data, base)
        else:
            ptype, offset, vaddr, _paddr, filesz, _memsz, _flags, align = struct.unpack_from(
                end + "IIIIIIII", data, base)
        if ptype == PT_LOAD:
            loads.append((offset, vaddr, align))
        elif ptype == PT_DYNAMIC:
            dynamic = (offset, filesz)
    paths: list[str] = []
    if dynamic is not None:
        fmt, size = (end + "qQ", 16) if is64 else (end + "iI", 8)
        tags: list[tuple[int, int]] = []
        for pos in range(dynamic[0], min(dynamic[0] + dynamic[1], len(data) - size + 1), size):
            tag, value = struct.unpack_from(fmt, data, pos)
            if tag == DT_NULL:
                break
            tags.append((tag, value))
        strtab = next((v for t, v in tags if t == DT_STRTAB), None)
        strtab_off = _file_offset(strtab, loads) if strtab is not None else None
        if strtab_off is not None:
            for tag, value in tags:
                if tag in (DT_RPATH, DT_RUNPATH):
                    start = strtab_off + value
                    text = data[start:data.index(b"\0", start)].decode("utf-8", "replace")
                    paths += [p for p in text.split(":") if p]
    return ElfInfo(tuple(loads), tuple(paths))


def _file_offset(vaddr: int, loads: list[tuple[int, int, int]]) -> int | None:
    # Loads carry no size here; the segment with the greatest start not above vaddr maps it.
    best = None
    for offset, start, _align in loads:
        if start <= vaddr and (best is None or start > best[1]):
            best = (offset, start)
    return None if best is None else best[0] + vaddr - best[1]


def strip_candidate(dest: str, info: ElfInfo | None) -> bool:
    """Strip only plain ELF files: not auditwheel-repaired ones or their vendored libraries,
    whose patchelf-edited layout ``strip`` rewrites into segments glibc refuses to map."""
    parts = PurePosixPath(_posix(dest)).parts
    if info is None or not info.loads or not info.aligned or info.repaired:
        return False
    return not any(part.endswith(".libs") for part in parts[:-1])


def strip_binaries(entries: list[Entry], workdir: Path, strip: str = "strip") -> tuple[list[Entry], int]:
    """Strip symbol tables from the safe ELF binaries in ``entries`` (copies under ``workdir``).

    A stripped copy replaces the original only when it is still a well-formed, page-aligned ELF
    file with the same loadable segments count. Returns the new entries and the bytes saved.
    """
    tool = shutil.which(strip)
    if tool is None:
        return entries, 0
    workdir.mkdir(parents=True, exist_ok=True)
    out: list[Entry] = []
    saved = 0
    for dest, src, kind in entries:
        if kind not in ("BINARY", "EXTENSION") or not os.path.isfile(src):
            out.append((dest, src, kind))
            continue
        info = elf_info(src)
        if not strip_candidate(dest, info):
            out.append((dest, src, kind))
            continue
        target = workdir / _posix(dest).replace("/", "__")
        shutil.copy2(src, target)
        os.chmod(target, 0o755)
        done = subprocess.run([tool, "--strip-unneeded", str(target)], capture_output=True)
        after = elf_info(target) if done.returncode == 0 else None
        if after is None or not after.aligned or len(after.loads) != len(info.loads):
            out.append((dest, src, kind))
            continue
        saved += os.path.getsize(src) - os.path.getsize(target)
        out.append((dest, str(target), kind))
    return out, saved

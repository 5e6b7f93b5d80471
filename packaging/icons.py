"""Render the application icon set from its SVG source: PNGs, a Windows ``.ico``, a macOS ``.icns``.

``python packaging/icons.py`` writes into ``resources/icons/``. Existing PNGs are kept (they may
be hand-tuned for small sizes) unless ``--force`` is given; the ``.ico`` and ``.icns`` are always
rebuilt. Both container formats hold PNG payloads, which Windows (Vista and later) and macOS
(10.7 and later) read natively, so no image tool beyond Qt's SVG renderer is needed.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "resources" / "icons"
NAME = "tastydesk"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# (type code, pixel size): Apple's PNG-capable icns entries, @2x variants included.
ICNS_TYPES = (("icp4", 16), ("icp5", 32), ("icp6", 64), ("ic07", 128), ("ic08", 256),
              ("ic09", 512), ("ic10", 1024), ("ic11", 32), ("ic12", 64), ("ic13", 256),
              ("ic14", 512))


def render_png(svg: Path, size: int) -> bytes:
    """The SVG drawn on a transparent ``size`` x ``size`` canvas, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QColor, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise ValueError(f"svg: {svg} is not a valid SVG file")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor(0, 0, 0, 0))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError(f"could not encode a {size}px PNG")
    buffer.close()
    return bytes(data.data())


def build_ico(images: dict[int, bytes]) -> bytes:
    """An ICO container with one PNG entry per size (a width/height byte of 0 means 256)."""
    sizes = sorted(images)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, payload = b"", b""
    for size in sizes:
        if not 1 <= size <= 256:
            raise ValueError(f"size: ICO entries are 1..256 px, got {size}")
        data = images[size]
        dim = 0 if size == 256 else size
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset + len(payload))
        payload += data
    return header + entries + payload


def build_icns(images: dict[str, bytes]) -> bytes:
    """An ICNS container: ``icns`` + total length, then (type, length, PNG) per entry."""
    body = b""
    for code, data in images.items():
        if len(code) != 4:
            raise ValueError(f"type: icns type codes are 4 characters, got {code!r}")
        body += code.encode("ascii") + struct.pack(">I", len(data) + 8) + data
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def generate(icons: Path = ICONS, force: bool = False) -> list[Path]:
    """Write every missing (or, with ``force``, every) icon file; returns the files written."""
    svg = icons / f"{NAME}.svg"
    if not svg.exists():
        raise FileNotFoundError(f"svg: the icon source {svg} does not exist")
    cache: dict[int, bytes] = {}

    def png(size: int) -> bytes:
        if size not in cache:
            cache[size] = render_png(svg, size)
        return cache[size]

    written: list[Path] = []
    for size in PNG_SIZES:
        target = icons / f"{NAME}-{size}.png"
        if force or not target.exists():
            target.write_bytes(png(size))
            written.append(target)
    ico = icons / f"{NAME}.ico"
    ico.write_bytes(build_ico({s: png(s) for s in ICO_SIZES}))
    icns = icons / f"{NAME}.icns"
    icns.write_bytes(build_icns({code: png(size) for code, size in ICNS_TYPES}))
    return [*written, ico, icns]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="re-render existing PNGs too")
    parser.add_argument("--icons", type=Path, default=ICONS, help="icon directory")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    for path in generate(args.icons, args.force):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

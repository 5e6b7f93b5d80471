"""Locate bundled resources (icons, style sheets) in a checkout, a wheel or a frozen app."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon


@cache
def resource_dir() -> Path:
    """The ``resources`` directory; raises FileNotFoundError listing every place looked at."""
    here = Path(__file__).resolve()
    candidates = []
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        candidates.append(Path(frozen) / "resources")
    candidates += [here.parents[1] / "resources", here.parents[2] / "resources"]
    for path in candidates:
        if (path / "styles").is_dir():
            return path
    raise FileNotFoundError("resources directory not found in: "
                            + ", ".join(str(p) for p in candidates))


def resource(*parts: str) -> Path:
    return resource_dir().joinpath(*parts)


def icon(name: str) -> QIcon:
    """An icon by name: the SVG plus every pre-rendered PNG size (crisp at small sizes)."""
    folder = resource("icons")
    result = QIcon()
    for png in sorted(folder.glob(f"{name}-*.png")):
        result.addFile(str(png))
    svg = folder / f"{name}.svg"
    if svg.exists():
        result.addFile(str(svg))
    if result.isNull():
        raise FileNotFoundError(f"icon {name!r} not found in {folder}")
    return result

"""The doctor's report: lines grouped by section, each marked ok, warning or problem."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

OK, WARN, PROBLEM = "ok", "??", "!!"


@dataclass(slots=True)
class Report:
    """Lines grouped by section; ``problems`` counts the lines marked as problems."""

    sections: list[tuple[str, list[tuple[str, str, str]]]] = field(default_factory=list)
    problems: int = 0

    def section(self, title: str) -> Callable[[str, str, str], None]:
        lines: list[tuple[str, str, str]] = []
        self.sections.append((title, lines))

        def add(key: str, value: str, mark: str = OK) -> None:
            lines.append((mark, key, value))
            if mark == PROBLEM:
                self.problems += 1

        return add

    def render(self) -> str:
        width = max((len(k) for _t, lines in self.sections for _m, k, _v in lines), default=0)
        out: list[str] = []
        for title, lines in self.sections:
            out.append(f"[{title}]")
            for mark, key, value in lines:
                prefix = "  " if mark == OK else mark
                out.append(f"{prefix} {key.ljust(width)}  {value}")
            out.append("")
        return "\n".join(out)

"""Fuzzing strategy files through the command line: ``strategies validate``, ``import`` and
``export`` on mutated, mis-encoded and truncated files.

For every file: no traceback and no internal error (exit 0 or 2 only); a refusal is one line that
starts with the file's path and lists every error with the field it belongs to (``$`` is the
file as a whole); nothing in the store changes on a refusal; and whatever is imported exports
and validates again.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import json
import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tastydesk.cli import main
from tastydesk.engine.strategies.codec import import_json, strategy_to_dict
from tastydesk.engine.strategies.defaults import DEFAULT_STRATEGIES
from tastydesk.engine.strategies.validation import StrategyValidationError

CASES = 3000  # about 40 s alone (slow tier): most of it the imports that succeed
FIELD_PATH = re.compile(r"\$|[A-Za-z0-9_]+(\[\d+\])?(\.[A-Za-z0-9_]+(\[\d+\])?)*")
KNOWN_KEYS = sorted({key for s in DEFAULT_STRATEGIES for key in json.dumps(
    strategy_to_dict(s)).split('"')[1::2] if key.isidentifier()})
ODD_TEXT = ["", " ", "\ud800", "a\udcffb", "NaN", "Infinity", "1e999", "-0", "0.16", "45",
            "put", "call", "sell", "buy", "neutral", "bullish", "delta", "width", "premium",
            "profit_target", "close", "same", "next", "\u00e9t\u00e9", "\U0001f4c8", "a" * 90]

keys = st.one_of(st.sampled_from([*KNOWN_KEYS, "", " ", "\udc80k", "extra"]),
                 st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", max_size=6))
leaves = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-10**6, max_value=10**6), st.integers(min_value=-10**40, max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(ODD_TEXT), st.text(max_size=8),
)
values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(keys, inner, max_size=3), max_leaves=5)
mutations = st.lists(st.tuples(st.sampled_from(["set", "delete", "add", "copy_leg", "drop_leg"]),
                               st.integers(min_value=0, max_value=10**6), keys, values),
                     min_size=1, max_size=3)
encodings = st.sampled_from(["utf-8", "utf-8", "ascii-escapes", "bom", "bom-text", "latin-1",
                             "truncated"])


def _containers(node: Any, found: list[Any]) -> list[Any]:
    if isinstance(node, dict | list):
        found.append(node)
        for child in (node.values() if isinstance(node, dict) else node):
            _containers(child, found)
    return found


def mutate(doc: dict[str, Any], ops: list[tuple[str, int, str, Any]]) -> dict[str, Any]:
    for op, pick, key, value in ops:
        if op in ("copy_leg", "drop_leg"):
            legs = doc.get("legs")
            if isinstance(legs, list) and legs:
                if op == "copy_leg":
                    legs.append(copy.deepcopy(legs[pick % len(legs)]))
                else:
                    del legs[pick % len(legs)]
            continue
        nodes = _containers(doc, [])
        node = nodes[pick % len(nodes)]
        if isinstance(node, list):
            if not node:
                node.append(value)
            elif op == "delete":
                del node[pick % len(node)]
            else:
                node[pick % len(node)] = value
        elif op == "add" or not node:
            node[key] = value
        else:
            existing = list(node)[pick % len(node)]
            if op == "delete":
                del node[existing]
            else:
                node[existing] = value
    return doc


def encode(doc: Any, how: str, cut: int) -> bytes:
    text = json.dumps(doc, ensure_ascii=how == "ascii-escapes", allow_nan=True)
    raw = text.encode("utf-8", "surrogatepass")  # a lone surrogate becomes invalid UTF-8
    if how == "bom":
        return b"\xef\xbb\xbf" + raw
    if how == "bom-text":
        return ("\ufeff" + text).encode("utf-8", "surrogatepass")
    if how == "latin-1":
        return text.encode("latin-1", "replace")
    if how == "truncated":
        return raw[: cut % (len(raw) + 1)]
    return raw


def store_digest(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as raw:
        rows = raw.execute("SELECT * FROM strategies ORDER BY name").fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def check_refusal(file: Path, data: bytes, err: str) -> None:
    """One line, starting with the file, listing every error with a field path."""
    assert "Traceback" not in err and err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith(f"{file}: "), err
    if "cannot read" in err or "larger than" in err:
        return
    with pytest.raises(StrategyValidationError) as info:
        import_json(data)
    assert info.value.errors
    for error in info.value.errors:
        assert FIELD_PATH.fullmatch(error.path), error
        shown = str(error).encode("utf-8", "backslashreplace").decode("utf-8")
        assert shown in err


@pytest.mark.slow
def test_fuzzed_strategy_files_never_crash_name_fields_and_write_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert cli("strategies", "list", "--data-dir", str(data_dir))[0] == 0
    db = data_dir / "tastydesk.db"
    file, exported = tmp_path / "strategy.json", tmp_path / "exported.json"
    seen: Counter[str] = Counter()

    @settings(max_examples=CASES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(base=st.sampled_from(DEFAULT_STRATEGIES), ops=mutations, how=encodings,
           cut=st.integers(min_value=0, max_value=10**6))
    def check(base: Any, ops: list[tuple[str, int, str, Any]], how: str, cut: int) -> None:
        seen["cases"] += 1
        doc = mutate(strategy_to_dict(base), ops)
        data = encode(doc, how, cut)
        file.write_bytes(data)
        before = store_digest(db)
        code, _out, err = cli("strategies", "validate", str(file), "--data-dir", str(data_dir))
        assert code in (0, 2), err
        assert store_digest(db) == before
        imported, _out, import_err = cli("strategies", "import", str(file), "--data-dir",
                                         str(data_dir))
        assert imported == code, (code, imported, import_err)
        if code == 2:
            seen["refused"] += 1
            check_refusal(file, data, err)
            assert import_err == err
            assert store_digest(db) == before
            return
        seen["imported"] += 1
        name = import_json(data).name
        code, _out, err = cli("strategies", "export", "--out", str(exported), "--data-dir",
                              str(data_dir), "--", name)
        assert code == 0 and err == "", err
        assert import_json(exported.read_bytes()).name == name
        assert cli("strategies", "validate", str(exported))[0] == 0

    check()
    assert seen["cases"] >= CASES
    # Both outcomes are exercised in volume, so neither branch above is dead code.
    assert seen["refused"] >= CASES // 2 and seen["imported"] >= CASES // 50, seen

"""Golden run: a seeded headless simulation whose history is pinned by a digest.

Restructuring the engine must not change what it does: the same seed gives the same transitions,
orders, fills and journal. The digest changes only in a commit that says why (a deliberate change
of behaviour), together with the new value below.

To print the current digest: ``python -m tests.engine.test_golden``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import sys
import tempfile
from pathlib import Path

from tastydesk.engine.simulation import run_simulation
from tastydesk.engine.store.service import Store
from tastydesk.paths import db_path

GOLDEN_DAYS = 20
GOLDEN_SEED = 1
GOLDEN_DIGEST = "bef79d76c2fe74f5894809ff22cd17bac5be20efea0b60cdda130909326d9b5d"

_EXTERNAL_ID = re.compile(r"td-(\d+)-([a-z_]+)-[0-9a-f]{12}")


def _norm(value: object) -> str:
    """External identifiers carry a random suffix; everything else is deterministic."""
    return _EXTERNAL_ID.sub(r"td-\1-\2", str(value))


def history_lines(store: Store) -> list[str]:
    lines: list[str] = []
    for t in store.transitions(None):
        lines.append(_norm(("T", t.workflow_id, t.seq, t.from_state, t.to_state, t.trigger,
                            t.actor, t.reason, sorted(t.payload.items()), t.time.isoformat())))
    orders = store.orders()
    ids = {o.external_id: o.id for o in orders}
    for o in orders:
        lines.append(_norm(("O", o.id, o.workflow_id, o.proposal_id, o.purpose, o.status, o.price,
                            o.quantity, o.filled_quantity, o.attempt, o.underlying,
                            [(leg.symbol, leg.action, leg.quantity) for leg in o.legs],
                            o.created_at.isoformat(), o.updated_at.isoformat(), o.reject_reason,
                            o.fees)))
        for e in store.order_events(o.external_id):
            lines.append(_norm(("E", ids[o.external_id], e.status, e.price, e.filled_quantity,
                                e.detail, e.time.isoformat())))
    for f in store.fills():
        lines.append(_norm(("F", f.order_id, f.workflow_id, f.symbol, f.action, f.quantity, f.price,
                            f.time.isoformat())))
    for j in store.journal():
        lines.append(_norm(("J", j.workflow_id, j.strategy, j.symbol, j.entry_price, j.exit_price,
                            j.fees, j.realised_pnl, j.opened_at.isoformat(), j.closed_at.isoformat(),
                            j.duration_s, j.closing_rule)))
    return lines


def golden_digest(data_dir: Path) -> tuple[str, int]:
    asyncio.run(run_simulation(data_dir, days=GOLDEN_DAYS, seed=GOLDEN_SEED, auto_approve=True))
    store = Store.open(db_path(data_dir))
    try:
        lines = history_lines(store)
    finally:
        store.close()
    return hashlib.sha256("\n".join(lines).encode()).hexdigest(), len(lines)


def test_golden_run_is_unchanged(tmp_path: Path) -> None:
    digest, count = golden_digest(tmp_path)
    assert count > 500, "the golden run should trade"
    assert digest == GOLDEN_DIGEST, f"golden history changed: {digest} ({count} lines)"


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(*golden_digest(Path(tmp)))
    sys.exit(0)

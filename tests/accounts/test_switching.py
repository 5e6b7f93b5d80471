"""Switching from paper to a sandbox login (the fake tastytrade server) and back: each account's
workflows, orders and journal stay in its own files, and each reconciles only against its own
broker account."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tastydesk.accounts.model import AccountKind, AccountRef
from tastydesk.accounts.registry import account_dir
from tastydesk.engine.bootstrap import open_kernel
from tastydesk.engine.domain.enums import Mode
from tastydesk.engine.simulation import run_simulation
from tests.fake_tastytrade import FakeTastytrade, InProcessTransport


@pytest.fixture
async def fake() -> AsyncIterator[FakeTastytrade]:
    server = FakeTastytrade(dx_keepalive=0.1, hang_seconds=30.0)
    transport = InProcessTransport(server.app)
    await transport.start()
    server.transport = transport  # type: ignore[attr-defined]
    yield server
    await transport.aclose()


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as raw:
        return {table: raw.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("workflows", "orders", "journal", "fills")}


def _config(db: Path, key: str) -> str | None:
    with sqlite3.connect(db) as raw:
        row = raw.execute("SELECT value FROM config WHERE key=?", (key,)).fetchone()
    return row[0] if row else None


async def test_paper_to_sandbox_and_back_keeps_each_accounts_state_in_its_own_files(
        tmp_path: Path, fake: FakeTastytrade, memory_keyring: Any) -> None:
    from tastydesk.engine.broker.tastytrade.credentials import KeyringCredentialStore

    await run_simulation(tmp_path, days=4, seed=1, auto_approve=True)
    paper_db = tmp_path / "tastydesk.db"
    paper_before = _counts(paper_db)
    assert paper_before["orders"] > 0

    creds = KeyringCredentialStore()
    accounts = await creds.login("sandbox", fake.provider_secret, fake.refresh_token,
                                 client_kwargs={"transport": fake.transport})  # type: ignore[attr-defined]
    creds.save("sandbox", fake.provider_secret, fake.refresh_token)
    sandbox = AccountRef(AccountKind.SANDBOX, accounts[0].account_number)
    folder = account_dir(tmp_path, sandbox)
    kernel = await open_kernel(folder, account=sandbox,
                               client_kwargs={"transport": fake.transport})  # type: ignore[attr-defined]
    assert kernel.facade.mode is Mode.SANDBOX
    await kernel.facade.start()
    try:
        health = kernel.facade.health()
        assert health.reconciled, health.reconcile_detail
        assert kernel.broker.account_number == sandbox.name  # type: ignore[attr-defined]
    finally:
        await kernel.facade.stop()
    sandbox_db = folder / "tastydesk.db"
    assert _counts(sandbox_db)["orders"] == 0 and _counts(sandbox_db)["journal"] == 0
    assert not (folder / "paper.db").exists()
    assert _counts(paper_db) == paper_before  # the sandbox session wrote none of paper's rows
    assert _config(paper_db, "account:sandbox") is None

    # Back to paper, a stored login notwithstanding: the paper account reconciles clean.
    paper = await open_kernel(tmp_path, account=AccountRef.default_paper(), seed=1)
    assert paper.facade.mode is Mode.PAPER
    await paper.start(start_driver=False)
    await paper.tasks.drain()
    try:
        health = paper.facade.health()
        assert health.reconciled, health.reconcile_detail
        assert not [e for e in await paper.store.errors() if "mismatch" in e.message]
    finally:
        await paper.stop()
    assert _counts(paper_db)["orders"] == paper_before["orders"]
    assert _counts(sandbox_db)["orders"] == 0

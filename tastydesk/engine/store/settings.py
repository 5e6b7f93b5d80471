"""Settings the trader owns: key/value configuration and the strategy library."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tastydesk.engine.domain.strategy import Strategy
from tastydesk.engine.store.database import Database
from tastydesk.engine.store.errors import NotFound
from tastydesk.engine.store.models import ConfigRow, StrategyRow
from tastydesk.engine.store.types import encode_json
from tastydesk.engine.strategies.codec import strategy_to_dict
from tastydesk.engine.strategies.defaults import DEFAULT_STRATEGIES
from tastydesk.engine.strategies.validation import StrategyValidationError, parse_strategy

log = logging.getLogger(__name__)


def _upsert_strategy(s: Session, body: dict[str, Any], builtin: bool) -> None:
    now = datetime.now().astimezone()
    stmt = sqlite_insert(StrategyRow).values(name=body["name"], body=body, builtin=builtin,
                                             updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={"body": stmt.excluded.body, "builtin": stmt.excluded.builtin,
              "updated_at": stmt.excluded.updated_at})
    s.execute(stmt)


class ConfigRepository:
    """JSON values by key (engine settings, accounts, clocks, flags)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get_config(self, key: str, default: Any = None) -> Any:
        with self._db.read() as s:
            row = s.get(ConfigRow, key)
            return default if row is None else row.value

    def set_config(self, key: str, value: Any) -> None:
        encode_json(value)  # refuse values that cannot be stored before touching the row
        with self._db.write() as s:
            stmt = sqlite_insert(ConfigRow).values(key=key, value=value)
            s.execute(stmt.on_conflict_do_update(index_elements=["key"],
                                                 set_={"value": stmt.excluded.value}))


class StrategyRepository:
    """Strategies by name; the built-in ones are marked so they can be restored as shipped."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def list_strategies(self) -> list[Strategy]:
        with self._db.read() as s:
            rows = s.scalars(select(StrategyRow).order_by(StrategyRow.name)).all()
        out = []
        for row in rows:
            try:
                out.append(parse_strategy(row.body))
            except StrategyValidationError as exc:
                log.error("stored strategy %r is invalid and was skipped: %s", row.name, exc)
        return out

    def get_strategy(self, name: str) -> Strategy | None:
        with self._db.read() as s:
            row = s.scalars(select(StrategyRow).where(StrategyRow.name == name)).first()
        return None if row is None else parse_strategy(row.body)

    def save_strategy(self, strategy: Strategy) -> None:
        body = strategy_to_dict(strategy)
        parse_strategy(body)  # a strategy that would not load back is never stored
        with self._db.write() as s:
            _upsert_strategy(s, body, builtin=strategy in DEFAULT_STRATEGIES)

    def delete_strategy(self, name: str) -> None:
        with self._db.write() as s:
            result = s.execute(delete(StrategyRow).where(StrategyRow.name == name))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise NotFound(f"strategy {name!r} does not exist")

    def restore_default_strategies(self) -> None:
        with self._db.write() as s:
            for strategy in DEFAULT_STRATEGIES:
                _upsert_strategy(s, strategy_to_dict(strategy), builtin=True)

    def is_builtin_strategy(self, name: str) -> bool:
        with self._db.read() as s:
            return bool(s.scalar(select(StrategyRow.builtin).where(StrategyRow.name == name)))

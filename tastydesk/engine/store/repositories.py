"""The store's repositories, one per concern, all sharing one :class:`Database`."""

from __future__ import annotations

from dataclasses import dataclass

from tastydesk.engine.store.checks import IntegrityChecker
from tastydesk.engine.store.database import Database
from tastydesk.engine.store.journal import JournalRepository
from tastydesk.engine.store.lifecycle import LifecycleRepository
from tastydesk.engine.store.logs import LogRepository
from tastydesk.engine.store.orders import OrderRepository
from tastydesk.engine.store.positions import PositionRepository
from tastydesk.engine.store.proposals import ProposalRepository
from tastydesk.engine.store.settings import ConfigRepository, StrategyRepository
from tastydesk.engine.store.workflows import WorkflowRepository


@dataclass(frozen=True)
class Repositories:
    """Everything :class:`~tastydesk.engine.store.service.Store` and
    :class:`~tastydesk.engine.store.async_store.AsyncStore` delegate to."""

    database: Database
    workflows: WorkflowRepository
    proposals: ProposalRepository
    orders: OrderRepository
    positions: PositionRepository
    journal: JournalRepository
    logs: LogRepository
    config: ConfigRepository
    strategies: StrategyRepository
    checks: IntegrityChecker
    lifecycle: LifecycleRepository

    @classmethod
    def on(cls, db: Database) -> Repositories:
        return cls(database=db, workflows=WorkflowRepository(db), proposals=ProposalRepository(db),
                   orders=OrderRepository(db), positions=PositionRepository(db),
                   journal=JournalRepository(db), logs=LogRepository(db),
                   config=ConfigRepository(db), strategies=StrategyRepository(db),
                   checks=IntegrityChecker(db), lifecycle=LifecycleRepository(db))

"""Engine settings and the kill switch: the current configuration, whether automation is armed,
and the commands that change them (persisted through the async store, announced on the bus).
"""

from __future__ import annotations

from tastydesk.engine.audit import AuditTrail
from tastydesk.engine.bus import EventBus
from tastydesk.engine.clock import Clock
from tastydesk.engine.config import ConfigChange, EngineConfig
from tastydesk.engine.domain.enums import AlertCategory, AlertLevel
from tastydesk.engine.domain.events import Alert
from tastydesk.engine.errors import EngineError
from tastydesk.engine.store.service import AsyncStore

ACCOUNT_ENVS = ("live", "sandbox")


class Settings:
    def __init__(self, config: EngineConfig, store: AsyncStore, audit: AuditTrail, bus: EventBus,
                 clock: Clock) -> None:
        self._config = config
        self._armed = True
        self._store = store
        self._audit = audit
        self._bus = bus
        self._clock = clock

    @property
    def config(self) -> EngineConfig:
        return self._config

    @property
    def armed(self) -> bool:
        """Kill switch: when False no automated path sends an order."""
        return self._armed

    async def load(self) -> None:
        stored = await self._store.get_config("engine", None)
        if stored:
            self._config = EngineConfig.from_dict(stored)
        self._armed = bool(await self._store.get_config("automation_armed", True))

    def hold_disarmed(self) -> None:
        """Disarm for this session only, nothing persisted: an engine opened read-only (its
        stored kill-switch state is left as it was, for when the account opens again)."""
        self._armed = False

    async def set_automation(self, armed: bool, user: str) -> None:
        self._armed = armed  # effective at once; persisting follows
        await self._store.set_config("automation_armed", armed)
        await self._audit.audit(user, "automation", "armed" if armed else "paused (kill switch)")
        self._bus.publish(Alert(AlertLevel.INFO if armed else AlertLevel.WARNING,
                                AlertCategory.RISK, "Automation " + ("armed" if armed else "paused"),
                                f"by {user}", self._clock.now()))

    async def update_config(self, config: EngineConfig, user: str) -> tuple[str, ...]:
        """Validate, apply and persist; subscribers of ConfigChange re-arm what depends on it."""
        config.validate()
        old = self._config.to_dict()
        changed = tuple(k for k, v in config.to_dict().items() if old.get(k) != v)
        self._config = config
        # Effective at once (a slower paper clock must not wait for the disk); persisted after.
        self._bus.publish(ConfigChange(config, changed))
        await self._store.set_config("engine", config.to_dict())
        await self._audit.audit(user, "settings", ", ".join(changed) or "no change")
        return changed

    async def remember_account(self, env: str, account_number: str, user: str) -> None:
        if env not in ACCOUNT_ENVS:
            raise EngineError(f"env: must be live or sandbox, got {env!r}")
        account = account_number.strip()
        if not account:
            raise EngineError("account_number: required")
        await self._store.set_config(f"account:{env}", account)
        await self._audit.audit(user, "account", f"{env} account {account}")

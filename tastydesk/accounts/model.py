"""What names an account, and what a paper account is made of."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from tastydesk.exit_codes import CommandError, ExitCode

DEFAULT_PAPER = "default"
DEFAULT_SEED = 1
DEFAULT_CASH = Decimal("100000")
_PAPER_NAME = re.compile(r"[a-z0-9][a-z0-9_]{0,31}")
_ACCOUNT_NUMBER = re.compile(r"[A-Za-z0-9]{1,20}")


class BadAccount(CommandError):
    """An account name that cannot be used; the message names it and why."""

    exit_code = ExitCode.BAD_INPUT


class AccountKind(StrEnum):
    PAPER = "paper"
    SANDBOX = "sandbox"
    LIVE = "live"


@dataclass(frozen=True, slots=True, order=True)
class AccountRef:
    """One account: a named paper account, or a tastytrade account number in an environment.

    ``slug`` (``paper-default``, ``sandbox-5WT00001``) is its directory name and the value
    ``--account`` takes.
    """

    kind: AccountKind
    name: str

    def __post_init__(self) -> None:
        pattern = _PAPER_NAME if self.kind is AccountKind.PAPER else _ACCOUNT_NUMBER
        if not pattern.fullmatch(self.name):
            what = ("a paper account name is 1-32 lower-case letters, digits or '_'"
                    if self.kind is AccountKind.PAPER
                    else "an account number is 1-20 letters or digits")
            raise BadAccount(f"--account: {self.name!r} is not usable: {what}")

    @property
    def slug(self) -> str:
        return f"{self.kind.value}-{self.name}"

    @property
    def is_paper(self) -> bool:
        return self.kind is AccountKind.PAPER

    def label(self) -> str:
        """How the title bar and the mode badge name it."""
        if self.is_paper:
            return f"Paper · {self.name}"
        return f"{self.kind.value.capitalize()} · {self.name}"

    def __str__(self) -> str:
        return self.slug

    @classmethod
    def default_paper(cls) -> AccountRef:
        return cls(AccountKind.PAPER, DEFAULT_PAPER)

    @classmethod
    def parse(cls, text: str) -> AccountRef:
        """``paper``, ``paper-NAME``, ``paper:NAME``, ``sandbox-NUMBER``, ``live:NUMBER``."""
        value = text.strip()
        kind_text, sep, name = value.replace(":", "-", 1).partition("-")
        try:
            kind = AccountKind(kind_text.lower())
        except ValueError:
            raise BadAccount(f"--account: {text!r} is not an account (use paper-NAME, "
                             f"sandbox-NUMBER or live-NUMBER)") from None
        if not sep or not name:
            if kind is AccountKind.PAPER:
                return cls.default_paper()
            raise BadAccount(f"--account: {text!r} needs the account number "
                             f"({kind.value}-NUMBER)")
        return cls(kind, name)


@dataclass(frozen=True, slots=True)
class PaperAccountSpec:
    """A named paper account's own market seed and starting cash."""

    seed: int = DEFAULT_SEED
    starting_cash: Decimal = DEFAULT_CASH

    def __post_init__(self) -> None:
        if not self.starting_cash.is_finite() or self.starting_cash <= 0:
            raise BadAccount(f"starting cash must be a positive amount, got {self.starting_cash}")

    def to_dict(self) -> dict[str, object]:
        return {"seed": self.seed, "starting_cash": str(self.starting_cash)}

    @classmethod
    def from_dict(cls, raw: object) -> PaperAccountSpec:
        if not isinstance(raw, dict):
            return cls()
        try:
            cash = Decimal(str(raw.get("starting_cash", DEFAULT_CASH)))
            seed = int(raw.get("seed", DEFAULT_SEED))
        except (InvalidOperation, TypeError, ValueError):
            return cls()
        return cls(seed=seed, starting_cash=cash)

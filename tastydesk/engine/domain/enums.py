"""String enums of the domain; values are stable and stored in the database and JSON."""

from __future__ import annotations

from enum import StrEnum


class OptionType(StrEnum):
    CALL = "call"
    PUT = "put"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderAction(StrEnum):
    """tastytrade leg actions."""

    BUY_TO_OPEN = "Buy to Open"
    SELL_TO_OPEN = "Sell to Open"
    BUY_TO_CLOSE = "Buy to Close"
    SELL_TO_CLOSE = "Sell to Close"


class Bias(StrEnum):
    BULLISH = "bullish"
    NEUTRAL = "neutral"
    BEARISH = "bearish"


class SelectionMethod(StrEnum):
    DELTA = "delta"  # value: absolute delta 0..1
    ATM = "atm"  # value ignored
    OFFSET = "offset"  # value: $ from spot (signed: + above, - below)
    LEG_OFFSET = "leg_offset"  # value: $ from the reference leg's strike (signed)
    PERCENT = "percent"  # value: % from spot (signed: + above, - below)
    PREMIUM = "premium"  # value: target mid price in $
    WIDTH = "width"  # value: $ width away from the reference leg, further out of the money


class ExpiryChoice(StrEnum):
    STRATEGY = "strategy"  # the strategy's DTE range
    OFFSET = "offset"  # strategy expiry + offset days (calendars)


class RuleType(StrEnum):
    PROFIT_TARGET = "profit_target"  # threshold: % of max profit captured
    STOP_LOSS = "stop_loss"  # threshold: loss as % of the entry credit/debit
    TIME_EXIT = "time_exit"  # threshold: DTE at or below which to exit
    DELTA_BREACH = "delta_breach"  # threshold: absolute delta bound
    PARTIAL_CLOSE = "partial_close"  # threshold: % of max profit captured; fraction in close_pct
    ROLL = "roll"  # threshold: DTE at or below which to roll
    EXPIRATION_RISK = "expiration_risk"  # threshold: days left; a short leg in (or near) the money
    EX_DIVIDEND = "ex_dividend"  # threshold: days to the ex-date; short call extrinsic < dividend


class RuleAction(StrEnum):
    CLOSE = "close"
    PARTIAL_CLOSE = "partial_close"
    ROLL = "roll"
    ALERT = "alert"


class DeltaScope(StrEnum):
    POSITION = "position"
    SHORT_LEG = "short_leg"


class WorkflowState(StrEnum):
    SCANNING = "SCANNING"
    EVALUATING = "EVALUATING"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    EXECUTING = "EXECUTING"
    MONITORING = "MONITORING"
    CLOSING = "CLOSING"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    ERROR = "ERROR"


class Trigger(StrEnum):
    """What moves a workflow from one state to another."""

    SCAN = "scan"  # a scan picked the symbol
    NO_CANDIDATE = "no_candidate"  # evaluation found nothing tradable; back to scanning
    PROPOSE = "propose"  # a proposal passed every check
    APPROVE = "approve"
    REJECT = "reject"
    EXPIRE = "expire"  # pending proposal timed out
    REPRICE = "reprice"  # approval re-check failed: re-evaluate
    FILL = "fill"  # entry order filled
    EXEC_FAILED = "exec_failed"  # entry order cancelled/rejected after last attempt
    CLOSE = "close"  # a rule or the user starts closing
    CLOSE_FAILED = "close_failed"  # closing order not filled; back to monitoring
    PARTIAL = "partial"  # partial close filled; stays monitoring
    CLOSED = "closed"  # position flat
    RESTART = "restart"  # cool-down over: scan again
    CANCEL = "cancel"  # user cancels the workflow
    FAIL = "fail"  # unrecoverable error
    RECOVER = "recover"  # user/engine resumes an errored workflow
    ADOPT = "adopt"  # a position opened outside the app is taken into monitoring
    EXPIRED = "expired"  # every leg expired (worthless or cash-settled) at the broker
    ASSIGNED = "assigned"  # the last legs left by assignment or exercise at the broker
    DELIVERED = "delivered"  # an assignment or exercise left shares in the position
    FOLLOW_UP = "follow_up"  # the after-assignment follow-up was proposed, rejected or expired


class AfterAssignment(StrEnum):
    """What a strategy does with a position an assignment left holding shares."""

    CLOSE = "close"  # close the shares and the remaining options
    KEEP = "keep"  # keep the shares and continue monitoring
    WHEEL = "wheel"  # keep the shares and sell a covered call against them


class OrderStatus(StrEnum):
    """Our order lifecycle: tastytrade statuses folded into an explicit state machine."""

    PENDING_SUBMIT = "PENDING_SUBMIT"  # intent persisted, not yet sent
    UNKNOWN = "UNKNOWN"  # sent, outcome ambiguous: look it up, never re-send
    WORKING = "WORKING"  # accepted, live at the broker
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    REPLACED = "REPLACED"  # cancelled by a successful replace; the new order carries on

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED,
     OrderStatus.REPLACED}
)


class CommandOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # definitive, with the broker's reason
    UNKNOWN = "unknown"  # timeout, disconnect, 5xx, 429: resolve by lookup


class OrderPurpose(StrEnum):
    OPEN = "open"
    CLOSE = "close"
    PARTIAL_CLOSE = "partial_close"
    ROLL = "roll"


class ExecutionPreset(StrEnum):
    """How fast a strategy's orders of one kind walk toward natural; DEFAULT keeps the walk the
    order's purpose calls for (entries patient, profit and time exits normal, protective exits
    fast)."""

    DEFAULT = "default"
    PATIENT = "patient"
    NORMAL = "normal"
    FAST = "fast"


class Actor(StrEnum):
    USER = "user"
    ENGINE = "engine"


class Mode(StrEnum):
    PAPER = "PAPER"
    SANDBOX = "SANDBOX"
    LIVE = "LIVE"


class StreamHealth(StrEnum):
    CONNECTED = "connected"
    CONNECTING = "connecting"
    STALE = "stale"
    DISCONNECTED = "disconnected"


class Decision(StrEnum):
    """What the trader decided about a proposal (stored in the decision log)."""

    APPROVE = "approve"
    REJECT = "reject"
    MODIFY = "modify"


class ErrorCategory(StrEnum):
    """Where an error in the error log came from (stored in the error log)."""

    RECONCILE = "reconcile"  # reconciling with the broker failed or found a mismatch
    EVALUATE = "evaluate"  # evaluating a symbol for a proposal failed
    TASK = "task"  # a supervised background task failed


class ProposalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"  # a follow-up's approval window closed without a decision
    WITHDRAWN = "withdrawn"  # a follow-up whose position left monitoring before a decision


class CommitmentKind(StrEnum):
    """What holds buying power a workflow does not hold yet (the allocation counts both)."""

    PENDING_APPROVAL = "pending approval"
    WORKING_ORDER = "working order"


class ActionOutcome(StrEnum):
    """What an engine command did (the trader reads it next to the command)."""

    SENT = "sent"
    IN_PROGRESS = "already in progress"
    NOT_PENDING = "not pending"
    REPRICED = "repriced"
    WITHDRAWN = "withdrawn"
    BUSY = "an action is already in progress for this position"
    NOT_SENT = "not sent"
    QUEUED = "queued for the next open"  # outside the session: sent when the market opens


class AlertLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class AlertCategory(StrEnum):
    PENDING = "pending"
    FILL = "fill"
    RULE = "rule"
    ERROR = "error"
    RISK = "risk"
    CONNECTION = "connection"

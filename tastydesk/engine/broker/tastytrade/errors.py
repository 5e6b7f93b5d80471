"""Adapter errors and the classification of failed broker calls.

tastytrade's SDK raises one ``TastytradeError`` for every non-2xx answer and drops the status code,
so the adapter records the last HTTP status of each call (see ``adapter._Exchange``) and classifies
with it: a structured 4xx error is definitive, everything ambiguous is UNKNOWN.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TastytradeAdapterError(Exception):
    """Base of the adapter's own errors."""


class LoginRequired(TastytradeAdapterError):
    """The refresh token is revoked or invalid: the user must log in again; pause automation."""


class BrokerUnavailable(TastytradeAdapterError):
    """A read failed for a transient reason (timeout, transport, 5xx, 429) after its retries."""


class BrokerPayloadError(TastytradeAdapterError):
    """A broker payload did not validate; the message names the field and the reason."""

    def __init__(self, what: str, field: str, reason: str) -> None:
        super().__init__(f"invalid {what} from tastytrade: field {field!r}: {reason}")
        self.what = what
        self.field = field
        self.reason = reason


class FailureKind(StrEnum):
    REJECTED = "rejected"  # definitive refusal by the API
    UNKNOWN = "unknown"  # may or may not have reached the broker
    AUTH = "auth"  # access token refused: refresh and retry is safe
    LOGIN = "login"  # the grant itself is dead


@dataclass(frozen=True, slots=True)
class Failure:
    kind: FailureKind
    reason: str


_UNPARSABLE = "Couldn't parse response"
_LOGIN_CODES = ("invalid_grant", "invalid_client", "unauthorized_client", "revoked")


def classify(exc: BaseException, status: int | None, path: str | None) -> Failure:
    """Classify a failed call from the exception, the last HTTP status and its path."""
    text = (str(exc) or type(exc).__name__).strip()
    if path is not None and path.endswith("/oauth/token") and status is not None:
        if 400 <= status < 500:
            return Failure(FailureKind.LOGIN, _login_reason(text))
        return Failure(FailureKind.UNKNOWN, f"token refresh failed with HTTP {status}")
    if status is None:
        return Failure(FailureKind.UNKNOWN, f"no response: {type(exc).__name__}: {text}"[:300])
    if status == 429:
        return Failure(FailureKind.UNKNOWN, "rate limited (HTTP 429)")
    if status >= 500:
        return Failure(FailureKind.UNKNOWN, f"server error (HTTP {status})")
    if status // 100 == 2:
        return Failure(FailureKind.UNKNOWN, f"unparsable response: {type(exc).__name__}: "
                                            f"{text}"[:300])
    if status == 401 and not text.startswith(_UNPARSABLE):
        return Failure(FailureKind.AUTH, text)
    if 400 <= status < 500 and type(exc).__name__ == "TastytradeError" and \
            not text.startswith(_UNPARSABLE):
        return Failure(FailureKind.REJECTED, text)
    return Failure(FailureKind.UNKNOWN, f"HTTP {status}: {text}"[:300])


def _login_reason(text: str) -> str:
    for code in _LOGIN_CODES:
        if code in text:
            return f"{code} (refresh token rejected)"
    return "credentials rejected by tastytrade"

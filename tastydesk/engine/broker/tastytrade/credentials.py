"""tastytrade credentials in the OS keyring, and a verified login.

Only the OAuth provider secret and the refresh token are stored, and only in the OS keyring
(service ``tastydesk``, usernames ``<env>:provider_secret`` and ``<env>:refresh_token``). Access
tokens live in memory for their 15 minutes. A keyring backend that would write secrets to a file
or silently drop them is refused with an explanation instead of being used.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from tastydesk.engine.domain.account import AccountInfo

SERVICE = "tastydesk"
ENVIRONMENTS = ("live", "sandbox")


class InsecureKeyringError(RuntimeError):
    """The active keyring backend cannot keep secrets safely."""


@dataclass(frozen=True, slots=True)
class Credentials:
    provider_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)


def _check_env(env: str) -> str:
    if env not in ENVIRONMENTS:
        raise ValueError(f"env: must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
    return env


def _check_secret(name: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: must not be empty")
    if value != value.strip():
        raise ValueError(f"{name}: has leading or trailing whitespace (pasted by mistake?)")
    return value


class CredentialStore(ABC):
    """Where tastytrade credentials live between launches."""

    @abstractmethod
    def save(self, env: str, provider_secret: str, refresh_token: str) -> None: ...

    @abstractmethod
    def load(self, env: str) -> Credentials | None: ...

    @abstractmethod
    def delete(self, env: str) -> None: ...

    async def login(self, env: str, provider_secret: str, refresh_token: str,
                    client_kwargs: dict[str, Any] | None = None,
                    timeout: float = 15.0) -> list[AccountInfo]:
        """Verify the credentials against tastytrade (token refresh + accounts), then save them.

        Nothing is saved when the check fails: a bad grant raises ``LoginRequired``, a network
        problem ``BrokerUnavailable``.
        """
        _check_env(env)
        _check_secret("provider_secret", provider_secret)
        _check_secret("refresh_token", refresh_token)
        accounts = await verify_login(env, provider_secret, refresh_token, client_kwargs, timeout)
        self.save(env, provider_secret, refresh_token)
        return accounts


async def verify_login(env: str, provider_secret: str, refresh_token: str,
                       client_kwargs: dict[str, Any] | None = None,
                       timeout: float = 15.0) -> list[AccountInfo]:
    """A real session refresh and accounts call; returns the open accounts of this login."""
    import asyncio

    import httpx2
    from tastytrade import Account, Session

    from tastydesk.engine.broker.tastytrade import mapping
    from tastydesk.engine.broker.tastytrade.adapter import (
        _CURRENT,
        USER_AGENT,
        _Exchange,
        _install_sdk_log_redaction,
        _record_response,
    )
    from tastydesk.engine.broker.tastytrade.errors import (
        BrokerUnavailable,
        FailureKind,
        LoginRequired,
        TastytradeAdapterError,
        classify,
    )

    _install_sdk_log_redaction()
    session = Session(provider_secret, refresh_token, is_test=(env == "sandbox"),
                      **dict(client_kwargs or {}))
    session._client.headers["User-Agent"] = USER_AGENT
    session._client.timeout = httpx2.Timeout(timeout)
    session._client.event_hooks = {"request": [], "response": [_record_response]}
    async with session:
        exchange = _Exchange()
        token = _CURRENT.set(exchange)
        try:
            async with asyncio.timeout(timeout):
                await session.refresh()
                accounts = await Account.get(session)
        except Exception as exc:
            failure = classify(exc, exchange.status, exchange.path)
            if failure.kind in (FailureKind.LOGIN, FailureKind.AUTH):
                raise LoginRequired(f"login failed: {failure.reason}") from None
            if failure.kind is FailureKind.REJECTED:
                raise TastytradeAdapterError(f"login refused: {failure.reason}") from None
            raise BrokerUnavailable(f"login could not be verified: {failure.reason}") from None
        finally:
            _CURRENT.reset(token)
    return [mapping.account_info(a) for a in accounts]


def _insecure_reason(backend: Any) -> str | None:
    cls = type(backend)
    module = cls.__module__
    name = f"{module}.{cls.__qualname__}"
    if module == "keyring.backends.fail":
        return "no OS keyring is available (keyring.backends.fail)"
    if module == "keyring.backends.null":
        return "the null keyring stores nothing (keyring.backends.null)"
    if module.startswith("keyrings.alt"):
        return f"{name} keeps secrets in a file, not in the OS keyring"
    return None


class KeyringCredentialStore(CredentialStore):
    """Credentials in the OS keyring via ``keyring``; refuses insecure backends."""

    def __init__(self, backend: Any | None = None) -> None:
        self._backend = backend

    def _keyring(self) -> Any:
        if self._backend is not None:
            return self._backend
        import keyring

        return keyring.get_keyring()

    @staticmethod
    def check_backend(backend: Any | None = None) -> None:
        """Raise :class:`InsecureKeyringError` unless ``backend`` (default: the active one) is a
        real OS keyring. A chainer is judged by the backend it would write to first."""
        if backend is None:
            import keyring

            backend = keyring.get_keyring()
        inner = list(getattr(backend, "backends", None) or []) \
            if type(backend).__name__ == "ChainerBackend" else [backend]
        if not inner:
            raise InsecureKeyringError(
                "No OS keyring is available. Install and unlock one (GNOME Keyring, KWallet, "
                "macOS Keychain or Windows Credential Manager) to save tastytrade credentials.")
        reason = _insecure_reason(inner[0])
        if reason is not None:
            raise InsecureKeyringError(
                f"Refusing to store tastytrade credentials: {reason}. Install and unlock an OS "
                "keyring (GNOME Keyring, KWallet, macOS Keychain or Windows Credential "
                "Manager).")

    def save(self, env: str, provider_secret: str, refresh_token: str) -> None:
        _check_env(env)
        _check_secret("provider_secret", provider_secret)
        _check_secret("refresh_token", refresh_token)
        backend = self._keyring()
        self.check_backend(backend)
        backend.set_password(SERVICE, f"{env}:provider_secret", provider_secret)
        backend.set_password(SERVICE, f"{env}:refresh_token", refresh_token)

    def load(self, env: str) -> Credentials | None:
        _check_env(env)
        backend = self._keyring()
        secret = backend.get_password(SERVICE, f"{env}:provider_secret")
        token = backend.get_password(SERVICE, f"{env}:refresh_token")
        if not secret or not token:
            return None
        return Credentials(secret, token)

    def delete(self, env: str) -> None:
        from keyring.errors import PasswordDeleteError

        _check_env(env)
        backend = self._keyring()
        for name in ("provider_secret", "refresh_token"):
            try:
                backend.delete_password(SERVICE, f"{env}:{name}")
            except PasswordDeleteError:
                continue

"""tastytrade credentials in the OS keyring, and a verified login.

Only the OAuth provider secret and the refresh token are stored, and only in the OS keyring
(service ``tastydesk``, usernames ``<env>:provider_secret`` and ``<env>:refresh_token``). Access
tokens live in memory for their 15 minutes. A keyring backend that would write secrets to a file
or silently drop them is refused with an explanation instead of being used.
"""

from __future__ import annotations

import asyncio
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
        # The keyring may block (a locked OS keyring asks for its password): never on the loop.
        await asyncio.to_thread(self.save, env, provider_secret, refresh_token)
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


def _name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _insecure_reason(backend: Any) -> str | None:
    cls = type(backend)
    module = cls.__module__
    name = _name(backend)
    if module == "keyring.backends.fail":
        return "no OS keyring is available (keyring.backends.fail)"
    if module == "keyring.backends.null":
        return "the null keyring stores nothing (keyring.backends.null)"
    if module.startswith(("keyrings.alt", "keyrings.cryptfile")) or "Plaintext" in cls.__name__:
        return f"{name} keeps secrets in a file, not in the OS keyring"
    return None


def _chain(backend: Any) -> list[Any]:
    """The backends a keyring consults, in its order: a chainer's members, else itself."""
    from keyring.backends.chainer import ChainerBackend

    if isinstance(backend, ChainerBackend) or type(backend).__name__ == "ChainerBackend":
        return list(backend.backends or [])
    return [backend]


_ADVICE = ("Install and unlock an OS keyring (GNOME Keyring, KWallet, macOS Keychain or Windows "
           "Credential Manager)")


class KeyringCredentialStore(CredentialStore):
    """Credentials in the OS keyring via ``keyring``; refuses insecure backends.

    A chained keyring is walked the way ``keyring`` walks it, and what counts is the member
    that actually answers: a secret is written only when the member that takes it is an OS
    keyring, and a secret returned by a plaintext member is refused rather than used.
    """

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
        inner = _chain(backend)
        if not inner:
            raise InsecureKeyringError(
                "No OS keyring is available. Install and unlock one (GNOME Keyring, KWallet, "
                "macOS Keychain or Windows Credential Manager) to save tastytrade credentials.")
        reason = _insecure_reason(inner[0])
        if reason is not None:
            raise InsecureKeyringError(
                f"Refusing to store tastytrade credentials: {reason}. {_ADVICE}.")

    def save(self, env: str, provider_secret: str, refresh_token: str) -> None:
        """Write both secrets to the first member that takes them, only if it is secure."""
        _check_env(env)
        _check_secret("provider_secret", provider_secret)
        _check_secret("refresh_token", refresh_token)
        backend = self._keyring()
        self.check_backend(backend)
        for member in _chain(backend):
            reason = _insecure_reason(member)
            if reason is not None:
                # keyring would hand the secret to this member: refuse instead of writing it.
                raise InsecureKeyringError(
                    f"Refusing to store tastytrade credentials: {reason}. {_ADVICE}.")
            try:
                member.set_password(SERVICE, f"{env}:provider_secret", provider_secret)
            except NotImplementedError:
                continue  # this member does not store passwords; keyring asks the next one
            member.set_password(SERVICE, f"{env}:refresh_token", refresh_token)
            return
        raise InsecureKeyringError(f"No OS keyring took the tastytrade credentials. {_ADVICE}.")

    def load(self, env: str) -> Credentials | None:
        """The stored login, or None; a secret that comes from an insecure member is refused
        with :class:`InsecureKeyringError` (one line naming the backend)."""
        _check_env(env)
        chain = _chain(self._keyring())
        secret = _answer(chain, f"{env}:provider_secret")
        token = _answer(chain, f"{env}:refresh_token")
        if not secret or not token:
            return None
        return Credentials(secret, token)

    def delete(self, env: str) -> None:
        """Remove the login from every member that holds it (a copy left in a plaintext
        member is removed too: that is how a refused login is cleaned up)."""
        from keyring.errors import PasswordDeleteError

        _check_env(env)
        for member in _chain(self._keyring()):
            for name in ("provider_secret", "refresh_token"):
                try:
                    member.delete_password(SERVICE, f"{env}:{name}")
                except (PasswordDeleteError, NotImplementedError):
                    continue


def _answer(chain: list[Any], username: str) -> str | None:
    """The first member's answer for ``username``, as keyring would give it; refused when the
    member that answered keeps secrets insecurely."""
    for member in chain:
        value = member.get_password(SERVICE, username)
        if value is None:
            continue
        reason = _insecure_reason(member)
        if reason is not None:
            raise InsecureKeyringError(
                f"Refusing to use the stored tastytrade login: {reason}. Log out (which removes "
                f"it) and log in again with an OS keyring; {_ADVICE[0].lower()}{_ADVICE[1:]}.")
        return value
    return None

"""The keyring member that actually stores or returns a secret is what counts: chained keyrings
are walked the way ``keyring`` walks them, with in-memory stand-ins for each kind of backend."""

from __future__ import annotations

from typing import Any

import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer
from keyring.errors import PasswordDeleteError

from tastydesk.engine.broker.tastytrade.credentials import (
    SERVICE,
    InsecureKeyringError,
    KeyringCredentialStore,
)


class _Memory(KeyringBackend):
    """In memory, standing in for an OS keyring (Secret Service, Keychain, ...)."""

    priority = 0  # type: ignore[assignment]  # never picked up by keyring's own discovery

    def __init__(self, accepts: bool = True) -> None:
        super().__init__()
        self.accepts = accepts
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        if not self.accepts:
            raise NotImplementedError("read-only member")
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.store:
            raise PasswordDeleteError(username)
        del self.store[(service, username)]


class _Plaintext(_Memory):
    """Stands in for keyrings.alt.file.PlaintextKeyring: secrets in a readable file."""


_Plaintext.__module__ = "keyrings.alt.file"


def _chain(monkeypatch: pytest.MonkeyPatch, *members: Any) -> Any:
    monkeypatch.setattr(chainer.ChainerBackend, "backends", list(members))
    return chainer.ChainerBackend()


def test_secret_goes_to_the_secure_member_that_takes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    os_keyring, plaintext = _Memory(), _Plaintext()
    store = KeyringCredentialStore(_chain(monkeypatch, os_keyring, plaintext))
    store.save("live", "secret-1", "token-1")
    assert os_keyring.store[(SERVICE, "live:provider_secret")] == "secret-1"
    assert plaintext.store == {}
    creds = store.load("live")
    assert creds is not None and creds.refresh_token == "token-1"


def test_a_member_passing_the_write_on_to_a_plaintext_one_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The first member is secure but declines writes; keyring would hand the secret to the
    plaintext member behind it, so nothing is written anywhere."""
    declines, plaintext = _Memory(accepts=False), _Plaintext()
    chain = _chain(monkeypatch, declines, plaintext)
    KeyringCredentialStore.check_backend(chain)  # judged by its first member alone: looks fine
    store = KeyringCredentialStore(chain)
    with pytest.raises(InsecureKeyringError, match="keeps secrets in a file"):
        store.save("sandbox", "secret-2", "token-2")
    assert declines.store == {} and plaintext.store == {}


def test_a_login_read_from_a_plaintext_member_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    os_keyring, plaintext = _Memory(), _Plaintext()
    plaintext.store[(SERVICE, "live:provider_secret")] = "old-secret"
    plaintext.store[(SERVICE, "live:refresh_token")] = "old-token"
    store = KeyringCredentialStore(_chain(monkeypatch, os_keyring, plaintext))
    with pytest.raises(InsecureKeyringError) as info:
        store.load("live")
    message = str(info.value)
    assert "\n" not in message and "keyrings.alt.file._Plaintext" in message
    assert "old-secret" not in message and "old-token" not in message
    assert store.load("sandbox") is None  # nothing stored there: nothing to refuse
    store.delete("live")  # logging out removes the plaintext copy
    assert plaintext.store == {} and store.load("live") is None


def test_the_secure_member_answering_first_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    os_keyring, plaintext = _Memory(), _Plaintext()
    os_keyring.store[(SERVICE, "live:provider_secret")] = "s"
    os_keyring.store[(SERVICE, "live:refresh_token")] = "t"
    plaintext.store[(SERVICE, "live:provider_secret")] = "stale"
    creds = KeyringCredentialStore(_chain(monkeypatch, os_keyring, plaintext)).load("live")
    assert creds is not None and creds.provider_secret == "s"


def test_a_lone_plaintext_backend_is_refused_for_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    plaintext = _Plaintext()
    plaintext.store[(SERVICE, "sandbox:provider_secret")] = "x"
    plaintext.store[(SERVICE, "sandbox:refresh_token")] = "y"
    with pytest.raises(InsecureKeyringError, match="Refusing to use the stored tastytrade login"):
        KeyringCredentialStore(plaintext).load("sandbox")

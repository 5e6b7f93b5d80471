from __future__ import annotations

import logging
from typing import Any

import pytest

from tastydesk.engine.broker.tastytrade import LoginRequired
from tastydesk.engine.broker.tastytrade.credentials import (
    SERVICE,
    Credentials,
    InsecureKeyringError,
    KeyringCredentialStore,
)
from tastydesk.engine.domain.events import FillReceived
from tastydesk.paths import setup_logging


def test_save_load_delete_round_trip(memory_keyring):
    store = KeyringCredentialStore()
    assert store.load("live") is None
    store.save("live", "sec-1", "tok-1")
    store.save("sandbox", "sec-2", "tok-2")
    assert memory_keyring.store[(SERVICE, "live:provider_secret")] == "sec-1"
    assert memory_keyring.store[(SERVICE, "live:refresh_token")] == "tok-1"
    assert store.load("live") == Credentials("sec-1", "tok-1")
    assert store.load("sandbox") == Credentials("sec-2", "tok-2")
    store.delete("live")
    assert store.load("live") is None
    assert store.load("sandbox") is not None
    store.delete("live")  # deleting what is gone is not an error


def test_credentials_repr_hides_secrets():
    text = repr(Credentials("sec-XYZ", "tok-XYZ"))
    assert "sec-XYZ" not in text and "tok-XYZ" not in text


@pytest.mark.parametrize(("env", "secret", "token", "field"), [
    ("prod", "s", "t", "env"),
    ("live", "", "t", "provider_secret"),
    ("live", "s", "   ", "refresh_token"),
    ("live", "s ", "t", "provider_secret"),
])
def test_bad_input_names_the_field(memory_keyring, env, secret, token, field):
    with pytest.raises(ValueError, match=field):
        KeyringCredentialStore().save(env, secret, token)


class _AltPlaintext:
    """Stands in for keyrings.alt.file.PlaintextKeyring (not installed)."""


_AltPlaintext.__module__ = "keyrings.alt.file"


def test_insecure_backends_are_refused(monkeypatch):
    from keyring.backends import chainer, fail, null

    for backend in (fail.Keyring(), null.Keyring(), _AltPlaintext()):
        with pytest.raises(InsecureKeyringError, match="OS keyring"):
            KeyringCredentialStore.check_backend(backend)
        with pytest.raises(InsecureKeyringError):
            KeyringCredentialStore(backend).save("live", "s", "t")
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [_AltPlaintext(), fail.Keyring()])
    with pytest.raises(InsecureKeyringError, match="keeps secrets in a file"):
        KeyringCredentialStore.check_backend(chainer.ChainerBackend())
    monkeypatch.setattr(chainer.ChainerBackend, "backends", [])
    with pytest.raises(InsecureKeyringError, match="No OS keyring"):
        KeyringCredentialStore.check_backend(chainer.ChainerBackend())


def test_secure_backend_in_a_chainer_is_accepted(monkeypatch, memory_keyring):
    from keyring.backends import chainer, fail

    monkeypatch.setattr(chainer.ChainerBackend, "backends", [memory_keyring, fail.Keyring()])
    KeyringCredentialStore.check_backend(chainer.ChainerBackend())


async def test_login_verifies_before_saving(tt_fake, memory_keyring):
    store = KeyringCredentialStore()
    kwargs = {"transport": tt_fake.transport}
    with pytest.raises(LoginRequired, match="invalid_grant"):
        await store.login("live", tt_fake.provider_secret, "wrong-token", client_kwargs=kwargs)
    assert store.load("live") is None
    with pytest.raises(LoginRequired, match="invalid_client"):
        await store.login("live", "wrong-secret", tt_fake.refresh_token, client_kwargs=kwargs)
    assert memory_keyring.store == {}
    accounts = await store.login("live", tt_fake.provider_secret, tt_fake.refresh_token,
                                 client_kwargs=kwargs)
    assert [a.account_number for a in accounts] == [tt_fake.account_number]
    assert store.load("live") == Credentials(tt_fake.provider_secret, tt_fake.refresh_token)


@pytest.fixture
def logging_to(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    setup_logging(data, level=logging.DEBUG, console=False)
    yield data
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_tastydesk", False):
            handler.close()
            root.removeHandler(handler)
    root._tastydesk_configured = None  # type: ignore[attr-defined]
    root.setLevel(logging.WARNING)


async def test_no_secret_in_logs_or_data_dir(tt_fake, tt_factory, memory_keyring, logging_to,
                                             caplog):
    caplog.set_level(logging.DEBUG)
    store = KeyringCredentialStore()
    await store.login("live", tt_fake.provider_secret, tt_fake.refresh_token,
                      client_kwargs={"transport": tt_fake.transport})
    creds = store.load("live")
    assert creds is not None
    harness = tt_factory(provider_secret=creds.provider_secret,
                         refresh_token=creds.refresh_token)
    broker, recorder = harness.broker, harness.recorder
    await broker.connect()
    request = harness.spread()
    await broker.subscribe(["SPY", request.legs[0].symbol])
    result = await broker.place(request)
    await harness.make_fill(result.order.order_id)
    tt_fake.expire_access_tokens()  # forces a refresh through the 401 path
    await broker.live_orders()
    await recorder.wait_for(lambda: tt_fake.heartbeats() >= 1)
    await broker.close()
    assert recorder.of(FillReceived)
    for handler in logging.getLogger().handlers:
        handler.flush()
    files = [p for p in logging_to.rglob("*") if p.is_file()]
    assert files, "the log file must exist"
    written = "\n".join(p.read_text(errors="replace") for p in files)
    captured = caplog.text
    assert "alert subscription" in captured  # SDK debug frames were really logged
    secrets = [tt_fake.provider_secret, tt_fake.refresh_token, *tt_fake.issued_tokens]
    assert len(tt_fake.issued_tokens) >= 3
    for secret in secrets:
        assert secret not in captured, "secret leaked into captured logs"
        assert secret not in written, "secret leaked into the data directory"


async def test_a_login_keeps_its_secrets_off_the_event_loop_thread(
        tt_fake: Any, memory_keyring: Any) -> None:
    import threading

    from tastydesk.engine.broker.tastytrade.credentials import KeyringCredentialStore

    threads: list[threading.Thread] = []
    keep = memory_keyring.set_password

    def recorded(service: str, username: str, password: str) -> None:
        threads.append(threading.current_thread())
        keep(service, username, password)

    memory_keyring.set_password = recorded
    accounts = await KeyringCredentialStore().login(
        "live", tt_fake.provider_secret, tt_fake.refresh_token,
        client_kwargs={"transport": tt_fake.transport})
    assert accounts and threads
    assert threading.main_thread() not in threads  # the loop runs on the main thread here

"""One app instance per data directory: two instances would be two auto-traders on one account.

The claim is the data directory's writer lock (:mod:`tastydesk.locking`), the same lock every
writing command takes, so the app refuses to start beside ``simulate`` and the other way round;
the operating system drops it when a process dies, so a crash leaves nothing stale. A
``QLocalServer`` lets a second launch ask the first to raise its window.
"""

from __future__ import annotations

import getpass
import hashlib
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from tastydesk.locking import Holder, LockHeld, WriterLock, lock_path


def server_name(data_dir: Path) -> str:
    try:
        user = getpass.getuser()
    except Exception:  # no login name in some containers
        user = "user"
    digest = hashlib.sha1(str(data_dir.resolve()).encode()).hexdigest()[:12]
    return f"tastydesk-{user}-{digest}"


class SingleInstance(QObject):
    activated = Signal()  # another launch asked this instance to show itself

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = WriterLock(lock_path(data_dir))
        self._holder: Holder | None = None
        self._name = server_name(data_dir)
        self._server: QLocalServer | None = None

    def acquire(self) -> bool:
        """Take the writer lock and start listening; False if another process holds it
        (:attr:`holder` then names it)."""
        try:
            self._lock.acquire()
        except LockHeld as exc:
            self._holder = exc.holder
            return False
        QLocalServer.removeServer(self._name)
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_connection)
        self._server.listen(self._name)
        return True

    @property
    def holder(self) -> Holder | None:
        """The process that held the lock when :meth:`acquire` failed, if it said who it is."""
        return self._holder

    def ask_running_instance_to_raise(self, timeout_ms: int = 1000) -> bool:
        socket = QLocalSocket()
        socket.connectToServer(self._name)
        if not socket.waitForConnected(timeout_ms):
            return False
        socket.write(b"raise\n")
        ok = socket.waitForBytesWritten(timeout_ms)
        socket.disconnectFromServer()
        return ok

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._lock.release()

    def _on_connection(self) -> None:
        if self._server is None:
            return
        while (socket := self._server.nextPendingConnection()) is not None:
            # The message is one short line sent right after connecting: read it here rather
            # than keep the socket alive across event-loop turns.
            data = bytes(socket.readAll().data())
            if b"raise" not in data and socket.waitForReadyRead(500):
                data += bytes(socket.readAll().data())
            socket.abort()
            if b"raise" in data:
                self.activated.emit()

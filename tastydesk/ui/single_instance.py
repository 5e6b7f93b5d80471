"""One app instance per data directory: two instances would be two auto-traders on one account.

A ``QLockFile`` next to the database holds the claim (stale locks from a crashed process are
taken over); a ``QLocalServer`` lets a second launch ask the first to raise its window.
"""

from __future__ import annotations

import getpass
import hashlib
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

LOCK_FILE = "instance.lock"


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
        self._lock = QLockFile(str(data_dir / LOCK_FILE))
        self._lock.setStaleLockTime(0)
        self._name = server_name(data_dir)
        self._server: QLocalServer | None = None

    def acquire(self) -> bool:
        """Take the instance lock and start listening; False if another instance holds it."""
        if not self._lock.tryLock(0):
            return False
        QLocalServer.removeServer(self._name)
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_connection)
        self._server.listen(self._name)
        return True

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
        if self._lock.isLocked():
            self._lock.unlock()

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

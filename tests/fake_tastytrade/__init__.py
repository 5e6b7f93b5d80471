"""A fake tastytrade (REST, account streamer, DXLink) for running the real SDK in-process."""

from tests.fake_tastytrade.server import DXLINK_URL, FakeTastytrade
from tests.fake_tastytrade.transport import InProcessTransport

__all__ = ["DXLINK_URL", "FakeTastytrade", "InProcessTransport"]

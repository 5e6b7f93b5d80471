"""tastytrade adapter on the official SDK.

Importing this package is cheap: the SDK itself (about a second of imports) is loaded only when a
:class:`~tastydesk.engine.broker.tastytrade.adapter.TastytradeBroker` connects or credentials are
verified, so paper mode never pays for it.
"""

from tastydesk.engine.broker.tastytrade.errors import (
    BrokerPayloadError,
    BrokerUnavailable,
    LoginRequired,
    TastytradeAdapterError,
)

__all__ = ["BrokerPayloadError", "BrokerUnavailable", "LoginRequired", "TastytradeAdapterError"]

"""Option pricing: Black-Scholes-Merton prices and greeks, implied volatility, probabilities."""

from tastydesk.engine.pricing.allocator import keep_heap_warm

keep_heap_warm()

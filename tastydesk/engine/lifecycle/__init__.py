"""Expiration, exercise, assignment and dividends: what ends at the broker ends in the app."""

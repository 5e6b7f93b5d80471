"""Workflows: the workflow book (records, locks, transitions, timers) and shared constants."""

"""Test kit: a scripted fake broker and a kernel built on it over a real SQLite store."""

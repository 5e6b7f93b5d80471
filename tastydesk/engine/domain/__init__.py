"""Immutable domain types shared by every engine layer and the UI."""

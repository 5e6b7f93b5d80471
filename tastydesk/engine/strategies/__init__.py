"""Strategy validation, JSON import/export and the built-in strategies."""

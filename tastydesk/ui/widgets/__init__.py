"""Reusable widgets: charts, editors, delegates."""

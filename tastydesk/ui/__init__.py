"""Desktop user interface: the main window, docks, models and widgets (Qt)."""

"""Benchmarks run by ``tastydesk bench``.

Each module in this package defines ``BENCHMARKS``: a list of ``(name, function)`` where the
function takes no arguments and returns a dict of figures (numbers, with units in the key names,
plus optional ``target`` and ``ok`` entries).
"""

MODULES = ["pricing", "proposal", "dispatch", "workflow", "stop_exit", "store", "ui", "gui_stall"]

"""Garbage collection on the GUI thread only.

Python collects reference cycles on whichever thread happens to allocate past the collector's
threshold. In this app that can be the store's writer thread or a pricing worker; a cycle that
holds a Qt object (a closed dialog, a dock's lambda) would then be destroyed off the GUI thread,
which Qt does not allow and which can crash the process. pyqtgraph's collector turns automatic
collection off and collects on a Qt timer instead, so it always runs on the GUI thread.
"""

from __future__ import annotations

from pyqtgraph.util.garbage_collector import GarbageCollector


def collect_on_gui_thread(interval_s: float = 1.0) -> GarbageCollector:
    """Start collecting on the GUI thread (call once the QApplication exists); keep the returned
    collector alive for as long as the application runs."""
    return GarbageCollector(interval=interval_s)

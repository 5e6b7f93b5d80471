"""Garbage collection on the GUI thread only.

Python collects reference cycles on whichever thread happens to allocate past the collector's
threshold. In this app that can be the store's writer thread or a pricing worker; a cycle that
holds a Qt object (a closed dialog, a dock's lambda) would then be destroyed off the GUI thread,
which Qt does not allow and which can crash the process. So automatic collection is turned off
and a Qt timer collects instead, always on the GUI thread, generation by generation as the
collector's own thresholds say (the recipe pyqtgraph ships; written here because importing
pyqtgraph's copy loads its debug module, profilers and OpenGL bindings at start-up).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QTimer


class GuiThreadCollector:
    """Keep it alive for as long as the application runs; :meth:`stop` gives collection back."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self.threshold = gc.get_threshold()
        gc.disable()
        self.timer = QTimer()
        self.timer.timeout.connect(self.check)
        self.timer.start(int(interval_s * 1000))

    def check(self) -> None:
        """Collect each generation whose count passed its threshold (youngest first)."""
        count0, count1, count2 = gc.get_count()
        if count0 > self.threshold[0]:
            gc.collect(0)
            if count1 > self.threshold[1]:
                gc.collect(1)
                if count2 > self.threshold[2]:
                    gc.collect(2)

    def stop(self) -> None:
        self.timer.stop()
        gc.enable()


def collect_on_gui_thread(interval_s: float = 1.0) -> GuiThreadCollector:
    """Start collecting on the GUI thread (call once the QApplication exists); keep the returned
    collector alive for as long as the application runs."""
    return GuiThreadCollector(interval_s)

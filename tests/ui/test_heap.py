"""Objects alive once the window is built are kept out of later garbage collections."""

from __future__ import annotations

import gc

from tastydesk.ui.heap import freeze_long_lived


def test_objects_alive_now_leave_the_collectors_sight() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    freeze_long_lived()
    try:
        assert gc.get_freeze_count() > 1000  # the interpreter's and the test run's objects
    finally:
        gc.unfreeze()

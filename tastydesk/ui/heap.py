"""Keeping Python's garbage collector off the GUI thread's critical path.

The engine, the paper market and the window hold a few million objects once they are up. A
full (oldest-generation) collection walks all of them: about 130 ms with 200 open positions,
a frozen window several times a minute while quotes stream. Nearly all of those objects live
as long as the session, so once the window is up they are moved out of the collector's sight
(:func:`gc.freeze`); later collections walk only what was created since.
"""

from __future__ import annotations

import gc


def freeze_long_lived() -> None:
    """Exclude every object alive now from future collections (call once the engine and the
    main window are built: what exists then lives as long as the session). Garbage is collected
    first, so nothing that is already garbage is kept for good."""
    gc.collect()
    gc.freeze()

"""Entry point of the frozen bundle: the same ``main`` as the ``tastydesk`` console script."""

from __future__ import annotations

import multiprocessing

from tastydesk.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    raise SystemExit(main())

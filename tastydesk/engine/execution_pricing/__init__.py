"""Pure order-pricing math: walking a limit from mid to natural, exit thresholds against the
fill, a failsafe against unusable quotes and the quality of fills.

Nothing here does I/O or keeps state; the workflow calls these functions with the prices it has.
"""

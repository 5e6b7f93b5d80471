"""Qt item models over engine snapshots."""

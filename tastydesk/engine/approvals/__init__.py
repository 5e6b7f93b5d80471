"""The approval desk: proposals waiting for the trader and the decisions on them."""

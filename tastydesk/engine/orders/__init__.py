"""Orders: the order manager, working orders and the smart-pricing walk."""

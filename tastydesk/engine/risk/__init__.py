"""Portfolio risk: balance, greeks, buying power, breaches; pre-trade checks as pure functions."""

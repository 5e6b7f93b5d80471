"""Paper trading: a simulated market and a broker that trades against it."""

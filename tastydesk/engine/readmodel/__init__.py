"""The read model: view projections and the in-memory history the desktop shows."""

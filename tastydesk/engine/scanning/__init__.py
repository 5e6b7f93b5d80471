"""Scanning: bias and confidence, candidate proposals, and the scan schedule."""

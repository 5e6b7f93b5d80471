"""Broker adapters behind one port: the paper broker and tastytrade."""

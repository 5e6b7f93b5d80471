"""Headless sub-commands of the tastydesk CLI."""

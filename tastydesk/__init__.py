"""tastydesk: an options-trading workstation for tastytrade."""

__version__ = "0.1.0"

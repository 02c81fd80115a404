"""finlake: a precision-marketing lakehouse for retail banks."""

__version__ = "0.1.0"

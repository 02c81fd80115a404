"""Errors of the synthetic data generator."""

from finlake.errors import FinlakeError


class GeneratorError(FinlakeError, ValueError):
    """Generator parameters are invalid or the landing folder cannot be written."""

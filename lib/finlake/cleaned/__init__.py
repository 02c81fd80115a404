"""The cleaned layer: typed, standardised, deduplicated, PII-protected bank data with history.

``build_cleaned`` (``finlake clean``, ``jobs/build_cleaned.py``) turns new raw batches into the
``cleaned.*`` tables; the transforms it uses are pure and live in the sibling modules.
See docs/cleaned.md.
"""

from finlake.cleaned.build import CleanReport, TableOutcome, build_cleaned

__all__ = ["CleanReport", "TableOutcome", "build_cleaned"]

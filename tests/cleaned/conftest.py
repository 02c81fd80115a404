"""Fixtures for the cleaned-layer tests: a private lake home per test (helpers: cleaned_helpers.py)."""

from __future__ import annotations

import pytest

from cleaned_helpers import RawWriter, private_settings
from finlake.lake import Lake


@pytest.fixture
def clean_lake(spark, settings, tmp_path):
    """A fresh lake (own home) and a writer of raw batches for one test."""
    s = private_settings(settings, tmp_path / "home")
    lake = Lake(spark, s)
    return lake, s, RawWriter(lake)

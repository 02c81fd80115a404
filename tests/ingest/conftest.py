"""Fixtures for ingestion tests (helpers: ingest_helpers.py).

``ingest_env`` gives each test its own table, landing and quality roots on the shared Spark
session, so tests do not see each other's tables.
"""

from __future__ import annotations

import pytest

from ingest_helpers import IngestEnv, make_env


@pytest.fixture
def ingest_env(settings, spark, tmp_path) -> IngestEnv:
    return make_env(settings, spark, tmp_path)

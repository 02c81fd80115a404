"""Raw ingestion: landing batches -> ``raw.<source>`` tables, with the ledger and the raw gates.

Public entry point: :func:`ingest_all` (used by ``finlake ingest`` and ``jobs/ingest_raw.py``).
How it works and who may read raw tables: docs/raw.md.
"""

from finlake.ingest.errors import IngestError
from finlake.ingest.run import IngestReport, ingest_all

__all__ = ["IngestError", "IngestReport", "ingest_all"]

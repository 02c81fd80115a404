"""Errors of raw ingestion."""

from finlake.errors import FinlakeError


class IngestError(FinlakeError):
    """One or more landing batches could not be ingested (unreadable, checksum mismatch, refused).

    The other batches landed; the failed ones are in ``ops.ingest_ledger`` with the reason and are
    retried by the next run once the file is fixed. Exit code 5: distinct from a quality gate
    failure (3) and from an infrastructure failure (4).
    """

    exit_code = 5

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.report = report

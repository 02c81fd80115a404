"""Delta tables by catalog name over two engines; see :mod:`finlake.lake.api`."""

from finlake.lake.api import CommitResult, HistoryEntry, Lake, TableInfo, WriteContext, WriteTxn

__all__ = ["CommitResult", "HistoryEntry", "Lake", "TableInfo", "WriteContext", "WriteTxn"]

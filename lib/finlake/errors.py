"""Named errors. Each message names the table, file or setting and says how to fix it."""


class FinlakeError(Exception):
    """Base of every finlake error; the CLI prints its message without a traceback."""

    exit_code = 2


class SettingsError(FinlakeError, ValueError):
    """A setting is missing or invalid."""


class CatalogError(FinlakeError, ValueError):
    """A table declaration under schemas/ is invalid (the message names the file)."""


class TableNotFoundError(FinlakeError, LookupError):
    """A table is unknown to the catalog, or known but not created yet."""


class NotADeltaTableError(FinlakeError):
    """A path holds files but no Delta log."""


class UnsupportedTableFeatureError(FinlakeError):
    """A Delta table uses a reader feature the active engine cannot read."""


class SchemaMismatchError(FinlakeError, ValueError):
    """A DataFrame does not match the declared schema of the table it is written to."""


class ConflictError(FinlakeError):
    """A concurrent writer changed the data this write read; nothing was committed."""


class QualityGateError(FinlakeError):
    """A blocking expectation failed; the target table did not move."""

    exit_code = 3


class InfrastructureError(FinlakeError):
    """Spark, storage or a tracking server failed in a way a rerun may fix."""

    exit_code = 4

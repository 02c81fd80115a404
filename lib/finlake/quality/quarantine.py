"""Quarantine tables: rows that broke row-level rules, kept whole so they can be re-processed.

``quarantine.<table>`` (one per gated table name, e.g. ``cleaned.transactions`` ->
``quarantine.transactions``) is declared in ``schemas/quarantine/<table>.yaml`` like every
table. Its columns are the source table's columns, all nullable (a row is often quarantined
*because* a required value is null), followed by:

- ``_rules_broken array<string>``: names of the rules the row broke;
- ``_run_id string``: the run that quarantined it;
- ``_quarantined_at timestamp``: when;
- ``_source_table string``: the table the row was meant for;
- ``_quarantine_id string``: a unique id, so a re-processed row can be released exactly once;
- ``_source_file string`` and ``_line_number bigint``: where the row was delivered (the landing
  file relative to the landing root, and its line there: the raw table's primary key), so a
  steward can open the file at the line. Null when the gated rows carry no raw lineage.

Keeping the source columns typed (rather than one JSON blob) means a steward can query, fix
and re-gate the rows with the same code path as fresh data: see :meth:`QualityGate.reprocess`.
``render_declaration`` prints the YAML for a new table; a test checks every declaration against
its source so the two cannot drift.
"""

from __future__ import annotations

from finlake.catalog import Catalog, TableSpec
from finlake.errors import SchemaMismatchError, TableNotFoundError

QUARANTINE_COLUMNS = (
    ("_rules_broken", "array<string>", "Names of the row-level rules the row broke"),
    ("_run_id", "string", "Run that quarantined the row"),
    ("_quarantined_at", "timestamp", "When the row was quarantined (UTC)"),
    ("_source_table", "string", "Table the row was meant for (layer.table)"),
    ("_quarantine_id", "string", "Unique id of the quarantined row; releases it exactly once"),
    ("_source_file", "string", "Landing file the row came from, relative to the landing root (null if unknown)"),
    ("_line_number", "bigint", "Line of the row in that file, the header being line 1 (null if unknown)"),
)
# Carried from the gated rows when they have them (raw lineage), else null.
PROVENANCE_COLUMNS = ("_source_file", "_line_number")
META_COLUMNS = tuple(name for name, _, _ in QUARANTINE_COLUMNS)


def quarantine_table(source: str) -> str:
    """``cleaned.transactions`` -> ``quarantine.transactions``."""
    return f"quarantine.{source.split('.', 1)[1]}"


def render_declaration(source: TableSpec) -> str:
    """The ``schemas/quarantine/<table>.yaml`` text for ``source``."""
    lines = [
        f"table: {quarantine_table(source.name)}",
        f"description: Rows meant for {source.name} that broke a row-level rule (see docs/quality.md).",
        "partition_by: []",
        "primary_key: [_quarantine_id]",
        "columns:",
    ]
    for col in source.columns:
        ctype = f'"{col.type}"' if "," in col.type else col.type
        extra = ", pii: true" if col.pii else ""
        lines.append(f"  - {{name: {col.name}, type: {ctype}{extra}, description: \"as in {source.name}\"}}")
    for name, ctype, description in QUARANTINE_COLUMNS:
        lines.append(f"  - {{name: {name}, type: {ctype}, description: \"{description}\"}}")
    return "\n".join(lines) + "\n"


def check_declaration(catalog: Catalog, source: str) -> TableSpec:
    """The quarantine spec for ``source``; raise if it is missing or does not mirror the source."""
    name = quarantine_table(source)
    source_spec = catalog.get(source)
    if name not in catalog:
        raise TableNotFoundError(
            f"'{source}' has quarantine rules but '{name}' is not declared; add "
            f"schemas/quarantine/{name.split('.', 1)[1]}.yaml (print it with "
            f"'finlake quality --declare-quarantine {source}'):\n{render_declaration(source_spec)}"
        )
    spec = catalog.get(name)
    wanted = [(c.name, c.type) for c in source_spec.columns] + [(n, t) for n, t, _ in QUARANTINE_COLUMNS]
    actual = [(c.name, c.type) for c in spec.columns]
    if actual != wanted:
        raise SchemaMismatchError(
            f"{spec.source_file} does not mirror {source_spec.source_file} plus the quarantine columns; "
            f"regenerate it with 'finlake quality --declare-quarantine {source}'. Expected columns {wanted}, found {actual}"
        )
    not_null = [c.name for c in spec.columns if not c.nullable]
    if not_null:
        raise SchemaMismatchError(f"{spec.source_file}: quarantine columns must be nullable, these are not: {not_null}")
    return spec

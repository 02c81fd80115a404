"""Build the cleaned layer from the raw batches not processed yet (the ``clean`` stage).

Run locally:   python jobs/build_cleaned.py [--as-of 2024-12-31] [--run-id ID]
On a cluster:  spark-submit --py-files dist/finlake.zip jobs/build_cleaned.py [same options]

Needs the PII key (FINLAKE_PII_KEY or FINLAKE_PII_KEY_FILE). Exit codes: 0 ok, 2 settings (no
PII key), 3 a blocking expectation failed (no table moved), 4 infrastructure.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", type=date.fromisoformat, default=None,
                        help="only raw batches with a business date up to this one")
    parser.add_argument("--run-id")
    args = parser.parse_args(argv)

    from finlake.cleaned import build_cleaned
    from finlake.entrypoints import new_run_id, run_job

    return run_job("build_cleaned",
                   lambda lake, settings, run_id: build_cleaned(lake, settings, run_id, as_of=args.as_of).summary(),
                   args.run_id or new_run_id("clean"))


if __name__ == "__main__":
    sys.exit(main())

"""Build the campaign audiences (the ``audiences`` stage): select every conf/audiences/*.yaml
campaign at the latest feature/score cut-off, cap contacts across campaigns
(conf/contact_policy.yaml), write audiences.<campaign> and the CRM export CSVs (docs/marketing.md).

Run locally:   python jobs/build_audiences.py [--as-of 2025-01-01] [--run-id ID] [FILE ...]
On a cluster:  spark-submit --py-files dist/finlake.zip jobs/build_audiences.py [same options]

Exit codes: 0 ok, 2 settings or a bad definition / policy / missing input table, 4 infrastructure.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="definition files (default: every conf/audiences/*.yaml)")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="cut-off (default: the latest)")
    parser.add_argument("--run-id")
    args = parser.parse_args(argv)

    from finlake.entrypoints import new_run_id, run_job
    from finlake.marketing import build_audiences

    def work(lake, settings, run_id):
        results = build_audiences(lake, settings, run_id, as_of=args.as_of, definitions=args.files or None)
        return "\n".join(str(r) for r in results)

    return run_job("build_audiences", work, args.run_id or new_run_id("audiences"))


if __name__ == "__main__":
    sys.exit(main())

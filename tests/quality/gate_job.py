"""A job in the shape of jobs/*.py that loads a tiny batch through the gate (used by test_job_exit.py).

    python tests/quality/gate_job.py --home H --schemas S --expectations E --run-id R --rows '[["A9","XXX",1]]'
"""

from __future__ import annotations

import argparse
import json
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    for flag in ("--home", "--schemas", "--expectations", "--run-id", "--rows"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from decimal import Decimal

    from finlake.catalog import Catalog
    from finlake.errors import FinlakeError
    from finlake.lake import Lake, WriteTxn
    from finlake.quality import QualityGate
    from finlake.settings import load_settings
    from finlake.spark import get_spark

    try:
        settings = load_settings(overrides={"home": args.home, "lake_engine": "bridge", "spark_master": "local[1]",
                                            "spark_conf": {"spark.driver.memory": "1g"}})
        spark = get_spark(settings, "gate-job")
        lake = Lake(spark, settings, catalog=Catalog.load(args.schemas)).for_job("gate-job", args.run_id)
        rows = [(a, c, Decimal(b)) for a, c, b in json.loads(args.rows)]
        df = spark.createDataFrame(rows, "account_id string, currency string, balance decimal(18,2)").persist()
        gate = QualityGate(lake, settings, run_id=args.run_id, expectations_dir=args.expectations)
        gate.check(df, "cleaned.qt_accounts")
        lake.append("cleaned.qt_accounts", df, txn=WriteTxn("gate-job", 2))
    except FinlakeError as exc:
        logging.getLogger("gate-job").error("%s: %s", type(exc).__name__, exc)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Train the churn model on the feature layer, log it to MLflow and decide champion/challenger.

Run locally:   python jobs/train_churn.py
On a cluster:  spark-submit --py-files dist/finlake.zip jobs/train_churn.py

Tracking goes to settings.mlflow_uri (FINLAKE_MLFLOW_URI; default sqlite under <home>/mlflow).
Exit codes: 0 ok (whether or not the new version became champion), 2 settings or data
problems, 4 infrastructure (tracking server unreachable).
"""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from finlake.errors import FinlakeError
    from finlake.lake import Lake
    from finlake.models import workflows
    from finlake.settings import load_settings
    from finlake.spark import get_spark

    try:
        settings = load_settings()
        lake = Lake(get_spark(settings, "finlake-train_churn"), settings).for_job("train_churn")
        outcome = workflows.train_churn_model(lake, settings)
    except FinlakeError as exc:
        logging.getLogger("train_churn").error("%s: %s", type(exc).__name__, exc)
        return exc.exit_code
    logging.getLogger("train_churn").info("%s v%s: %s (%s)", outcome.name, outcome.version,
                                          "champion" if outcome.decision.promote else "challenger",
                                          outcome.decision.reason)
    return 0


if __name__ == "__main__":
    sys.exit(main())

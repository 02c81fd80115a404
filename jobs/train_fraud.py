"""Train the fraud model on the feature layer, log it to MLflow and decide champion/challenger.

Run locally:   python jobs/train_fraud.py
On a cluster:  spark-submit --py-files dist/finlake.zip jobs/train_fraud.py

Tracking goes to settings.mlflow_uri (FINLAKE_MLFLOW_URI; default sqlite under <home>/mlflow).
Exit codes: 0 ok (whether or not the new version became champion), 2 settings or data
problems, 4 infrastructure (tracking server unreachable).
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)  # --help

    from finlake.entrypoints import new_run_id, run_job

    def work(lake, settings, run_id):
        from finlake.models import workflows  # after the settings are read: MLflow and Spark ML take seconds to import

        return workflows.train_fraud_model(lake, settings).summary()

    return run_job("train_fraud", work, new_run_id("train_fraud"))


if __name__ == "__main__":
    sys.exit(main())

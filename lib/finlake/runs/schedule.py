"""When a cadenced stage is due. Training retrains every ``settings.train_cadence_days``, or at once
when no model holds the ``@champion`` alias (a fresh lake, or a registry that lost its models)."""

from __future__ import annotations

import logging
from datetime import date

from finlake.runs.ledger import SUCCESS, RunLedger
from finlake.settings import Settings

log = logging.getLogger(__name__)


def train_due(lake, settings: Settings, as_of: date, ledger: RunLedger) -> tuple[bool, str]:
    """(due, reason). Due when no champion exists or the last successful training is too old for ``as_of``."""
    if not _any_champion(settings):
        return True, f"no model has a @champion alias in {settings.mlflow_uri}"
    trained = [r.as_of for r in ledger.rows() if r.stage == "train" and r.status == SUCCESS and r.as_of <= as_of]
    if not trained:
        return True, "no successful training is recorded in ops.runs"
    age = (as_of - max(trained)).days
    if age >= settings.train_cadence_days:
        return True, f"last training was for {max(trained)}, {age} days before {as_of} (cadence {settings.train_cadence_days})"
    return False, f"last training was for {max(trained)}, {age} days ago; next due after {settings.train_cadence_days} days"


def _any_champion(settings: Settings) -> bool:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=settings.mlflow_uri, registry_uri=settings.mlflow_uri)
    try:
        models = client.search_registered_models()
    except Exception as exc:  # an empty or unreachable store: treat as "no champion", say why
        log.info("could not list registered models in %s (%s): treating as no champion", settings.mlflow_uri, exc)
        return False
    return any("champion" in (m.aliases or {}) for m in models)

"""When a cadenced stage is due. Training retrains every ``settings.train_cadence_days``, or at once
when a model has no ``@champion`` alias (a fresh lake, or a registry that lost its models)."""

from __future__ import annotations

from datetime import date

from finlake.runs.ledger import SUCCESS, RunLedger
from finlake.settings import Settings


def train_due(lake, settings: Settings, as_of: date, ledger: RunLedger) -> tuple[bool, str]:
    """(due, reason). Due when a model has no champion or the last successful training is too old for ``as_of``."""
    missing = _models_without_champion(settings)
    if missing:
        return True, f"no @champion for {', '.join(missing)} in {settings.mlflow_uri}"
    trained = [r.as_of for r in ledger.rows() if r.stage == "train" and r.status == SUCCESS and r.as_of <= as_of]
    if not trained:
        return True, "no successful training is recorded in ops.runs"
    age = (as_of - max(trained)).days
    if age >= settings.train_cadence_days:
        return True, f"last training was for {max(trained)}, {age} days before {as_of} (cadence {settings.train_cadence_days})"
    return False, f"last training was for {max(trained)}, {age} days ago; next due after {settings.train_cadence_days} days"


def _models_without_champion(settings: Settings) -> list[str]:
    from finlake.models import registry

    if not registry.store_exists(settings):
        return [registry.model_name(k) for k in registry.KINDS]
    client = registry.client_for(settings)
    return [registry.model_name(k) for k in registry.KINDS if registry.current_champion(client, k) is None]

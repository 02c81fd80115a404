"""Runs: the job graph behind ``finlake run``, its ledger (``ops.runs``), the lake lock and lineage.

See docs/runs.md for the stages, resume rules, exit codes and how to submit to a cluster.
"""

from finlake.runs.ledger import JobRecord, RunLedger
from finlake.runs.lock import RunLock, RunLockedError
from finlake.runs.registry import DEFAULT_REGISTRY, JobSpec, Registry, StageSpec
from finlake.runs.runner import RunReport, StageResult, exit_code_for, run_pipeline

__all__ = [
    "DEFAULT_REGISTRY", "JobRecord", "JobSpec", "Registry", "RunLedger", "RunLock", "RunLockedError",
    "RunReport", "StageResult", "StageSpec", "exit_code_for", "run_pipeline",
]

"""The stage registry: which library function each job of the pipeline calls, in which order.

A job names its entry function by import path (``"finlake.ingest:ingest_all"``), so the
registry can list stages whose code has not landed yet: such a stage is reported as
"not available yet" and skipped, and it joins the pipeline the day its module exists. Adding a
stage or a job is one entry here.

Entry functions keep their own signatures; the runner passes the arguments they name from
``lake`` (attributed to the job and run), ``spark``, ``settings``, ``run_id`` and ``as_of``
(a ``datetime.date``). A parameter with no default that is not one of those is an error.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

STAGE_ORDER = ("ingest", "clean", "features", "train", "score", "audiences")
CALL_ARGUMENTS = ("lake", "spark", "settings", "run_id", "as_of")
# The bank's calendar: an event's business date is its Beijing date (docs/cleaned.md), so is a run's.
BANK_TIMEZONE = ZoneInfo("Asia/Shanghai")


def business_today(now: datetime | None = None) -> date:
    """Today on the bank's calendar: a run started at 01:00 in Beijing (17:00 UTC the day before)
    is for the Beijing date, not the UTC one."""
    return (now or datetime.now(timezone.utc)).astimezone(BANK_TIMEZONE).date()


def month_cutoff(business_date: date) -> date:
    """The latest monthly feature cut-off a run for ``business_date`` can compute.

    Feature rows for cut-off D use events strictly before D (docs/features.md), and a run for
    business date B has data through B, so the cut-off is the first day of the month of B + 1
    day: the run for 2024-12-31 computes 2025-01-01, the run for 2024-12-15 recomputes 2024-12-01.
    """
    return (business_date + timedelta(days=1)).replace(day=1)


# How a job's ``as_of`` derives from the run's business date.
AS_OF_RULES = {"business_date": lambda d: d, "month_cutoff": month_cutoff}


class EntryNotAvailable(Exception):
    """The module or function an entry names does not exist (yet)."""


@dataclass(frozen=True)
class JobSpec:
    """One job: a library function and the tables it reads.

    ``reads`` may use a layer wildcard (``"raw.*"``); the runner records the version of every
    existing matching table at job start. Written tables need no declaration: every table whose
    version moves while the job runs is recorded (the run lock keeps other writers out).
    ``as_of`` names the rule (AS_OF_RULES) that turns the run's business date into the job's.
    """

    name: str
    entry: str
    reads: tuple[str, ...] = ()
    as_of: str = "business_date"

    def __post_init__(self):
        if self.as_of not in AS_OF_RULES:
            raise ValueError(f"job {self.name}: as_of must be one of {sorted(AS_OF_RULES)}, not {self.as_of!r}")

    def job_as_of(self, run_as_of: date) -> date:
        """The ``as_of`` this job is called with for a run of business date ``run_as_of``."""
        return AS_OF_RULES[self.as_of](run_as_of)


@dataclass(frozen=True)
class StageSpec:
    """A stage: jobs run in the listed (dependency) order.

    ``due`` optionally names a function ``(lake, settings, as_of, ledger) -> (bool, reason)``;
    a stage that is not due is skipped (training runs on a cadence).
    """

    name: str
    jobs: tuple[JobSpec, ...]
    due: str | None = None


@dataclass(frozen=True)
class Registry:
    stages: tuple[StageSpec, ...] = field(default_factory=tuple)

    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def get(self, name: str) -> StageSpec:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise ValueError(f"unknown stage '{name}'; stages are: {', '.join(self.names())}")

    def select(self, from_stage: str | None = None, until_stage: str | None = None) -> list[StageSpec]:
        """Stages from ``from_stage`` through ``until_stage`` (both inclusive), in order."""
        names = self.names()
        start = names.index(self.get(from_stage).name) if from_stage else 0
        end = names.index(self.get(until_stage).name) if until_stage else len(names) - 1
        if start > end:
            raise ValueError(f"--from {from_stage} comes after --until {until_stage}; stages run in the order "
                             f"{' -> '.join(names)}")
        return list(self.stages[start:end + 1])


def resolve(entry: str) -> Callable[..., Any]:
    """Import ``"package.module:function"``; EntryNotAvailable if the module or function is missing."""
    module_name, _, attr = entry.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only "this module does not exist" means not available; a missing dependency *inside*
        # an existing module is a real error and must surface.
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise EntryNotAvailable(f"module {module_name} does not exist yet") from None
        raise
    fn = getattr(module, attr, None)
    if fn is None:
        raise EntryNotAvailable(f"{module_name} has no function {attr} yet")
    return fn


def bind_arguments(fn: Callable[..., Any], available: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments ``fn`` accepts out of ``available``; error on any other required one."""
    params = inspect.signature(fn).parameters
    kwargs = {name: available[name] for name in params if name in available}
    missing = [p.name for p in params.values()
               if p.default is inspect.Parameter.empty and p.name not in kwargs
               and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    if missing:
        raise TypeError(
            f"{fn.__module__}.{fn.__qualname__} needs {missing}, which the runner cannot supply; "
            f"entry functions may take only {', '.join(CALL_ARGUMENTS)} without defaults"
        )
    return kwargs


DEFAULT_REGISTRY = Registry(stages=(
    StageSpec("ingest", (JobSpec("ingest_raw", "finlake.ingest:ingest_all"),)),
    StageSpec("clean", (JobSpec("build_cleaned", "finlake.cleaned:build_cleaned", reads=("raw.*",)),)),
    StageSpec("features", (JobSpec("build_features", "finlake.features:build_features", reads=("cleaned.*",),
                                   as_of="month_cutoff"),)),
    StageSpec("train", (
        JobSpec("train_segmentation", "finlake.models.workflows:train_segmentation_model",
                reads=("features.customer_monthly",), as_of="month_cutoff"),
        JobSpec("train_churn", "finlake.models.workflows:train_churn_model",
                reads=("features.customer_monthly", "features.churn_labels")),
        JobSpec("train_fraud", "finlake.models.workflows:train_fraud_model", reads=("features.transaction_fraud",)),
    ), due="finlake.runs.schedule:train_due"),
    StageSpec("score", (JobSpec("score", "finlake.models.workflows:score",
                                reads=("features.customer_monthly", "features.transaction_fraud"),
                                as_of="month_cutoff"),)),
    StageSpec("audiences", (JobSpec("build_audiences", "finlake.marketing:build_audiences",
                                    reads=("features.*", "scores.*", "cleaned.*"), as_of="month_cutoff"),
                            JobSpec("build_crosssell", "finlake.marketing.crosssell:build_crosssell",
                                    reads=("features.customer_monthly", "cleaned.*"), as_of="month_cutoff"))),
))

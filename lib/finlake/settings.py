"""The one settings object.

Precedence, lowest first: built-in defaults < ``conf/<env>.yaml`` < ``FINLAKE_*`` environment
variables < CLI flags. Every resolved value remembers where it came from, so ``finlake config``
can show it. This is the only module that reads ``FINLAKE_*`` environment variables.

All state lives under one home directory (``FINLAKE_HOME``, default ``./lakehouse``); the table,
landing, MLflow and quality locations derive from it unless set on their own.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from finlake.errors import SettingsError

ENGINES = ("auto", "native", "bridge")
DEFAULT_ENV = "local"


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with :func:`load_settings`, never by hand outside tests."""

    env: str = DEFAULT_ENV
    home: str = "./lakehouse"
    # Locations below default to folders of `home` (see _derive); any URI Spark and delta-rs
    # both understand works for table_root (file://, s3://, abfss://, ...).
    table_root: str | None = None
    landing_root: str | None = None
    mlflow_uri: str | None = None
    quality_root: str | None = None
    # Spark: master None means "local[*] unless spark-submit already chose one".
    spark_master: str | None = None
    spark_conf: dict[str, str] = field(default_factory=dict)
    lake_engine: str = "auto"
    # PII tokenisation key: given directly (environment/CLI only, never in a conf file) or
    # read from a file. No default: a missing key is an error when PII is processed.
    pii_key: str | None = None
    pii_key_file: str | None = None
    # Quality: how many days old the latest landed business date may be before the
    # freshness gate fails.
    freshness_lag_days: int = 3
    # Ingest: the landing sources this lake receives, comma-separated ("customers,accounts,...");
    # unset means every source the catalog declares. An ingest run without --source (and the
    # pipeline's ingest stage) lands these, and the freshness gate judges only these.
    landing_sources: str | None = None
    # Models: retrain when the champion is older than this many days (or missing).
    train_cadence_days: int = 30
    champion_margin: float = 0.0
    # Segmentation: the numbers of segments tried, "4-9" (a range) or "5,7,9"; the silhouette picks.
    segmentation_k: str = "5-9"
    # Runs: a run lock older than this many hours is stale (its owner is presumed dead) even
    # when its process cannot be checked (another host); `finlake run --break-stale-lock`.
    run_lock_max_age_hours: float = 12.0
    # Maintenance: `finlake maintain` keeps the files that every table version committed in the
    # last this many hours needs (Delta's default, 7 days) and deletes the rest; older versions
    # can no longer be read.
    vacuum_retention_hours: float = 168.0
    # Where each value came from: field -> "default" | "conf/<env>.yaml" | "env FINLAKE_X" | "cli".
    sources: dict[str, str] = field(default_factory=dict, compare=False)

    # --- derived locations -------------------------------------------------------------
    def table_path(self, layer: str, table: str) -> str:
        """Storage location of ``layer.table`` under the table root."""
        return f"{self.table_root.rstrip('/')}/{layer}/{table}"

    def resolve_pii_key(self) -> bytes:
        """The PII tokenisation key; raises a SettingsError that says how to provide one."""
        if self.pii_key:
            return self.pii_key.encode("utf-8")
        if self.pii_key_file:
            path = Path(self.pii_key_file)
            if not path.is_file():
                raise SettingsError(
                    f"pii_key_file '{path}' does not exist; create it (for example "
                    f"'openssl rand -hex 32 > {path}') or set FINLAKE_PII_KEY"
                )
            key = path.read_text(encoding="utf-8").strip()
            if len(key) < 16:
                raise SettingsError(f"pii_key_file '{path}' holds fewer than 16 characters; use a longer secret")
            return key.encode("utf-8")
        raise SettingsError(
            "no PII key is configured: set FINLAKE_PII_KEY, FINLAKE_PII_KEY_FILE or "
            "'pii_key_file' in conf/<env>.yaml (the key itself never goes in the repository)"
        )

    def segmentation_k_values(self) -> tuple[int, ...]:
        """``segmentation_k`` as a tuple of candidate k; a SettingsError says how to write it."""
        text = self.segmentation_k.replace(" ", "")
        try:
            if "-" in text:
                low, high = (int(x) for x in text.split("-"))
                values = tuple(range(low, high + 1))
            else:
                values = tuple(sorted({int(x) for x in text.split(",") if x}))
        except ValueError:
            values = ()
        if not values or min(values) < 2:
            origin = self.sources.get("segmentation_k", "default")
            raise SettingsError(f"setting 'segmentation_k' from {origin} is {self.segmentation_k!r}; write a range "
                                "such as '4-9' or a list such as '5,7,9' of numbers of segments, each at least 2")
        return values

    def landing_source_names(self) -> tuple[str, ...] | None:
        """``landing_sources`` as a tuple of names, or None for every source of the catalog."""
        if self.landing_sources is None:
            return None
        names = tuple(n.strip() for n in self.landing_sources.split(",") if n.strip())
        if not names:
            origin = self.sources.get("landing_sources", "default")
            raise SettingsError(f"setting 'landing_sources' from {origin} is {self.landing_sources!r}; list the "
                                "landing sources this lake receives (e.g. 'customers,accounts,transactions'), "
                                "or leave it unset for all of them")
        return names

    def public_view(self) -> dict[str, Any]:
        """All values with secrets masked, for printing."""
        out = {}
        for f in dataclasses.fields(self):
            if f.name == "sources":
                continue
            value = getattr(self, f.name)
            if f.name == "pii_key" and value:
                value = "****"
            out[f.name] = value
        return out


_SECRET_FIELDS = {"pii_key"}
_FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name != "sources"}


def _coerce(name: str, value: Any, origin: str) -> Any:
    """Convert a raw value (string from env/CLI, or YAML scalar) to the field's type."""
    if value is None:
        return None
    ftype = _FIELDS[name].type
    try:
        if name == "spark_conf":
            if isinstance(value, Mapping):
                return {str(k): str(v) for k, v in value.items()}
            text = str(value).strip()
            if text.startswith("{"):
                return {str(k): str(v) for k, v in json.loads(text).items()}
            pairs = [p for p in text.split(",") if p.strip()]
            return dict(p.strip().split("=", 1) for p in pairs)
        if name == "landing_sources" and isinstance(value, (list, tuple)):  # a YAML list
            return ",".join(str(v) for v in value)
        if "int" in str(ftype):
            return int(value)
        if "float" in str(ftype):
            return float(value)
        return str(value)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise SettingsError(f"setting '{name}' from {origin} has an invalid value {value!r}: {exc}") from exc


def _conf_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("FINLAKE_CONF_DIR", "conf"))


def load_settings(
    env: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings: defaults < conf/<env>.yaml < FINLAKE_* variables < ``overrides`` (CLI).

    ``environ`` defaults to ``os.environ``; tests pass their own mapping.
    """
    environ = os.environ if environ is None else environ
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {name: "default" for name in _FIELDS}

    env_name = overrides.get("env") or environ.get("FINLAKE_ENV") or env or DEFAULT_ENV
    conf_file = _conf_dir(environ) / f"{env_name}.yaml"
    if conf_file.is_file():
        loaded = yaml.safe_load(conf_file.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise SettingsError(f"{conf_file} must hold a mapping of setting: value")
        for key, raw in loaded.items():
            if key not in _FIELDS or key == "env":
                raise SettingsError(
                    f"{conf_file}: unknown setting '{key}'; known settings: {', '.join(sorted(_FIELDS))}"
                )
            if key in _SECRET_FIELDS:
                raise SettingsError(
                    f"{conf_file}: '{key}' is a secret and may not live in a conf file; "
                    f"set FINLAKE_{key.upper()} or use '{key}_file'"
                )
            values[key] = _coerce(key, raw, str(conf_file))
            sources[key] = str(conf_file)
    elif env_name != DEFAULT_ENV:  # only the default env may run without a conf file
        raise SettingsError(f"environment '{env_name}' has no settings file {conf_file}; create it or choose another env")

    for key in _FIELDS:
        var = f"FINLAKE_{key.upper()}"
        if var in environ and key != "env":
            values[key] = _coerce(key, environ[var], f"env {var}")
            sources[key] = f"env {var}"
    for key, raw in overrides.items():
        if key not in _FIELDS:
            raise SettingsError(f"unknown setting '{key}'; known settings: {', '.join(sorted(_FIELDS))}")
        if key != "env":
            values[key] = _coerce(key, raw, "cli")
            sources[key] = "cli"
    values["env"] = env_name
    sources["env"] = "cli" if "env" in overrides else ("env FINLAKE_ENV" if "FINLAKE_ENV" in environ else "default")

    if values.get("lake_engine", "auto") not in ENGINES:
        raise SettingsError(
            f"lake_engine '{values['lake_engine']}' (from {sources['lake_engine']}) is not one of {', '.join(ENGINES)}"
        )
    settings = _derive(Settings(**values, sources=sources))
    settings.landing_source_names()
    settings.segmentation_k_values()  # a bad value fails now, not after an hour of pipeline at the train stage
    return settings


def _is_uri(path: str) -> bool:
    return "://" in path


def _derive(s: Settings) -> Settings:
    """Fill the locations not set on their own from ``home``; make local paths absolute."""
    home = s.home if _is_uri(s.home) else str(Path(s.home).expanduser().resolve())
    sources = dict(s.sources)

    def under(name: str, sub: str) -> str:
        value = getattr(s, name)
        if value is None:
            sources[name] = f"derived from home ({sources['home']})"
            return f"{home.rstrip('/')}/{sub}"
        return value if _is_uri(value) else str(Path(value).expanduser().resolve())

    table_root = under("table_root", "tables")
    landing_root = under("landing_root", "landing")
    quality_root = under("quality_root", "quality")
    mlflow_uri = s.mlflow_uri
    if mlflow_uri is None:
        sources["mlflow_uri"] = f"derived from home ({sources['home']})"
        mlflow_uri = f"sqlite:///{home}/mlflow/mlflow.db"
    return dataclasses.replace(
        s,
        home=home,
        table_root=table_root,
        landing_root=landing_root,
        quality_root=quality_root,
        mlflow_uri=mlflow_uri,
        sources=sources,
    )

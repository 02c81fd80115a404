"""The ``finlake`` command line.

Each capability registers its own subcommands: a module listed in ``COMMAND_MODULES`` exposes
``register(subparsers, common)`` and sets ``func`` on its parsers; ``func(args, settings)``
returns the exit code. Global flags (``--env``, ``--home`` ...) are CLI-level settings
overrides and are accepted before or after the subcommand.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from finlake.errors import FinlakeError
from finlake.settings import load_settings

COMMAND_MODULES = [
    "finlake.commands.core",
    "finlake.commands.generate",
    "finlake.commands.run",
    "finlake.commands.ingest",
    "finlake.commands.clean",
    "finlake.commands.quality",
    "finlake.commands.features",
    "finlake.commands.models",
    "finlake.commands.marketing",
    "finlake.commands.maintain",
]

# CLI flag -> settings field. Flags given on the command line win over everything else.
SETTING_FLAGS = {
    "env": "--env",
    "home": "--home",
    "table_root": "--table-root",
    "landing_root": "--landing-root",
    "mlflow_uri": "--mlflow-uri",
    "quality_root": "--quality-root",
    "spark_master": "--master",
    "lake_engine": "--engine",
}


def _common_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("settings (override conf/<env>.yaml and FINLAKE_* variables)")
    for field, flag in SETTING_FLAGS.items():
        group.add_argument(flag, dest=f"setting_{field}", default=argparse.SUPPRESS, metavar=field.upper())
    group.add_argument(
        "--conf",
        dest="setting_spark_conf",
        default=argparse.SUPPRESS,
        metavar="K=V[,K=V]",
        help="extra Spark conf",
    )
    group.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_parser()
    parser = argparse.ArgumentParser(prog="finlake", description=__doc__.splitlines()[0], parents=[common])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers, common)
    return parser


def settings_from_args(args: argparse.Namespace):
    overrides = {k.removeprefix("setting_"): v for k, v in vars(args).items() if k.startswith("setting_")}
    return load_settings(overrides=overrides)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)
    try:
        settings = settings_from_args(args)
        return int(args.func(args, settings) or 0)
    except FinlakeError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""CLI subcommands; each module registers its own (see finlake.cli)."""

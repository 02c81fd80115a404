"""Synthetic retail-bank source data with planted ground truth and injected defects (issue 3).

``generate(spark, landing, scale=..., seed=...)`` writes the landing files described in
docs/landing.md; the CLI (``finlake generate``) and ``jobs/generate.py`` are thin wrappers.
"""

from finlake.generator.errors import GeneratorError
from finlake.generator.pipeline import GenerationResult, generate

__all__ = ["GenerationResult", "GeneratorError", "generate"]

"""Models: segmentation, churn and fraud as Spark MLlib pipelines, tracked in MLflow.

Layering (see docs/models.md):
- ``segmentation``, ``churn``, ``fraud``: pure training functions. Each takes any DataFrame and
  the names of its feature (and label) columns and returns a fitted ``PipelineModel`` with its
  holdout evaluation. No MLflow, no lake, no I/O: a bank can point them at its own tables.
- ``evaluation`` and ``plots``: metrics and PNG figures over (score, label) arrays.
- ``registry``: everything MLflow (experiments, runs, lineage tags, registration, aliases, the
  champion/challenger decision). Only jobs and this module call MLflow.
- ``scoring``: applies a loaded model to feature rows and shapes the ``scores.*`` rows.
"""

"""The feature layer: point-in-time customer and transaction features, labels and tags.

``build_features`` is the job's entry point (``finlake features``, jobs/build_features.py, the
``features`` stage of ``finlake run``); the transforms live in ``customer``, ``fraud``,
``labels`` and ``tags``. Definitions and windows: docs/features.md.
"""

from finlake.features.build import FeatureReport, build_features

__all__ = ["FeatureReport", "build_features"]

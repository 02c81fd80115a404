"""Precision marketing: audiences, channels and contact caps, exports, campaign evaluation.

See docs/marketing.md. Selection and evaluation are pure DataFrame transforms; ``build`` reads
the lake, computes every audience of the period, and only then writes.
"""

from finlake.marketing.build import AudienceResult, build_audiences

__all__ = ["AudienceResult", "build_audiences"]

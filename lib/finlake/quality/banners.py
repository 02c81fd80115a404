"""HTML that finlake adds to GX Data Docs: the gate's verdict and the waivers.

GX pages show expectations and observed values but not what finlake decides from them (rule
name, severity, owner, waiver, whether the write went ahead); stewards read that here.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from finlake.quality.gate import GateReport
    from finlake.quality.suites import Suite
    from finlake.quality.waivers import Waiver

_BOX = ('<div id="finlake-gate" class="container-fluid" style="padding:12px 24px;border-bottom:3px solid {color};'
        'background:#f8f9fa">{body}</div>')


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="table table-sm table-bordered" style="background:white"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def gate_banner(report: "GateReport", suite: "Suite") -> str:
    if report.passed:
        verdict, color = "PASSED: the write went ahead", "#28a745"
    else:
        verdict, color = f"FAILED: {len(report.blocking_failures)} blocking failure(s), the table was not written", "#dc3545"
    rows = []
    for r in sorted(report.results, key=lambda r: (not r.blocks, r.success, r.expectation)):
        exp = suite.get(r.expectation)
        outcome = "passed" if r.success else ("FAILED (blocking)" if r.blocks else ("failed (waived)" if r.waived else "failed (warning)"))
        rows.append([f"<code>{escape(r.expectation)}</code>", escape(r.severity), escape(exp.owner), escape(outcome),
                     escape(r.observed or ""), escape(r.waiver_reason or ""), escape(exp.rationale)])
    body = (f"<h4>finlake gate: {escape(report.table)} &middot; run {escape(report.run_id)} &middot; {escape(verdict)}</h4>"
            f"<p>Suite file: <code>{escape(str(suite.path))}</code></p>"
            + _table(["rule", "severity", "owner", "result", "observed", "waiver", "rationale"], rows))
    return _BOX.format(color=color, body=body)


def waivers_banner(waivers: list["Waiver"], today: dt.date) -> str:
    if not waivers:
        body = "<p><b>finlake waivers:</b> none (expectations/waivers.yaml)</p>"
    else:
        rows = [[escape(w.table), f"<code>{escape(w.expectation)}</code>", escape(w.until.isoformat()), escape(w.who),
                 escape(w.reason), "active" if w.active(today) else "expired"] for w in waivers]
        body = "<h5>finlake waivers (expectations/waivers.yaml)</h5>" + _table(
            ["table", "expectation", "until", "who", "reason", "state"], rows)
    return _BOX.format(color="#6c757d", body=body)

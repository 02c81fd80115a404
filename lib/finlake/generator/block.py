"""One block of customers, generated end to end: rows of every source and the planted truth.

A block depends only on the plan and its id (each random decision family has its own
generator seeded from ``(seed, stream, block)``), which is what makes the landing files
identical whatever the Spark partitioning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from finlake.generator import churn as churn_model
from finlake.generator import plan as plans
from finlake.generator import reference as ref
from finlake.generator.accounts import account_rows, balance_rows, close_and_price, draw_holdings, month_end_balances
from finlake.generator.customers import consent_rows, customer_rows, make_consent, make_customers
from finlake.generator.defects import ENVELOPE_COLUMNS, render
from finlake.generator.engagement import app_event_rows, app_sessions, campaign_contacts, complaint_rows
from finlake.generator.formats import SOURCES, TextRows, concat_rows
from finlake.generator.fraud import plant_fraud
from finlake.generator.plan import Plan, rng_for
from finlake.generator.transactions import finish, ledger_postings, legit_transactions

DEFECT_SOURCE = "_defects"  # envelope rows carrying defect records instead of file lines


@dataclass(frozen=True)
class BlockOutput:
    rows: dict[str, TextRows]  # landing source -> text rows with routing columns
    truth: dict[str, pd.DataFrame | pa.Table]  # _truth table -> rows


def generate_block(plan: Plan, block: int) -> BlockOutput:
    """Every landing row and truth row of the customers of one block."""
    stream = lambda s: rng_for(plan.seed, s, block)  # noqa: E731
    rng_cust, rng_acc, rng_eng = stream(plans.STREAM_CUSTOMERS), stream(plans.STREAM_ACCOUNTS), stream(plans.STREAM_ENGAGEMENT)
    rng_txn, rng_fraud = stream(plans.STREAM_TXNS), stream(plans.STREAM_FRAUD)

    c = make_customers(plan, block, rng_cust)
    consent = make_consent(c, plan, rng_cust)
    contacts, contact_truth, conversions = campaign_contacts(c, consent, plan, rng_eng)
    a = close_and_price(concat_rows([draw_holdings(c, plan, rng_acc), conversions]), c, plan, rng_acc)
    legit = legit_transactions(c, a, plan, rng_txn)
    fraud, takeover_events, incidents = plant_fraud(c, a, legit, plan, rng_fraud)
    balances = month_end_balances(a, c, plan, stream(plans.STREAM_BALANCES))
    ledger = ledger_postings(concat_rows([legit, fraud]), a, c, balances, plan)
    txns, fraud_truth, reports, postings = finish(concat_rows([legit, fraud, ledger]), c, a, plan, rng_fraud)
    events = app_event_rows(concat_rows([app_sessions(c, plan, rng_eng), takeover_events]), c, plan)

    rows = {
        **customer_rows(c, plan, rng_cust),
        **consent_rows(c, consent, plan, rng_cust),
        "accounts": account_rows(a, c, plan),
        "balances": balance_rows(balances, a, plan),
        "transactions": txns,
        "fraud_reports": reports,
        "app_events": events,
        "complaints": complaint_rows(c, plan, rng_eng),
        "contacts": contacts,
    }
    truth = {
        "personas": pd.DataFrame({"customer_id": c.customer_id, "persona": np.array(ref.PERSONA_NAMES, dtype=object)[c.persona]}),
        "churn": pd.DataFrame({
            "customer_id": c.customer_id,
            "decline_start": np.where(c.onset < plan.end64, c.onset, np.datetime64("NaT")).astype("datetime64[D]"),
            "churn_date": np.where(c.churned(plan), c.churn, np.datetime64("NaT")).astype("datetime64[D]"),
        }),
        "churn_monthly": churn_monthly(c, plan),
        "fraud": fraud_truth,
        "postings": postings,
        "fraud_incidents": incidents,
        "contacts": contact_truth,
    }
    return BlockOutput(rows=rows, truth=truth)


def churn_monthly(c, plan: Plan) -> pd.DataFrame:
    """For every customer active at each month end: true P(churn within 90 days) and the outcome."""
    ends = plan.month_ends()
    active = (c.open_date[:, None] <= ends[None, :]) & (c.churn[:, None] > ends[None, :])
    i, k = np.nonzero(active)
    me = ends[k]
    p = churn_model.p_churn_within(me, c.onset[i], c.hazard[i], c.earliest_onset[i])
    horizon = me + churn_model.HORIZON_DAYS
    churned = c.churn[i] <= horizon
    known = churned | (horizon < plan.end64)  # the outcome is observable inside the period
    return pd.DataFrame({
        "customer_id": c.customer_id[i], "month_end": me, "p_churn_90d": p,
        "churned_90d": pd.array(np.where(known, churned, None), dtype="boolean"),
    })


def to_envelope(plan: Plan, block: int, output: BlockOutput) -> pa.Table:
    """Render every source of a block as delivered lines (with defects) plus the defect records."""
    rng = rng_for(plan.seed, plans.STREAM_DEFECTS, block)
    parts, records = [], []
    for name in sorted(output.rows):
        envelope, recs = render(SOURCES[name], output.rows[name], plan, rng)
        parts.append(envelope)
        records += recs
    if records:
        parts.append(pa.RecordBatch.from_arrays([
            pa.array([DEFECT_SOURCE] * len(records), pa.string()),
            pa.array([r["batch"] for r in records], pa.string()),
            pa.array([f"{r['kind']}|{r['source']}|{r['key']}" for r in records], pa.string()),
            pa.array([json.dumps(r, ensure_ascii=False, sort_keys=True).encode("utf-8") for r in records], pa.binary()),
        ], names=ENVELOPE_COLUMNS))
    return pa.Table.from_batches(parts)

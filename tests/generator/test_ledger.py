"""Ledger accounts add up: month-end balances move only by postings (docs/landing.md).

Read from the landing files and the ``_truth/postings`` table (every posting before defects),
not from the generator's arrays.
"""

from __future__ import annotations

import pandas as pd

LEDGER = {"savings", "current", "credit_card", "personal_loan", "mortgage"}


def _fen(text: pd.Series) -> pd.Series:
    return text.map(lambda v: int(v.replace(".", "")))  # '-1234.50' -> -123450


def test_every_ledger_account_month_adds_up_to_the_fen_and_valuations_get_no_posting(landing, read_csv):
    accounts = read_csv(landing, "accounts").drop_duplicates("account_id", keep="last")
    product = dict(zip(accounts["account_id"], accounts["product_type"]))
    balances = read_csv(landing, "balances")
    balances = balances.assign(month_end=pd.to_datetime(balances["month_end"]), fen=_fen(balances["balance"]),
                               product=balances["account_id"].map(product)).sort_values(["account_id", "month_end"])
    previous = balances.groupby("account_id")["month_end"].shift()
    consecutive = previous == balances["month_end"] - pd.offsets.MonthEnd(1)
    checked = balances[consecutive & balances["product"].isin(LEDGER)].assign(
        previous_fen=balances.groupby("account_id")["fen"].shift())

    postings = landing.truth("postings")
    postings["month_end"] = pd.to_datetime(postings["business_date"]) + pd.offsets.MonthEnd(0)
    moved = postings.groupby(["account_id", "month_end"])["signed_amount_fen"].sum().rename("moved").reset_index()
    joined = checked.merge(moved, on=["account_id", "month_end"], how="left").fillna({"moved": 0})
    assert len(joined) > 10_000
    assert (joined["previous_fen"] + joined["moved"] == joined["fen"]).all()

    # The system's postings fall on checked month ends only: never in an account's first month
    # end, nor on a valuation account.
    txns = read_csv(landing, "transactions")
    system = txns[txns["channel"] == "system"]
    assert len(system) > 10_000
    assert (system[["card_id", "merchant_id", "city", "device_id", "counterparty_bank"]] == "").all().all()
    # Lines a planted defect made unplaceable (malformed date, unknown or empty account) left out.
    day = pd.to_datetime(system["ts"], format="%Y-%m-%d %H:%M:%S", errors="coerce").dt.normalize()
    placed = day.notna() & system["account_id"].isin(product)
    on = set(zip(system["account_id"][placed], day[placed]))
    assert on <= set(zip(checked["account_id"], checked["month_end"]))

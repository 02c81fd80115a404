"""Accounts of one block (holdings by persona, openings, closures, conversions) and balances."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from finlake.generator import churn as churn_model
from finlake.generator import reference as ref
from finlake.generator.customers import NEVER, Customers, dates_between
from finlake.generator.formats import TextRows, arrow_date, arrow_minor, as_arrow, fmt_date, fmt_ids, fmt_minor, routed
from finlake.generator.plan import Plan

CLOSURES_PER_YEAR = 0.04  # products closed for ordinary reasons
OPENED_DURING_PERIOD = 0.15  # share of holdings opened inside the period
CLOSE_IN_DECLINE = 0.7  # chance a declining customer closes a card or investment before leaving
LIMIT_CHANGES = 0.10
SECOND_SAVINGS = 0.2
# AUM share held in each product type (deposits and investments), PRODUCT_TYPES order.
AUM_SHARE = np.array([0.35, 0.15, 0.0, 0.0, 0.0, 0.35, 0.15, 0.10])
PT = {name: i for i, name in enumerate(ref.PRODUCT_TYPES)}
# Products whose balance moves only by postings (wealth, fund and insurance balances are valuations).
LEDGER_PRODUCTS = ("savings", "current", "credit_card", "personal_loan", "mortgage")


@dataclass(frozen=True)
class Accounts:
    """Arrays over the accounts of one block, sorted by customer then opening."""

    cust: np.ndarray  # index into Customers
    product: np.ndarray  # index into PRODUCT_TYPES
    open_date: np.ndarray
    close_date: np.ndarray  # NEVER while open
    credit_limit: np.ndarray  # CNY, credit cards only
    limit_date: np.ndarray
    new_limit: np.ndarray
    principal: np.ndarray  # CNY, loans only
    account_id: np.ndarray
    card_id: np.ndarray  # "" for accounts without a card

    def __len__(self) -> int:
        return len(self.cust)

    def first_of(self, product: str, n_customers: int) -> np.ndarray:
        """Per customer, the index of their first account of a product type (-1 if none)."""
        out = np.full(n_customers, -1)
        rows = np.flatnonzero(self.product == PT[product])[::-1]  # reversed: first one wins
        out[self.cust[rows]] = rows
        return out


def draw_holdings(c: Customers, plan: Plan, rng: np.random.Generator) -> pd.DataFrame:
    """Products each customer holds (savings for all), with opening and closing dates."""
    n = len(c)
    holds = rng.random((n, len(ref.OPTIONAL_PRODUCTS))) < np.array([p.holdings for p in ref.PERSONAS])[c.persona]
    cust_opt, which = np.nonzero(holds)
    second = np.flatnonzero(rng.random(n) < SECOND_SAVINGS)
    cust = np.concatenate([np.arange(n), second, cust_opt])
    product = np.concatenate([
        np.full(n, PT["savings"]), np.full(len(second), PT["savings"]),
        np.array([PT[ref.OPTIONAL_PRODUCTS[w]] for w in which], dtype=int),
    ])
    m = len(cust)
    active_to = c.active_to(plan)[cust]
    during = rng.random(m) < OPENED_DURING_PERIOD
    lo_before = c.open_date[cust]
    before = dates_between(lo_before, np.maximum(plan.start64, lo_before + 1), rng)
    lo_during = np.maximum(c.open_date[cust], plan.start64)
    in_period = dates_between(lo_during, active_to, rng)
    opened = np.where(during | (c.open_date[cust] >= plan.start64), in_period, before)
    opened[:n] = c.open_date  # the first savings account opens with the customer
    keep = opened < active_to
    return pd.DataFrame({"cust": cust[keep], "product": product[keep], "open_date": opened[keep]})


def close_and_price(holdings: pd.DataFrame, c: Customers, plan: Plan, rng: np.random.Generator) -> Accounts:
    """Closing dates (ordinary, in decline, at churn), credit limits, loan principals, ids."""
    h = holdings.astype({"cust": int, "product": int}).sort_values(["cust", "open_date", "product"], kind="stable", ignore_index=True)
    cust = h["cust"].to_numpy()
    product = h["product"].to_numpy()
    opened = h["open_date"].to_numpy().astype("datetime64[D]")
    m = len(h)
    years = plan.months / 12.0
    active_to = c.active_to(plan)[cust]
    lo = np.maximum(opened, plan.start64) + 1
    ordinary = (rng.random(m) < CLOSURES_PER_YEAR * years) & (product != PT["savings"]) & (active_to > lo)
    close = np.where(ordinary, dates_between(lo, active_to, rng), NEVER)
    # A customer in decline closes cards and investments before leaving; at churn everything closes.
    onset = c.onset[cust]
    sheddable = np.isin(product, [PT["credit_card"], PT["wealth"], PT["fund"], PT["insurance"]])
    lo_decline = np.maximum(onset, lo)
    shed = sheddable & (rng.random(m) < CLOSE_IN_DECLINE) & (lo_decline < active_to)
    close = np.where(shed, np.minimum(close, dates_between(lo_decline, active_to, rng)), close)
    churn = c.churn[cust]
    close = np.where(churn < plan.end64, np.minimum(close, churn), close)
    close = np.where(close <= opened, NEVER, close)  # never close before opening

    income = ref.INCOME_MONTHLY[c.income[cust]]
    is_card = product == PT["credit_card"]
    limit = np.where(is_card, np.round(income * rng.uniform(1.0, 4.0, m) / 1000) * 1000 + 5000, 0.0)
    limit_date = np.where(is_card & (rng.random(m) < LIMIT_CHANGES * years), dates_between(lo, np.minimum(close, plan.end64), rng), NEVER)
    limit_date = np.where(limit_date < np.minimum(close, plan.end64), limit_date, NEVER)
    new_limit = np.round(limit * 1.5 / 1000) * 1000
    principal = np.where(product == PT["mortgage"], income * 12 * rng.uniform(3, 8, m),
                         np.where(product == PT["personal_loan"], income * rng.uniform(2, 10, m), 0.0))

    seq = np.arange(m) - np.searchsorted(cust, cust)  # 0-based position within the customer
    digits = c.ordinal[cust] * 100 + seq + 1
    account_id = fmt_ids("A", digits, 10)
    has_card = (product == PT["savings"]) | is_card
    card_id = np.where(has_card, fmt_ids("K", digits, 10), "").astype(object)
    return Accounts(cust, product, opened, close, limit, limit_date, new_limit, principal, account_id, card_id)


def account_rows(a: Accounts, c: Customers, plan: Plan) -> TextRows:
    """Account extract rows: full extract on the start date, then openings, limit changes, closings."""
    idx = np.arange(len(a))
    first = np.maximum(a.open_date, plan.start64)
    all_idx = np.concatenate([idx, idx, idx])
    all_dates = np.concatenate([first, a.limit_date, a.close_date])
    keep = all_dates < plan.end64
    pairs = np.unique(np.stack([all_idx[keep], all_dates[keep].astype(np.int64)]), axis=1)
    i, on = pairs[0], pairs[1].astype("datetime64[D]")
    closed = a.close_date[i] <= on
    limit = np.where(a.limit_date[i] <= on, a.new_limit[i], a.credit_limit[i])
    is_card = a.product[i] == PT["credit_card"]
    frame = {
        "account_id": a.account_id[i],
        "customer_id": c.customer_id[a.cust[i]],
        "product_type": np.array(ref.PRODUCT_TYPES, dtype=object)[a.product[i]],
        "open_date": fmt_date(a.open_date[i]),
        "close_date": np.where(closed, fmt_date(np.where(closed, a.close_date[i], on)), ""),
        "credit_limit": np.where(is_card, fmt_minor((limit * 100).astype(np.int64)), ""),
        "status": np.where(closed, "closed", "active").astype(object),
    }
    return routed(frame, on, a.account_id[i], a.account_id[i])


@dataclass(frozen=True)
class MonthEndBalances:
    """Month-end balances of the accounts open at each month end of the period."""

    account: np.ndarray  # index into Accounts; sorted by account, then month
    month: np.ndarray  # index into plan.month_ends()
    fen: np.ndarray  # balance in fen (negative for what the customer owes)


def month_end_balances(a: Accounts, c: Customers, plan: Plan, rng: np.random.Generator) -> MonthEndBalances:
    """Month-end balances of every open account; deposits drain away as a customer declines.

    Deposits and investments follow the customer's modelled assets, cards a share of the limit,
    loans the amortised principal. The postings that move a ledger account from one month end to
    the next are made to match (``transactions.ledger_postings``).
    """
    ends = plan.month_ends()
    open_at = (a.open_date[:, None] <= ends[None, :]) & (a.close_date[:, None] > ends[None, :])
    i, k = np.nonzero(open_at)
    me = ends[k]
    cust = a.cust[i]
    progress = churn_model.decline_progress(ends, c.onset, c.churn)[cust, k]
    n_savings = np.bincount(a.cust[a.product == PT["savings"]], minlength=len(c))[cust]
    product = a.product[i]
    share = AUM_SHARE[product] / np.where(product == PT["savings"], n_savings, 1)
    noise = np.exp(rng.normal(0, 0.15, len(i)))
    assets = c.aum[cust] * share * noise * (1.0 - 0.9 * progress)
    limit = np.where(a.limit_date[i] <= me, a.new_limit[i], a.credit_limit[i])
    months_open = ((me - a.open_date[i]).astype(int) / 30.4).clip(0, None)
    term = np.where(product == PT["mortgage"], 240.0, 36.0)
    owed = a.principal[i] * np.clip(1 - months_open / term, 0.05, 1)
    balance = np.select(
        [product == PT["credit_card"], np.isin(product, [PT["personal_loan"], PT["mortgage"]])],
        [-limit * rng.uniform(0.0, 0.6, len(i)), -owed],
        assets,
    )
    return MonthEndBalances(i, k, np.round(balance * 100).astype(np.int64))


def balance_rows(b: MonthEndBalances, a: Accounts, plan: Plan) -> TextRows:
    """The month-end balance extract rows."""
    me = plan.month_ends()[b.month]
    account = as_arrow(a.account_id[b.account])
    frame = {"account_id": account, "month_end": arrow_date(me), "balance": arrow_minor(b.fen)}
    return routed(frame, me, account, account)

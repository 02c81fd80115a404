"""Transactions of one block: card spend, cash, transfers, salaries, churn outflows, and the core
system's month-end ledger postings that make the balances add up.

Counts come from a Poisson intensity per customer and day that carries the weekly cycle, the
payday spike, the customer's persona and activity, and the decline before churn; the hour of
day follows the persona's daily cycle. Amounts are log-normal per persona and merchant category
with round-number spikes. Everything is vectorised over the block: no per-row Python.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from finlake.generator import churn as churn_model
from finlake.generator import reference as ref
from finlake.generator.accounts import LEDGER_PRODUCTS, PT, Accounts, MonthEndBalances
from finlake.generator.customers import Customers
from finlake.generator.formats import TextRows, arrow_ids, arrow_labels, arrow_minor, arrow_ts, arrow_yn, as_arrow, fmt_ids, routed
from finlake.generator.plan import Plan

CH = {name: i for i, name in enumerate(ref.POSTING_CHANNELS)}
CUR = {name: i for i, name in enumerate(ref.CURRENCIES)}
# Columns of the internal transaction frame and their defaults.
COLUMNS = {
    "cust": -1, "account": -1, "card": False, "ts": np.datetime64(0, "s"), "minor": 0, "currency": 0,
    "credit": False, "channel": 0, "merchant_id": "", "mcc": "", "city": "", "device_id": "", "bank": "",
    "international": False, "incident": "", "pattern": "", "p_pattern": 0.0,
}
ONLINE_CARD_SHARE = 0.55  # online postings that are card payments (the rest are transfers)
CREDIT_CARD_SHARE = 0.55  # card spend paid with the credit card when the customer has one
TRANSFER_CREDIT_SHARE = 0.35
INTERBANK_SHARE = 0.45
REGULAR_MERCHANT_SHARE = 0.8  # card spend at the customer's regular merchant of a (city, category)
OTHER_FRAUD_BASE = 3e-5  # card postings that are fraud without a planted pattern
PAYROLL_MOVES_AT = 0.3  # decline progress at which the salary stops arriving
MAX_CNY = 5_000_000.0
MAX_MINOR = 99_999_999_99  # legit amounts stay below 100,000,000 units of any currency


def txn_frame(n: int, **columns) -> pd.DataFrame:
    """An internal transaction frame of n rows: given columns, defaults for the rest."""
    data = {}
    for name, default in COLUMNS.items():
        value = columns.pop(name, None)
        if value is None:
            value = np.full(n, default, dtype=object if isinstance(default, str) else None)
        data[name] = value
    if columns:
        raise TypeError(f"unknown transaction columns: {sorted(columns)}")
    return pd.DataFrame(data)


def home_city(c: Customers, cust: np.ndarray, day: np.ndarray) -> np.ndarray:
    """City index where the customer lives on a day (after a move, the new city)."""
    return np.where(c.move_date[cust] <= day, c.new_city[cust], c.city[cust])


def pick_by_rows(cum: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Inverse-CDF draw per row of a (rows, k) cumulative probability matrix."""
    return np.minimum((rng.random(len(cum))[:, None] > cum).sum(axis=1), cum.shape[1] - 1)


def hours_of(c: Customers, cust: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Seconds into the day following each customer's daily cycle."""
    profiles = list(ref.HOUR_PROFILES)
    cums = np.array([np.cumsum(ref.HOUR_PROFILES[p]) / ref.HOUR_PROFILES[p].sum() for p in profiles])
    profile = np.array([profiles.index(p.hours) for p in ref.PERSONAS])[c.persona[cust]]
    hour = pick_by_rows(cums[profile], rng)
    return hour * 3600 + rng.integers(0, 3600, len(cust))


def day_intensity(c: Customers, plan: Plan, per_day: np.ndarray, weekly: bool = True) -> np.ndarray:
    """(customers, days) expected events: base rate x weekly cycle x payday x activity x decline."""
    days = plan.dates()
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    dom = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(int) + 1
    payday = np.select([np.isin(dom, [15, 16]), dom == 17], [1.5, 1.25], 1.0)
    profiles = list(ref.WEEKLY_PROFILES)
    weekly_table = np.array([ref.WEEKLY_PROFILES[p] for p in profiles])
    persona_week = np.array([profiles.index(p.weekly) for p in ref.PERSONAS])[c.persona]
    cycle = weekly_table[persona_week][:, weekday] * payday[None, :] if weekly else np.ones((len(c), len(days)))
    active = (days[None, :] >= c.active_from(plan)[:, None]) & (days[None, :] < c.active_to(plan)[:, None])
    decline = churn_model.activity_factor(churn_model.decline_progress(days, c.onset, c.churn))
    return (per_day * c.activity)[:, None] * cycle * active * decline


def legit_transactions(c: Customers, a: Accounts, plan: Plan, rng: np.random.Generator) -> pd.DataFrame:
    """Every non-fraud posting of the block, in the internal frame."""
    return pd.concat(
        [_everyday(c, a, plan, rng), _salaries(c, a, plan, rng), _churn_outflows(c, a, plan, rng)],
        ignore_index=True,
    )


def _everyday(c: Customers, a: Accounts, plan: Plan, rng: np.random.Generator) -> pd.DataFrame:
    days = plan.dates()
    n_days = len(days)
    per_day = np.array([p.txns_per_month for p in ref.PERSONAS])[c.persona] * 12 / 365
    counts = rng.poisson(day_intensity(c, plan, per_day))
    cells = np.repeat(np.arange(counts.size), counts.ravel())
    cust, day_i = cells // n_days, cells % n_days
    day = days[day_i]
    n = len(cust)
    persona = c.persona[cust]

    chan_cum = np.cumsum(np.array([p.channels for p in ref.PERSONAS]), axis=1)
    chan_cum = chan_cum / chan_cum[:, -1:]
    channel = pick_by_rows(chan_cum[persona], rng)
    spend = np.isin(channel, [CH["pos"], CH["third_party_pay"]]) | ((channel == CH["online"]) & (rng.random(n) < ONLINE_CARD_SHARE))
    atm = channel == CH["atm"]
    transfer = ~spend & ~atm

    # Accounts: the credit card for part of the spend, the savings debit card otherwise.
    savings = a.first_of("savings", len(c))[cust]
    cc = a.first_of("credit_card", len(c))[cust]
    cc_open = (cc >= 0) & (a.open_date[np.maximum(cc, 0)] <= day) & (a.close_date[np.maximum(cc, 0)] > day)
    use_cc = spend & cc_open & (rng.random(n) < CREDIT_CARD_SHARE)
    current = a.first_of("current", len(c))[cust]
    cur_open = (current >= 0) & (a.open_date[np.maximum(current, 0)] <= day) & (a.close_date[np.maximum(current, 0)] > day)
    use_current = transfer & cur_open & (rng.random(n) < 0.6)
    account = np.select([use_cc, use_current], [cc, current], savings)

    # Amounts in CNY.
    mcc_cum = np.cumsum(np.array([p.mcc for p in ref.PERSONAS], dtype=float), axis=1)
    mcc_cum = mcc_cum / mcc_cum[:, -1:]
    mcc_i = pick_by_rows(mcc_cum[persona], rng)
    mu = np.array([p.amount_log_mu for p in ref.PERSONAS])[persona]
    spend_cny = np.exp(rng.normal(mu + ref.MCC_AMOUNT_SHIFT[mcc_i], 0.8))
    spiky = rng.random(n) < 0.15
    spend_cny = np.where(spiky, np.maximum(np.round(spend_cny / np.where(spend_cny < 300, 10, 100)) * np.where(spend_cny < 300, 10, 100), 10), spend_cny)
    atm_cny = 100.0 * rng.choice([1, 2, 3, 5, 10, 20, 30, 50], n, p=[.15, .2, .1, .2, .2, .08, .04, .03])
    income = ref.INCOME_MONTHLY[c.income[cust]]
    transfer_cny = np.exp(rng.normal(np.log(income * 0.25), 1.0))
    round_unit = np.where(transfer_cny < 5000, 100, 1000)
    transfer_cny = np.where(rng.random(n) < 0.5, np.maximum(np.round(transfer_cny / round_unit), 1) * round_unit, transfer_cny)
    cny = np.select([spend, atm], [spend_cny, atm_cny], transfer_cny)
    cny = np.clip(cny, 0.5, MAX_CNY)

    # Where: mostly the home city; card spend sometimes while travelling or abroad.
    home = home_city(c, cust, day)
    travelling = rng.random(n) < 0.08
    city_i = np.where(travelling & ~transfer, rng.choice(len(ref.CITIES), n, p=ref.CITY_WEIGHTS), home)
    abroad = spend & (rng.random(n) < np.array([p.international for p in ref.PERSONAS])[persona])
    foreign_i = rng.integers(0, len(ref.FOREIGN_CITIES), n)
    city = np.where(abroad, np.array([f[0] for f in ref.FOREIGN_CITIES], dtype=object)[foreign_i], ref.CITY_PINYIN[city_i])
    currency = np.where(abroad, np.array([CUR[f[1]] for f in ref.FOREIGN_CITIES])[foreign_i], CUR["CNY"])
    minor = to_minor(cny, currency, day, plan)

    pool_city = np.where(abroad, 50 + foreign_i, city_i)
    merchant = merchant_ids(pool_city, mcc_i, plan.merchants_per_pool, c.ordinal[cust], rng)
    device = pick_device(c, cust, rng)
    online = np.isin(channel, [CH["mobile_app"], CH["online"], CH["third_party_pay"]])
    interbank = transfer & (rng.random(n) < INTERBANK_SHARE)
    return txn_frame(
        n, cust=cust, account=account, card=spend | atm,
        ts=day.astype("datetime64[s]") + hours_of(c, cust, rng).astype("timedelta64[s]"),
        minor=minor, currency=currency,
        credit=np.where(transfer, rng.random(n) < TRANSFER_CREDIT_SHARE, spend & (rng.random(n) < 0.01)),
        channel=channel,
        merchant_id=np.where(spend, merchant, ""),
        mcc=np.where(spend, np.array(ref.SPEND_MCC, dtype=object)[mcc_i], np.where(atm, ref.ATM_MCC, "")),
        city=city,
        device_id=np.where(online, device, ""),
        bank=np.where(interbank, random_banks(n, rng), ""),
        international=abroad,
    )


def _salaries(c: Customers, a: Accounts, plan: Plan, rng: np.random.Generator) -> pd.DataFrame:
    """Monthly salary credits on payday (the 15th, or the Friday before a weekend).

    A declining customer moves their payroll to another bank early in the decline.
    """
    months = np.arange(plan.start64.astype("datetime64[M]"), plan.end64.astype("datetime64[M]"))
    payday = months.astype("datetime64[D]") + 14
    weekday = (payday.astype(np.int64) + 3) % 7
    payday = payday - np.select([weekday == 5, weekday == 6], [1, 2], 0).astype("timedelta64[D]")
    salaried = np.array([p.salaried for p in ref.PERSONAS])[c.persona]
    payroll_moved = churn_model.decline_progress(payday, c.onset, c.churn) > PAYROLL_MOVES_AT
    cust, k = np.nonzero(salaried[:, None] & ~payroll_moved & (payday[None, :] >= c.active_from(plan)[:, None]) & (payday[None, :] < c.active_to(plan)[:, None]) & (payday[None, :] >= plan.start64))
    n = len(cust)
    day = payday[k]
    employer_bank = np.where(rng.random(len(c)) < 0.6, random_banks(len(c), rng), "")
    cny = ref.INCOME_MONTHLY[c.income[cust]] * np.exp(rng.normal(0, 0.15, len(c)))[cust] * np.exp(rng.normal(0, 0.03, n))
    return txn_frame(
        n, cust=cust, account=a.first_of("savings", len(c))[cust], card=np.zeros(n, bool),
        ts=day.astype("datetime64[s]") + rng.integers(9 * 3600, 11 * 3600, n).astype("timedelta64[s]"),
        minor=np.round(cny * 100).astype(np.int64), currency=np.zeros(n, int), credit=np.ones(n, bool),
        channel=np.full(n, CH["online"]), city=ref.CITY_PINYIN[home_city(c, cust, day)],
        bank=employer_bank[cust], international=np.zeros(n, bool),
    )


def _churn_outflows(c: Customers, a: Accounts, plan: Plan, rng: np.random.Generator) -> pd.DataFrame:
    """In a decline, savings move to other banks in a few large transfers."""
    lo = np.maximum(c.onset, c.active_from(plan))
    hi = c.active_to(plan)
    declining = np.flatnonzero(lo < hi)
    k = 2 + rng.poisson(1.5, len(declining))
    cust = np.repeat(declining, k)
    n = len(cust)
    span = (hi - lo).astype(int)[cust]
    day = lo[cust] + (rng.random(n) * span).astype(int).astype("timedelta64[D]")
    per_transfer = c.aum[cust] * 0.75 / np.repeat(k, k) * rng.uniform(0.5, 1.5, n)
    cny = np.clip(np.round(per_transfer, -2), 100, MAX_CNY)
    channel = np.where(rng.random(n) < 0.7, CH["mobile_app"], CH["online"])
    return txn_frame(
        n, cust=cust, account=a.first_of("savings", len(c))[cust], card=np.zeros(n, bool),
        ts=day.astype("datetime64[s]") + hours_of(c, cust, rng).astype("timedelta64[s]"),
        minor=np.round(cny * 100).astype(np.int64), currency=np.zeros(n, int), credit=np.zeros(n, bool),
        channel=channel, city=ref.CITY_PINYIN[home_city(c, cust, day)],
        device_id=pick_device(c, cust, rng), bank=random_banks(n, rng), international=np.zeros(n, bool),
    )


def ledger_postings(postings: pd.DataFrame, a: Accounts, c: Customers, balances: MonthEndBalances,
                    plan: Plan) -> pd.DataFrame:
    """The core system's month-end posting of each ledger account: what makes its balances add up.

    A real ledger moves a balance only by postings; the customer-initiated ones above do not
    cover interest, card repayments, loan instalments and transfers between the customer's own
    products. So for every ledger account (``LEDGER_PRODUCTS``) open at two consecutive month ends,
    one posting on the later month end (channel ``system``, 23:55; no card, merchant, city, device
    or counterparty: it says nothing about where the customer is) carries the rest: balance -
    previous balance - the month's postings, in fen exactly as the cleaned layer converts them.
    Cleaned data then passes the balance-continuity check except where a posting was lost to a
    defect (tests/cleaned/test_cleaned_end_to_end.py). Wealth, fund and insurance balances are
    valuations and get no such posting. An amount above a posting's limit is split.
    """
    n_months = len(plan.month_ends())
    ledger = np.isin(a.product, [PT[p] for p in LEDGER_PRODUCTS])[balances.account]
    account, month, fen = balances.account[ledger], balances.month[ledger], balances.fen[ledger]
    code = account.astype(np.int64) * n_months + month  # sorted: balances are by account, then month
    prev = np.searchsorted(code, code - 1)
    # month > 0: code - 1 of an account's first month is the previous account's last month.
    has_prev = (month > 0) & (prev < len(code)) & (code[np.minimum(prev, len(code) - 1)] == code - 1)

    p = postings[postings["ts"] < np.datetime64(plan.end, "s")]
    day = p["ts"].to_numpy().astype("datetime64[D]")
    p_month = (day.astype("datetime64[M]") - plan.start64.astype("datetime64[M]")).astype(np.int64)
    p_code = p["account"].to_numpy().astype(np.int64) * n_months + p_month
    signed = signed_fen(p, day, plan)
    moved = np.zeros(len(code), np.int64)
    at = np.searchsorted(code, p_code)
    found = (at < len(code)) & (code[np.minimum(at, len(code) - 1)] == p_code)
    np.add.at(moved, at[found], signed[found])

    rest = np.where(has_prev, fen - fen[np.where(has_prev, prev, 0)] - moved, 0)
    todo = np.flatnonzero(rest != 0)
    parts = -(-np.abs(rest[todo]) // MAX_MINOR)  # ceil: postings stay below 100 million
    row = np.repeat(todo, parts)
    first = np.r_[0, np.cumsum(parts)[:-1]]
    last = np.repeat(first + parts - 1, parts) == np.arange(len(row))
    magnitude = np.where(last, np.abs(rest[row]) - (np.repeat(parts, parts) - 1) * MAX_MINOR, MAX_MINOR)
    n = len(row)
    cust = a.cust[account[row]]
    me = plan.month_ends()[month[row]]
    return txn_frame(
        n, cust=cust, account=account[row], card=np.zeros(n, bool),
        ts=me.astype("datetime64[s]") + np.timedelta64(23 * 3600 + 55 * 60, "s"),
        minor=magnitude.astype(np.int64), currency=np.full(n, CUR["CNY"]), credit=rest[row] > 0,
        channel=np.full(n, CH[ref.SYSTEM_CHANNEL]), international=np.zeros(n, bool),
    )


def signed_fen(t: pd.DataFrame, day: np.ndarray, plan: Plan) -> np.ndarray:
    """Each posting's signed CNY amount in fen as the cleaned layer computes ``signed_amount_cny``:
    the landed amount (capped at MAX_MINOR) x the landed rate of ``day`` (6 decimals), rounded
    half-up, negative for debits."""
    minor = np.minimum(t["minor"].to_numpy().astype(np.int64), MAX_MINOR)
    currency = t["currency"].to_numpy()
    rates = plan.fx_rates.pivot(index="rate_date", columns="currency", values="cny_per_unit")
    micro = np.full((len(rates), len(ref.CURRENCIES)), 1_000_000, np.int64)
    for cur in ref.FOREIGN_CURRENCIES:
        micro[:, CUR[cur]] = [int(f"{v:.6f}".replace(".", "")) for v in rates[cur].to_numpy()]  # as landed
    day_i = np.clip((day - plan.start64).astype(int), 0, len(rates) - 1)
    fen = (minor * micro[day_i, currency] + 500_000) // 1_000_000
    return np.where(t["credit"].to_numpy(bool), fen, -fen)


# --- shared helpers ---------------------------------------------------------------------------------
def to_minor(cny: np.ndarray, currency: np.ndarray, day: np.ndarray, plan: Plan) -> np.ndarray:
    """CNY amounts -> minor units of the posting currency at that day's rate."""
    rates = plan.fx_rates.pivot(index="rate_date", columns="currency", values="cny_per_unit")
    table = np.ones((len(rates), len(ref.CURRENCIES)))
    for cur in ref.FOREIGN_CURRENCIES:
        table[:, CUR[cur]] = rates[cur].to_numpy()
    day_i = np.clip((day - plan.start64).astype(int), 0, len(rates) - 1)
    return np.maximum(np.round(cny / table[day_i, currency] * 100), 1).astype(np.int64)


def merchant_ids(pool_city: np.ndarray, mcc_i: np.ndarray, pool_size: int, customer: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """A merchant per posting, within its (city, category) pool.

    People are creatures of habit: most spend goes to the customer's regular merchant of the
    pool (fixed by the customer's ordinal, so the same whatever the partitioning); the rest to a
    merchant by Zipf-like popularity. Without habits most legitimate spend would be at a "new"
    merchant and the fraud feature new_merchant would carry little signal.
    """
    n = len(pool_city)
    # The regular merchant is drawn from the same popularity curve, with a uniform fixed per
    # (customer, pool) instead of per posting: popular merchants stay popular.
    fixed = (customer.astype(np.int64) * 2654435761 + mcc_i * 40503 + pool_city * 9973) % 1_000_003 / 1_000_003
    u = np.where(rng.random(n) < REGULAR_MERCHANT_SHARE, fixed, rng.random(n))
    rank = np.floor(np.exp(u * np.log(pool_size + 1))).astype(int) - 1
    return fmt_ids("M", pool_city * 1_000_000 + mcc_i * 10_000 + rank, 8)


def pick_device(c: Customers, cust: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The customer's own device: the main phone mostly, sometimes the second one."""
    second = (rng.random(len(cust)) < 0.15).astype(int)
    return c.devices[cust, second]


def random_banks(n: int, rng: np.random.Generator) -> np.ndarray:
    weights = np.array([.18, .16, .13, .13, .08, .12, .06, .06, .04, .04])
    return np.array(ref.BANKS, dtype=object)[rng.choice(len(ref.BANKS), n, p=weights / weights.sum())]


def finish(txns: pd.DataFrame, c: Customers, a: Accounts, plan: Plan,
           rng: np.random.Generator) -> tuple[TextRows, pa.Table, TextRows, pa.Table]:
    """Order, identify and label the postings; return (landing rows, fraud truth, fraud reports,
    ledger truth: each posting's account, local date and signed CNY amount in fen).

    The label of every posting is drawn from ``p_fraud``: the pattern's strength for planted
    incidents, a small base risk (higher at night, abroad, for large amounts) otherwise.
    """
    txns = txns[txns["ts"] < np.datetime64(plan.end, "s")]
    order = np.lexsort((txns["minor"].to_numpy(), txns["ts"].to_numpy(), txns["cust"].to_numpy()))
    t = txns.iloc[order].reset_index(drop=True)
    n = len(t)
    cust = t["cust"].to_numpy()
    seq = np.arange(n) - np.searchsorted(cust, cust)

    card = t["card"].to_numpy(bool)
    ts = t["ts"].to_numpy().astype("datetime64[s]")
    hour = (ts - ts.astype("datetime64[D]")).astype(np.int64) // 3600
    night = hour < 6
    risk = OTHER_FRAUD_BASE * np.where(night, 3, 1) * np.where(t["international"].to_numpy(bool), 6, 1) * np.where(t["minor"].to_numpy() > 500_000, 3, 1)
    planted = t["pattern"].to_numpy() != ""
    p_fraud = np.where(planted, t["p_pattern"].to_numpy(float), np.where(card, risk, 0.0))
    is_fraud = rng.random(n) < p_fraud
    fraud_type = np.where(is_fraud, np.where(planted, t["pattern"].to_numpy(), "other"), None)

    account = t["account"].to_numpy()
    txn_id = arrow_ids("T", c.ordinal[cust] * 1_000_000 + seq + 1, 14)
    ts_text = arrow_ts(ts)
    auth = arrow_ids("", rng.integers(0, 10**6, n), 6)
    landing = {
        "txn_id": txn_id,
        "account_id": as_arrow(a.account_id[account]),
        "customer_id": as_arrow(c.customer_id[cust]),
        "card_id": as_arrow(np.where(card, a.card_id[account], "")),
        "ts": ts_text,
        "amount": arrow_minor(np.minimum(t["minor"].to_numpy(), MAX_MINOR)),
        "currency": arrow_labels(t["currency"].to_numpy(), ref.CURRENCIES),
        "direction": arrow_labels(t["credit"].to_numpy(bool).astype(int), ("debit", "credit")),
        "channel": arrow_labels(t["channel"].to_numpy(), ref.POSTING_CHANNELS),
        "merchant_id": as_arrow(t["merchant_id"].to_numpy()),
        "mcc": as_arrow(t["mcc"].to_numpy()),
        "city": as_arrow(t["city"].to_numpy()),
        "device_id": as_arrow(t["device_id"].to_numpy()),
        "counterparty_bank": as_arrow(t["bank"].to_numpy()),
        "is_international": arrow_yn(t["international"].to_numpy(bool)),
        "_auth_code": pc.if_else(pa.array(card), auth, ""),
    }
    rows = routed(landing, ts.astype("datetime64[D]"), pc.binary_join_element_wise(ts_text, txn_id, "|"), txn_id)
    truth = pa.table({
        "txn_id": txn_id, "is_fraud": pa.array(is_fraud), "fraud_type": pa.array(fraud_type, pa.string()),
        "incident_id": pa.array(np.where(planted, t["incident"].to_numpy(), None), pa.string()), "p_fraud": pa.array(p_fraud),
    })
    reported = ts[is_fraud] + rng.integers(10 * 86400, 61 * 86400, int(is_fraud.sum())).astype("timedelta64[s]")
    delivered = reported < np.datetime64(plan.end, "s")
    reported = reported[delivered]
    reported_ids = txn_id.filter(pa.array(is_fraud)).filter(pa.array(delivered))
    reported_text = arrow_ts(reported)
    reports = routed(
        {"txn_id": reported_ids, "reported_at": reported_text, "fraud_type": fraud_type[is_fraud][delivered].astype(object)},
        reported.astype("datetime64[D]"), pc.binary_join_element_wise(reported_text, reported_ids, "|"), reported_ids,
    )
    day = ts.astype("datetime64[D]")
    ledger = pa.table({
        "txn_id": txn_id, "account_id": as_arrow(a.account_id[account]), "business_date": pa.array(day),
        "signed_amount_fen": pa.array(signed_fen(t, day, plan)),
    })
    return rows, truth, reports, ledger

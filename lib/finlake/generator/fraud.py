"""Planted fraud incidents, each with the signature a fraud model should learn.

- card_testing: a burst of tiny online payments at merchants the card never used, at night,
  then one larger purchase.
- account_takeover: an app login from a new device, a password reset, then large night
  transfers to other banks (and a card purchase or two) from that device.
- impossible_travel: a card-present purchase in a far city (or abroad) within an hour or two of
  one at home.
- compromised_merchant: cards used at a leaking merchant during its window are later used for
  online purchases elsewhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from finlake.generator import reference as ref
from finlake.generator.accounts import Accounts
from finlake.generator.customers import Customers
from finlake.generator.formats import concat_rows, fmt_ids, fmt_ts
from finlake.generator.transactions import CH, CUR, home_city, random_banks, to_minor, txn_frame

# Incidents per customer-year, and how strongly each pattern's postings are fraud.
INCIDENT_RATES = {"card_testing": 0.005, "account_takeover": 0.008, "impossible_travel": 0.012}
P_PATTERN = {"card_testing": 0.97, "account_takeover": 0.95, "impossible_travel": 0.9, "compromised_merchant": 0.9}
PATTERN_CODE = {"card_testing": 1, "account_takeover": 2, "impossible_travel": 3, "compromised_merchant": 4}
COMPROMISED_CARD_SHARE = 0.42  # of the cards seen at a leaking merchant (regular customers make fewer distinct cards per merchant)
FOREIGN_NAMES = np.array([f[0] for f in ref.FOREIGN_CITIES], dtype=object)
FOREIGN_CUR = np.array([CUR[f[1]] for f in ref.FOREIGN_CITIES])
CITY_INDEX = {name: i for i, name in enumerate(ref.CITY_PINYIN)}
APP_EVENT_COLUMNS = ("cust", "ts", "session", "event_type", "page", "product_id", "device_id", "os", "model", "city")


def plant_fraud(c: Customers, a: Accounts, legit: pd.DataFrame, plan, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Fraud postings, the app events of account takeovers, and one truth row per incident."""
    lo, hi = c.active_from(plan), c.active_to(plan)
    years = np.clip((hi - lo).astype(int), 0, None) / 365.0
    txns, events, incidents = [], [], []
    for pattern, planter in (("card_testing", _card_testing), ("account_takeover", _account_takeover), ("impossible_travel", _impossible_travel)):
        k = rng.poisson(INCIDENT_RATES[pattern] * years)
        cust = np.repeat(np.arange(len(c)), k)
        nth = np.arange(len(cust)) - np.searchsorted(cust, cust)
        day = lo[cust] + (rng.random(len(cust)) * (hi - lo).astype(int)[cust]).astype(int).astype("timedelta64[D]")
        incident = fmt_ids("F", c.ordinal[cust] * 1000 + PATTERN_CODE[pattern] * 100 + nth, 11)
        rows, start, app = planter(c, a, legit, cust, day, incident, plan, rng)
        txns.append(rows)
        events.append(app)
        keep = np.isin(incident, rows["incident"].to_numpy())
        incidents.append(pd.DataFrame({"incident_id": incident[keep], "customer_id": c.customer_id[cust[keep]], "fraud_type": pattern, "start_ts": start[keep], "merchant_id": None}))
    rows, inc = _compromised_merchant(c, a, legit, plan, rng)
    txns.append(rows)
    incidents.append(inc)
    fraud = concat_rows(txns)
    # A card cannot be used after it is closed or the customer has left.
    day = fraud["ts"].to_numpy().astype("datetime64[D]")
    ok = (day < hi[fraud["cust"].to_numpy()]) & (day < a.close_date[fraud["account"].to_numpy()]) & (day >= lo[fraud["cust"].to_numpy()])
    fraud = fraud[ok].reset_index(drop=True)
    incidents = concat_rows(incidents)
    incidents = incidents[incidents["incident_id"].isin(fraud["incident"])].reset_index(drop=True)
    incidents["start_ts"] = fmt_ts(incidents["start_ts"].to_numpy().astype("datetime64[s]")) if len(incidents) else incidents["start_ts"]
    return fraud, concat_rows(events), incidents


def card_account(c: Customers, a: Accounts, cust: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The card a fraudster would use: the credit card when open, else the debit card."""
    cc = a.first_of("credit_card", len(c))[cust]
    ok = (cc >= 0) & (a.open_date[np.maximum(cc, 0)] <= day) & (a.close_date[np.maximum(cc, 0)] > day)
    return np.where(ok, cc, a.first_of("savings", len(c))[cust])


def _night(day: np.ndarray, rng: np.random.Generator, share: float = 1.0) -> np.ndarray:
    seconds = np.where(rng.random(len(day)) < share, rng.integers(0, 5 * 3600, len(day)), rng.integers(0, 86400, len(day)))
    return day.astype("datetime64[s]") + seconds.astype("timedelta64[s]")


def burst_offsets(sizes: np.ndarray, lo: int, hi: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(incident index, seconds since the incident start) of consecutive events with random gaps."""
    sizes = np.asarray(sizes, dtype=int)
    inc = np.repeat(np.arange(len(sizes)), sizes)
    gaps = rng.integers(lo, hi, len(inc))
    total = np.cumsum(gaps)
    before = np.concatenate([[0], total])[np.cumsum(sizes) - sizes]  # elapsed before each group
    return inc, total - before[inc]


def _new_merchants(n: int, prefix: int, rng: np.random.Generator) -> np.ndarray:
    return fmt_ids("M", prefix * 1_000_000 + rng.integers(0, 1_000_000, n), 8)


def _new_devices(n: int, rng: np.random.Generator) -> np.ndarray:
    return np.array([f"D{v:012x}" for v in rng.integers(0, 2**48, n)], dtype=object)


def _card_testing(c, a, legit, cust, day, incident, plan, rng):
    start = _night(day, rng, 0.6)
    sizes = rng.integers(6, 15, len(cust)) + 1  # tests plus the cash-out purchase
    inc, offset = burst_offsets(sizes, 15, 120, rng)
    last = np.concatenate([np.diff(inc) != 0, [True]]) if len(inc) else np.zeros(0, bool)
    n = len(inc)
    cny = np.where(last, rng.uniform(800, 6000, n), rng.uniform(0.5, 9.99, n))
    rows = txn_frame(
        n, cust=cust[inc], account=card_account(c, a, cust[inc], day[inc]), card=np.ones(n, bool),
        ts=start[inc] + offset.astype("timedelta64[s]"), minor=np.round(cny * 100).astype(np.int64),
        currency=np.zeros(n, int), credit=np.zeros(n, bool), channel=np.full(n, CH["online"]),
        merchant_id=_new_merchants(n, 99, rng),
        mcc=np.array(["5999", "5732", "5045", "5814"], dtype=object)[rng.integers(0, 4, n)],
        city=ref.CITY_PINYIN[rng.integers(0, len(ref.CITIES), n)],
        device_id=_new_devices(len(cust), rng)[inc], international=np.zeros(n, bool),
        incident=incident[inc], pattern=np.full(n, "card_testing", dtype=object),
        p_pattern=np.where(last, 0.95, P_PATTERN["card_testing"]),
    )
    return rows, start, _no_events()


def _account_takeover(c, a, legit, cust, day, incident, plan, rng):
    m = len(cust)
    start = _night(day, rng)
    device = _new_devices(m, rng)
    model = rng.integers(0, len(ref.DEVICE_MODELS), m)
    reset = start + rng.integers(30, 120, m).astype("timedelta64[s]")
    city = ref.CITY_SHORT[home_city(c, cust, day)]
    ev_ts = np.concatenate([start, reset, reset + rng.integers(60, 300, m).astype("timedelta64[s]")])
    app = pd.DataFrame({
        "cust": np.tile(cust, 3), "ts": ev_ts, "session": np.tile(-(np.arange(m) + 1), 3),
        "event_type": np.repeat(np.array(["login", "password_reset", "login"], dtype=object), m),
        "page": np.repeat(np.array(["login", "security/password", "login"], dtype=object), m),
        "product_id": None, "device_id": np.tile(device, 3),
        "os": np.tile(np.array([d[0] for d in ref.DEVICE_MODELS], dtype=object)[model], 3),
        "model": np.tile(np.array([d[1] for d in ref.DEVICE_MODELS], dtype=object)[model], 3),
        "city": np.tile(city, 3),
    })
    # Transfers out, then possibly card purchases through a payment app, all from the new device.
    k_transfer = rng.integers(1, 4, m)
    inc, offset = burst_offsets(k_transfer, 300, 1500, rng)
    n = len(inc)
    cny = np.clip(c.aum[cust[inc]] * rng.uniform(0.2, 0.6, n) / k_transfer[inc], 2000, 500_000)
    transfers = txn_frame(
        n, cust=cust[inc], account=a.first_of("savings", len(c))[cust[inc]], card=np.zeros(n, bool),
        ts=reset[inc] + offset.astype("timedelta64[s]"), minor=np.round(cny, -2).astype(np.int64) * 100,
        currency=np.zeros(n, int), credit=np.zeros(n, bool), channel=np.full(n, CH["mobile_app"]),
        city=ref.CITY_PINYIN[home_city(c, cust[inc], day[inc])], device_id=device[inc],
        bank=random_banks(n, rng), international=np.zeros(n, bool), incident=incident[inc],
        pattern=np.full(n, "account_takeover", dtype=object), p_pattern=np.full(n, P_PATTERN["account_takeover"]),
    )
    k_card = rng.choice([0, 1, 2], m, p=[0.3, 0.45, 0.25])
    inc, offset = burst_offsets(k_card, 120, 900, rng)
    n = len(inc)
    purchases = txn_frame(
        n, cust=cust[inc], account=card_account(c, a, cust[inc], day[inc]), card=np.ones(n, bool),
        ts=reset[inc] + np.timedelta64(1800, "s") + offset.astype("timedelta64[s]"),
        minor=np.round(rng.uniform(1000, 8000, n) * 100).astype(np.int64), currency=np.zeros(n, int),
        credit=np.zeros(n, bool), channel=np.full(n, CH["third_party_pay"]), merchant_id=_new_merchants(n, 97, rng),
        mcc=np.array(["5944", "5732", "5094"], dtype=object)[rng.integers(0, 3, n)],
        city=ref.CITY_PINYIN[home_city(c, cust[inc], day[inc])], device_id=device[inc],
        international=np.zeros(n, bool), incident=incident[inc],
        pattern=np.full(n, "account_takeover", dtype=object), p_pattern=np.full(n, 0.93),
    )
    return concat_rows([transfers, purchases]), start, app


def _impossible_travel(c, a, legit, cust, day, incident, plan, rng):
    """Anchor each incident on one of the customer's real domestic card-present postings."""
    candidates = legit[(legit["channel"] == CH["pos"]) & ~legit["international"].astype(bool) & legit["card"].astype(bool)]
    by_cust = {k: v for k, v in candidates.groupby("cust").groups.items()}
    anchor_rows, keep = [], []
    for j, cu in enumerate(cust):
        rows = by_cust.get(cu)
        if rows is not None and len(rows):
            anchor_rows.append(rows[rng.integers(0, len(rows))])
            keep.append(j)
    keep = np.array(keep, dtype=int)
    anchors = candidates.loc[anchor_rows] if anchor_rows else candidates.iloc[:0]
    m = len(keep)
    sizes = rng.integers(1, 4, m)
    inc, offset = burst_offsets(sizes, 600, 2400, rng)
    n = len(inc)
    base_ts = anchors["ts"].to_numpy()[inc] + np.timedelta64(1200, "s")
    abroad = rng.random(m) < 0.5
    home_i = np.array([CITY_INDEX[x] for x in anchors["city"].to_numpy()], dtype=int)
    far = (home_i + rng.integers(3, len(ref.CITIES) - 2, m)) % len(ref.CITIES)
    foreign = rng.integers(0, len(ref.FOREIGN_CITIES), m)
    city = np.where(abroad, FOREIGN_NAMES[foreign], ref.CITY_PINYIN[far])[inc]
    currency = np.where(abroad, FOREIGN_CUR[foreign], CUR["CNY"])[inc]
    ts = base_ts + offset.astype("timedelta64[s]")
    cny = np.exp(rng.normal(6.5, 0.7, n))
    mcc_i = rng.choice([6, 9, 10, 13, 16], n)  # grocery, electronics, restaurant, jewellery, hotel
    pool = np.where(abroad, 50 + foreign, far)[inc]
    rows = txn_frame(
        n, cust=anchors["cust"].to_numpy()[inc], account=anchors["account"].to_numpy()[inc], card=np.ones(n, bool),
        ts=ts, minor=to_minor(cny, currency, ts.astype("datetime64[D]"), plan), currency=currency,
        credit=np.zeros(n, bool), channel=np.full(n, CH["pos"]),
        merchant_id=fmt_ids("M", pool * 1_000_000 + mcc_i * 10_000 + rng.integers(0, plan.merchants_per_pool, n), 8),
        mcc=np.array(ref.SPEND_MCC, dtype=object)[mcc_i], city=city, international=abroad[inc],
        incident=incident[keep][inc], pattern=np.full(n, "impossible_travel", dtype=object),
        p_pattern=np.full(n, P_PATTERN["impossible_travel"]),
    )
    start = np.full(len(cust), np.datetime64("NaT", "s"))
    start[keep] = anchors["ts"].to_numpy()
    return rows, start, _no_events()


def _compromised_merchant(c, a, legit, plan, rng):
    """Cards seen at a leaking merchant during its window are abused 3-30 days later."""
    comp = plan.compromised
    hits = legit[legit["merchant_id"].isin(comp["merchant_id"]) & legit["card"].astype(bool)]
    window = comp.set_index("merchant_id")
    day = hits["ts"].to_numpy().astype("datetime64[D]")
    in_window = (day >= window.loc[hits["merchant_id"], "start"].to_numpy().astype("datetime64[D]")) & (day < window.loc[hits["merchant_id"], "end"].to_numpy().astype("datetime64[D]"))
    hits = hits[in_window].sort_values(["account", "ts"], kind="stable").drop_duplicates("account")
    hits = hits[rng.random(len(hits)) < COMPROMISED_CARD_SHARE]
    m = len(hits)
    cust = hits["cust"].to_numpy()
    incident = fmt_ids("F", c.ordinal[cust] * 1000 + PATTERN_CODE["compromised_merchant"] * 100 + np.arange(m) % 100, 11)
    sizes = rng.integers(1, 5, m)
    inc, offset = burst_offsets(sizes, 3600, 4 * 86400, rng)
    n = len(inc)
    first = hits["ts"].to_numpy() + rng.integers(3 * 86400, 30 * 86400, m).astype("timedelta64[s]")
    ts = first[inc] + offset.astype("timedelta64[s]")
    abroad = rng.random(n) < 0.4
    foreign = rng.integers(0, len(ref.FOREIGN_CITIES), n)
    currency = np.where(abroad, FOREIGN_CUR[foreign], CUR["CNY"])
    rows = txn_frame(
        n, cust=cust[inc], account=hits["account"].to_numpy()[inc], card=np.ones(n, bool), ts=ts,
        minor=to_minor(np.exp(rng.normal(6.8, 0.7, n)), currency, ts.astype("datetime64[D]"), plan),
        currency=currency, credit=np.zeros(n, bool), channel=np.full(n, CH["online"]),
        merchant_id=_new_merchants(n, 96, rng), mcc=np.array(["5732", "5944", "5999", "4511"], dtype=object)[rng.integers(0, 4, n)],
        city=np.where(abroad, FOREIGN_NAMES[foreign], ref.CITY_PINYIN[rng.integers(0, len(ref.CITIES), n)]),
        device_id=_new_devices(n, rng), international=abroad, incident=incident[inc],
        pattern=np.full(n, "compromised_merchant", dtype=object), p_pattern=np.full(n, P_PATTERN["compromised_merchant"]),
    )
    incidents = pd.DataFrame({
        "incident_id": incident, "customer_id": c.customer_id[cust], "fraud_type": "compromised_merchant",
        "start_ts": first, "merchant_id": hits["merchant_id"].to_numpy(),
    })
    return rows, incidents


def _no_events() -> pd.DataFrame:
    return pd.DataFrame({col: [] for col in APP_EVENT_COLUMNS})

"""How customers engage with the bank: app sessions, complaints, and campaign contacts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from finlake.generator import churn as churn_model
from finlake.generator import reference as ref
from finlake.generator.customers import Consent, Customers
from finlake.generator.formats import TextRows, arrow_ids, arrow_ts_offset, as_arrow, fmt_ids, fmt_ts, fmt_yn, routed
from finlake.generator.fraud import APP_EVENT_COLUMNS, burst_offsets
from finlake.generator.plan import Plan
from finlake.generator.transactions import day_intensity, hours_of, pick_by_rows

EVENTS_PER_SESSION = 2.0  # after the login
# Event types after the login: page_view, product_view, search, apply_start, apply_submit, password_reset
EVENT_MIX = np.array([0.50, 0.26, 0.13, 0.06, 0.045, 0.005])
PAGES = np.array(["home", "accounts", "transfer", "cards", "wealth/list", "loans", "profile", "bills"], dtype=object)
COMPLAINTS_PER_MONTH = 0.012
COMPLAINT_MIX = {  # COMPLAINT_CATEGORIES order
    "normal": np.array([0.20, 0.25, 0.20, 0.15, 0.08, 0.05, 0.07]),
    "decline": np.array([0.35, 0.30, 0.05, 0.10, 0.05, 0.10, 0.05]),
}
COMPLAINTS_IN_DECLINE = 6.0  # complaint rate multiplier once a decline has started
CAMPAIGN_SELECTION = 0.04  # share of eligible customers a campaign selects
CONTROL_SHARE = 0.10
CONVERT_GIVEN_RESPONSE = 0.35
ORGANIC_CONVERSION = 0.25  # control-group conversion relative to treated conversion
PRODUCTS = pd.DataFrame(ref.PRODUCTS, columns=["product_id", "product_type", "name", "risk", "min", "yield"])


def app_sessions(c: Customers, plan: Plan, rng: np.random.Generator) -> pd.DataFrame:
    """Mobile-app sessions (login, then page and product views...) as internal event rows."""
    days = plan.dates()
    per_day = np.array([p.app_sessions_per_day for p in ref.PERSONAS])[c.persona]
    counts = rng.poisson(day_intensity(c, plan, per_day))
    cells = np.repeat(np.arange(counts.size), counts.ravel())
    s_cust, s_day = cells // len(days), days[cells % len(days)]
    m = len(s_cust)
    start = s_day.astype("datetime64[s]") + hours_of(c, s_cust, rng).astype("timedelta64[s]")
    sizes = 1 + rng.poisson(EVENTS_PER_SESSION, m)
    sess, offset = burst_offsets(sizes, 5, 120, rng)
    n = len(sess)
    cust = s_cust[sess]
    first = np.concatenate([[True], np.diff(sess) != 0]) if n else np.zeros(0, bool)
    kind = pick_by_rows(np.tile(np.cumsum(EVENT_MIX), (n, 1)), rng) + 1  # 1.. = after login
    kind = np.where(first, 0, kind)
    event_type = np.array(ref.EVENT_TYPES, dtype=object)[kind]
    # Product interest follows the persona's affinity: investors look at funds, students at cards.
    affinity = ref.AFFINITY / ref.AFFINITY.sum(axis=1, keepdims=True)
    ptype = np.array(ref.OPTIONAL_PRODUCTS, dtype=object)[pick_by_rows(np.cumsum(affinity, axis=1)[c.persona[cust]], rng)]
    product = _product_of_type(ptype, rng)
    wants_product = np.isin(kind, [2, 4, 5])
    page = np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3, kind == 6],
        ["login", PAGES[rng.integers(0, len(PAGES), n)], ptype + "/detail", "search", "security/password"],
        ptype + "/apply",
    )
    device_col = (rng.random(m) < 0.12).astype(int)[sess]
    home = np.where(c.move_date[cust] <= s_day[sess], c.new_city[cust], c.city[cust])
    away = rng.random(n) < 0.05
    city = np.where(away, ref.CITY_SHORT[rng.integers(0, len(ref.CITIES), n)], ref.CITY_SHORT[home])
    return pd.DataFrame({
        "cust": cust, "ts": start[sess] + offset.astype("timedelta64[s]"), "session": sess,
        "event_type": event_type, "page": page.astype(object), "product_id": np.where(wants_product, product, None),
        "device_id": c.devices[cust, device_col], "os": c.device_os[cust, device_col],
        "model": c.device_model[cust, device_col], "city": city,
    })


def _product_of_type(ptype: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.empty(len(ptype), dtype=object)
    for t, ids in PRODUCTS.groupby("product_type")["product_id"]:
        rows = np.flatnonzero(ptype == t)
        out[rows] = ids.to_numpy()[rng.integers(0, len(ids), len(rows))]
    return out


def app_event_rows(events: pd.DataFrame, c: Customers, plan: Plan) -> TextRows:
    """Identify events and sessions and render them as the JSON fields of app_events.

    A session that starts late on the last day may run past midnight: those events fall after
    the period and are not delivered.
    """
    e = events.loc[events["ts"].to_numpy().astype("datetime64[s]") < np.datetime64(plan.end, "s"), list(APP_EVENT_COLUMNS)]
    order = np.lexsort((e["session"].to_numpy(), e["ts"].to_numpy(), e["cust"].to_numpy().astype(int)))
    e = e.iloc[order].reset_index(drop=True)
    cust = e["cust"].to_numpy().astype(int)
    seq = np.arange(len(e)) - np.searchsorted(cust, cust)
    event_id = arrow_ids("E", c.ordinal[cust] * 10_000_000 + seq + 1, 15)
    session = e["session"].to_numpy().astype(np.int64)
    # Sessions are numbered per customer (they are generated customer by customer); takeover
    # sessions (negative numbers) get their own range.
    normal = session >= 0
    first_session = pd.Series(np.where(normal, session, np.iinfo(np.int64).max)).groupby(cust).transform("min").to_numpy()
    session_seq = np.where(normal, session - first_session + 1, 900_000 - session)
    session_id = arrow_ids("S", c.ordinal[cust] * 1_000_000 + session_seq, 14)
    ts = e["ts"].to_numpy().astype("datetime64[s]")
    ts_text = arrow_ts_offset(ts)
    frame = {
        "event_id": event_id, "customer_id": as_arrow(c.customer_id[cust]), "session_id": session_id,
        "ts": ts_text, "event_type": as_arrow(e["event_type"].to_numpy()), "page": as_arrow(e["page"].to_numpy()),
        "product_id": pa.array(e["product_id"].to_numpy(), pa.string(), from_pandas=True),
        "device_id": as_arrow(e["device_id"].to_numpy()), "os": as_arrow(e["os"].to_numpy()),
        "model": as_arrow(e["model"].to_numpy()), "city": as_arrow(e["city"].to_numpy()),
    }
    return routed(frame, ts.astype("datetime64[D]"), pc.binary_join_element_wise(ts_text, event_id, "|"), event_id)


def complaint_rows(c: Customers, plan: Plan, rng: np.random.Generator) -> TextRows:
    """Complaints: rare, and several times more frequent once a customer starts to decline."""
    days = plan.dates()
    progress = churn_model.decline_progress(days, c.onset, c.churn)
    active = (days[None, :] >= c.active_from(plan)[:, None]) & (days[None, :] < c.active_to(plan)[:, None])
    declining = progress > 0
    intensity = COMPLAINTS_PER_MONTH / 30 * active * np.where(declining, COMPLAINTS_IN_DECLINE, 1.0)
    counts = rng.poisson(intensity)
    cells = np.repeat(np.arange(counts.size), counts.ravel())
    cust, day_i = cells // len(days), cells % len(days)
    in_decline = declining.ravel()[cells]
    mix = np.where(in_decline[:, None], np.cumsum(COMPLAINT_MIX["decline"]), np.cumsum(COMPLAINT_MIX["normal"]))
    category = np.array(ref.COMPLAINT_CATEGORIES, dtype=object)[pick_by_rows(mix, rng)]
    ts = days[day_i].astype("datetime64[s]") + rng.integers(8 * 3600, 21 * 3600, len(cust)).astype("timedelta64[s]")
    order = np.lexsort((ts, cust))
    cust, ts, category = cust[order], ts[order], category[order]
    seq = np.arange(len(cust)) - np.searchsorted(cust, cust)
    complaint_id = fmt_ids("CP", c.ordinal[cust] * 10_000 + seq + 1, 12)
    ts_text = fmt_ts(ts)
    frame = {"complaint_id": complaint_id, "customer_id": c.customer_id[cust], "ts": ts_text, "category": category}
    return routed(frame, ts.astype("datetime64[D]"), ts_text + "|" + complaint_id, complaint_id)


def campaign_contacts(c: Customers, consent: Consent, plan: Plan, rng: np.random.Generator) -> tuple[TextRows, pd.DataFrame, pd.DataFrame]:
    """Contacts of every campaign, their true response probabilities, and the accounts they open.

    Selection honours consent and the do-not-contact list on the contact date. The chance to
    respond is the channel's base rate times the persona x product-type affinity.
    """
    camps = plan.campaigns
    n, k = len(c), len(camps)
    cstart = camps["start_date"].to_numpy().astype("datetime64[D]")
    cend = camps["end_date"].to_numpy().astype("datetime64[D]")
    span = np.minimum((cend - cstart).astype(int) + 1, 7)
    day = cstart[None, :] + (rng.random((n, k)) * span[None, :]).astype(int).astype("timedelta64[D]")
    channel = np.array([ref.CONTACT_CHANNELS.index(ch) for ch in camps["channel"]])
    selected = rng.random((n, k)) < CAMPAIGN_SELECTION
    i, j = np.nonzero(selected)
    on = day[i, j]
    eligible = (c.open_date[i] <= on) & (c.active_to(plan)[i] > on) & consent.allows(i, channel[j], on)
    i, j, on = i[eligible], j[eligible], on[eligible]
    m = len(i)
    control = rng.random(m) < CONTROL_SHARE
    ptype = camps["product_type"].to_numpy()[j]
    type_idx = np.array([ref.OPTIONAL_PRODUCTS.index(t) for t in ptype], dtype=int)
    ch_name = camps["channel"].to_numpy()[j]
    base = np.array([ref.CONTACT_BASE_RESPONSE[x] for x in ch_name])
    p_response = np.clip(base * ref.AFFINITY[c.persona[i], type_idx], 0, 0.5)
    p_convert = p_response * CONVERT_GIVEN_RESPONSE * np.where(control, ORGANIC_CONVERSION, 1.0)
    p_open = np.maximum(np.array([ref.CONTACT_OPEN_RATE[x] for x in ch_name]), p_response)
    u, v = rng.random(m), rng.random(m)
    responded = ~control & (u < p_response)
    converted = np.where(control, v < p_convert, responded & (v < CONVERT_GIVEN_RESPONSE))
    outcome = np.select(
        [converted, responded, ~control & (u < p_open), ~control],
        ["converted", "responded", "opened", "delivered"], "",
    ).astype(object)
    ts = on.astype("datetime64[s]") + rng.integers(9 * 3600, 20 * 3600, m).astype("timedelta64[s]")
    order = np.lexsort((j, ts, i))
    i, j, ts, control, outcome, ch_name = i[order], j[order], ts[order], control[order], outcome[order], ch_name[order]
    p_response, p_convert, responded, converted, ptype = p_response[order], p_convert[order], responded[order], converted[order], ptype[order]
    seq = np.arange(m) - np.searchsorted(i, i)
    contact_id = fmt_ids("CT", c.ordinal[i] * 10_000 + seq + 1, 12)
    ts_text = fmt_ts(ts)
    frame = {
        "contact_id": contact_id, "campaign_id": camps["campaign_id"].to_numpy()[j], "customer_id": c.customer_id[i],
        "ts": ts_text, "channel": np.where(control, "", ch_name).astype(object), "outcome": outcome,
        "control_group": fmt_yn(control),
    }
    rows = routed(frame, ts.astype("datetime64[D]"), ts_text + "|" + contact_id, contact_id)
    truth = pd.DataFrame({
        "contact_id": contact_id, "p_response": np.where(control, 0.0, p_response), "p_convert": p_convert,
        "responded": responded, "converted": converted,
    })
    opened_on = ts.astype("datetime64[D]") + rng.integers(1, 11, m).astype("timedelta64[D]")
    opens = converted & (opened_on < c.active_to(plan)[i])
    conversions = pd.DataFrame({
        "cust": i[opens], "product": [ref.PRODUCT_TYPES.index(t) for t in ptype[opens]], "open_date": opened_on[opens],
    })
    return rows, truth, conversions

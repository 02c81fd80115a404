"""Customers of one block: latent persona, attributes, churn, changes over time, consent.

The persona is drawn first and everything else is drawn from the persona's distributions,
which is what makes personas separable by the features a segmentation model sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from finlake.generator import churn as churn_model
from finlake.generator import reference as ref
from finlake.generator.formats import TextRows, fmt_date, fmt_ids, fmt_ts, fmt_yn, routed
from finlake.generator.identity import chinese_names, mobile_numbers, resident_ids
from finlake.generator.plan import Plan

NEVER = np.datetime64("2200-01-01", "D")  # "no such event": later than any period
NEW_CUSTOMERS_PER_YEAR = 0.08  # share of the base acquired during a year
MOVES_PER_YEAR = 0.02
PHONE_CHANGES_PER_YEAR = 0.04
RISK_REVIEWS_PER_YEAR = 0.06
OPT_OUTS_PER_YEAR = 0.05
OPT_INS_PER_YEAR = 0.03
DNC_AT_START = 0.015
DNC_PER_YEAR = 0.01


@dataclass(frozen=True)
class Customers:
    """Arrays over the customers of one block (index = position in the block)."""

    ordinal: np.ndarray
    customer_id: np.ndarray
    persona: np.ndarray
    birth: np.ndarray
    male: np.ndarray
    city: np.ndarray
    occupation: np.ndarray
    income: np.ndarray
    risk: np.ndarray
    acquisition: np.ndarray
    open_date: np.ndarray
    name: np.ndarray
    id_number: np.ndarray
    phone: np.ndarray
    aum: np.ndarray  # CNY, assets under management when the customer is in normal state
    activity: np.ndarray  # individual multiplier of transaction and app activity
    hazard: np.ndarray
    earliest_onset: np.ndarray
    onset: np.ndarray
    churn: np.ndarray  # NEVER-like dates after the period mean "does not churn in the period"
    move_date: np.ndarray
    new_city: np.ndarray
    phone_date: np.ndarray
    new_phone: np.ndarray
    risk_date: np.ndarray
    new_risk: np.ndarray
    devices: np.ndarray  # (n, 2) device ids
    device_os: np.ndarray  # (n, 2)
    device_model: np.ndarray  # (n, 2)

    def __len__(self) -> int:
        return len(self.ordinal)

    @property
    def branch(self) -> np.ndarray:
        """Customers served by the regional branch system (delivered in GB18030)."""
        return self.acquisition == ref.ACQUISITION_CHANNELS.index("branch")

    def active_from(self, plan: Plan) -> np.ndarray:
        return np.maximum(self.open_date, plan.start64)

    def active_to(self, plan: Plan) -> np.ndarray:
        """First day the customer is gone (churn date) or the end of the period."""
        return np.minimum(self.churn, plan.end64)

    def churned(self, plan: Plan) -> np.ndarray:
        return self.churn < plan.end64


def _by_persona(persona: np.ndarray, table: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw one category index per row from the persona's row of a probability table."""
    cum = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)[persona]
    return np.minimum((rng.random(len(persona))[:, None] > cum).sum(axis=1), table.shape[1] - 1)


def dates_between(lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniform date in [lo, hi) per row (lo where the range is empty)."""
    span = np.maximum((hi - lo).astype(int), 1)
    return lo + (rng.random(len(lo)) * span).astype(int).astype("timedelta64[D]")


def _event_dates(p: float, lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """With probability p a date in [lo, hi), else NEVER."""
    happens = (rng.random(len(lo)) < p) & (hi > lo)
    return np.where(happens, dates_between(lo, hi, rng), NEVER)


def make_customers(plan: Plan, block: int, rng: np.random.Generator) -> Customers:
    """Draw the customers of one block."""
    ordinal = plan.block_customers(block)
    n = len(ordinal)
    years = plan.months / 12.0
    personas = ref.PERSONAS
    persona = rng.choice(len(personas), n, p=ref.PERSONA_WEIGHTS)

    age_lo = np.array([p.age[0] for p in personas])[persona]
    age_hi = np.array([p.age[1] for p in personas])[persona]
    age_days = ((age_lo + rng.random(n) * (age_hi - age_lo + 1)) * 365.25).astype(int)
    birth = plan.start64 - age_days.astype("timedelta64[D]")
    male = rng.random(n) < 0.5
    city = rng.choice(len(ref.CITIES), n, p=ref.CITY_WEIGHTS)

    occ_table = np.array([[p.occupations.get(o, 0.0) for o in ref.OCCUPATIONS] for p in personas])
    occupation = np.array(ref.OCCUPATIONS, dtype=object)[_by_persona(persona, occ_table, rng)]
    income = _by_persona(persona, np.array([p.income for p in personas]), rng)
    risk = _by_persona(persona, np.array([p.risk for p in personas]), rng)
    acquisition = _by_persona(persona, np.array([p.acquisition for p in personas]), rng)

    # Most customers were acquired years ago; a few join during the period.
    is_new = rng.random(n) < NEW_CUSTOMERS_PER_YEAR * years
    adult = birth + np.timedelta64(int(18 * 365.25) + 1, "D")
    tenure = (1 + rng.exponential(5 * 365, n)).astype(int).astype("timedelta64[D]")
    old_open = np.maximum(plan.start64 - tenure, adult)
    open_date = np.where(is_new, dates_between(np.full(n, plan.start64), np.full(n, plan.end64 - 1), rng), old_open)
    open_date = np.minimum(open_date, plan.end64 - 1)

    p_aum_mu = np.array([p.aum_log_mu for p in personas])[persona]
    p_aum_sigma = np.array([p.aum_log_sigma for p in personas])[persona]
    aum = np.exp(rng.normal(p_aum_mu, p_aum_sigma))
    activity = np.exp(rng.normal(-0.06, 0.35, n))

    hazard = churn_model.BASE_DECLINE_HAZARD * np.array([p.churn_hazard for p in personas])[persona] * np.exp(rng.normal(0, 0.5, n))
    earliest_onset = np.maximum(plan.start64 - 60, open_date + 30)
    onset, churn = churn_model.sample_churn(hazard, earliest_onset, rng)

    first = np.maximum(open_date, plan.start64) + 1
    last = np.minimum(churn, plan.end64)
    move_date = _event_dates(MOVES_PER_YEAR * years, first, last, rng)
    new_city = (city + rng.integers(1, len(ref.CITIES), n)) % len(ref.CITIES)
    phone_date = _event_dates(PHONE_CHANGES_PER_YEAR * years, first, last, rng)
    risk_date = _event_dates(RISK_REVIEWS_PER_YEAR * years, first, last, rng)
    new_risk = np.clip(risk + np.where(rng.random(n) < 0.5, -1, 1), 0, len(ref.RISK_LEVELS) - 1)

    model_idx = rng.integers(0, len(ref.DEVICE_MODELS), (n, 2))
    devices = np.array([f"D{v:012x}" for v in rng.integers(0, 2**48, 2 * n)], dtype=object).reshape(n, 2)

    return Customers(
        ordinal=ordinal,
        customer_id=fmt_ids("C", ordinal, 8),
        persona=persona, birth=birth, male=male, city=city, occupation=occupation,
        income=income, risk=risk, acquisition=acquisition, open_date=open_date,
        name=chinese_names(n, rng),
        id_number=resident_ids(ref.CITY_AREA[city], birth, male, rng),
        phone=mobile_numbers(n, rng),
        aum=aum, activity=activity, hazard=hazard, earliest_onset=earliest_onset, onset=onset, churn=churn,
        move_date=move_date, new_city=new_city,
        phone_date=phone_date, new_phone=mobile_numbers(n, rng),
        risk_date=risk_date, new_risk=new_risk,
        devices=devices,
        device_os=np.array([m[0] for m in ref.DEVICE_MODELS], dtype=object)[model_idx],
        device_model=np.array([m[1] for m in ref.DEVICE_MODELS], dtype=object)[model_idx],
    )


def extract_dates(c: Customers, plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """(customer index, extract date) of every customer row the systems deliver.

    The full extract on the start date has every customer opened before it; afterwards a row
    appears on the day a customer is opened or changes (move, phone, risk review, closure).
    """
    first = np.maximum(c.open_date, plan.start64)
    closing = np.where(c.churned(plan), c.churn, NEVER)
    idx = np.arange(len(c))
    all_idx = np.concatenate([idx] * 5)
    all_dates = np.concatenate([first, c.move_date, c.phone_date, c.risk_date, closing])
    keep = all_dates < plan.end64
    pairs = np.unique(np.stack([all_idx[keep], all_dates[keep].astype(np.int64)]), axis=1)
    return pairs[0], pairs[1].astype("datetime64[D]")


def customer_rows(c: Customers, plan: Plan, rng: np.random.Generator) -> dict[str, TextRows]:
    """The customer extract rows of both source systems, as text with routing columns."""
    i, on = extract_dates(c, plan)
    branch = c.branch[i]
    city = np.where(c.move_date[i] <= on, c.new_city[i], c.city[i])
    # Each system spells a city its own way, and not even consistently.
    core_city = np.where(rng.random(len(i)) < 0.65, ref.CITY_PINYIN[city], ref.CITY_FULL[city])
    branch_city = np.where(rng.random(len(i)) < 0.55, ref.CITY_SHORT[city], ref.CITY_FULL[city])
    frame = {
        "customer_id": c.customer_id[i],
        "name": c.name[i],
        "id_number": c.id_number[i],
        "phone": np.where(c.phone_date[i] <= on, c.new_phone[i], c.phone[i]),
        "gender": np.where(c.male[i], "M", "F").astype(object),
        "birth_date": np.where(branch, fmt_date(c.birth[i], "/"), fmt_date(c.birth[i])),
        "city": np.where(branch, branch_city, core_city),
        "occupation": c.occupation[i],
        "income_band": np.array(ref.INCOME_BANDS, dtype=object)[c.income[i]],
        "risk_tolerance": np.array(ref.RISK_LEVELS, dtype=object)[np.where(c.risk_date[i] <= on, c.new_risk[i], c.risk[i])],
        "open_date": np.where(branch, fmt_date(c.open_date[i], "/"), fmt_date(c.open_date[i])),
        "acquisition_channel": np.array(ref.ACQUISITION_CHANNELS, dtype=object)[c.acquisition[i]],
        "status": np.where(c.churn[i] <= on, "closed", "active").astype(object),
    }
    rows = routed(frame, on, c.customer_id[i], c.customer_id[i])
    return {"customers/core": rows.take(np.flatnonzero(~branch)), "customers/branch": rows.take(np.flatnonzero(branch))}


@dataclass(frozen=True)
class Consent:
    """Marketing consent per customer x contact channel: initial state and at most one flip."""

    initial: np.ndarray  # (n, 4) bool
    flip_date: np.ndarray  # (n, 4) datetime64[D], NEVER if it never changes
    dnc_date: np.ndarray  # (n,) date listed on the do-not-contact list, NEVER if not listed
    dnc_reason: np.ndarray

    def allows(self, i: np.ndarray, channel: np.ndarray, on: np.ndarray) -> np.ndarray:
        """Whether customer i may be contacted on channel (index) at date ``on``."""
        state = self.initial[i, channel] ^ (self.flip_date[i, channel] <= on)
        return state & (self.dnc_date[i] > on)


def make_consent(c: Customers, plan: Plan, rng: np.random.Generator) -> Consent:
    """Consent at onboarding, opt-outs (and a few opt-ins) over time, and the do-not-contact list."""
    n = len(c)
    years = plan.months / 12.0
    initial = rng.random((n, 4)) < np.array([ref.CONSENT_INITIAL[ch] for ch in ref.CONTACT_CHANNELS])
    first = np.repeat((np.maximum(c.open_date, plan.start64) + 1)[:, None], 4, axis=1).ravel()
    last = np.repeat(c.active_to(plan)[:, None], 4, axis=1).ravel()
    p_flip = np.where(initial, OPT_OUTS_PER_YEAR, OPT_INS_PER_YEAR).ravel() * years
    happens = (rng.random(4 * n) < p_flip) & (last > first)
    flip = np.where(happens, dates_between(first, last, rng), NEVER).reshape(n, 4)
    listed_before = (rng.random(n) < DNC_AT_START) & (c.open_date < plan.start64)
    before = plan.start64 - rng.integers(1, 3 * 365, n).astype("timedelta64[D]")
    before = np.maximum(before, c.open_date)
    during = _event_dates(DNC_PER_YEAR * years, np.maximum(c.open_date, plan.start64) + 1, c.active_to(plan), rng)
    dnc = np.where(listed_before, before, during)
    reason = np.array(ref.DNC_REASONS, dtype=object)[rng.choice(3, n, p=[0.7, 0.2, 0.1])]
    return Consent(initial=initial, flip_date=flip, dnc_date=dnc, dnc_reason=reason)


def consent_rows(c: Customers, consent: Consent, plan: Plan, rng: np.random.Generator) -> dict[str, TextRows]:
    """Consent changes and do-not-contact additions as delivered by the marketing system."""
    n = len(c)
    i = np.repeat(np.arange(n), 4)
    ch = np.tile(np.arange(4), n)
    granted_at = c.open_date[i].astype("datetime64[s]") + rng.integers(9 * 3600, 18 * 3600, len(i)).astype("timedelta64[s]")
    flip = consent.flip_date[i, ch]
    flip_at = flip.astype("datetime64[s]") + rng.integers(8 * 3600, 22 * 3600, len(i)).astype("timedelta64[s]")
    first_batch = np.maximum(c.open_date[i], plan.start64)
    has_flip = flip < plan.end64
    ii = np.concatenate([i, i[has_flip]])
    cc = np.concatenate([ch, ch[has_flip]])
    state = np.concatenate([consent.initial[i, ch], ~consent.initial[i, ch][has_flip]])
    at = np.concatenate([granted_at, flip_at[has_flip]])
    batch = np.concatenate([first_batch, flip[has_flip]])
    channels = np.array(ref.CONTACT_CHANNELS, dtype=object)[cc]
    consents = {
        "customer_id": c.customer_id[ii], "channel": channels, "consent": fmt_yn(state), "updated_at": fmt_ts(at),
    }
    consents = routed(consents, batch, c.customer_id[ii] + "|" + channels, c.customer_id[ii])

    listed = consent.dnc_date < plan.end64
    j = np.flatnonzero(listed)
    listed_at = consent.dnc_date[j].astype("datetime64[s]") + rng.integers(8 * 3600, 20 * 3600, len(j)).astype("timedelta64[s]")
    dnc = {
        "customer_id": c.customer_id[j],
        # The phone on file when the customer was listed.
        "phone": np.where(c.phone_date[j] <= consent.dnc_date[j], c.new_phone[j], c.phone[j]),
        "listed_at": fmt_ts(listed_at),
        "reason": consent.dnc_reason[j],
    }
    dnc = routed(dnc, np.maximum(consent.dnc_date[j], plan.start64), c.customer_id[j], c.customer_id[j])
    return {"consents": consents, "do_not_contact": dnc}

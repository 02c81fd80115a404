"""The generation plan: everything decided once, on the driver, before customers are generated.

A plan is a pure function of the command's parameters (scale, seed, start, months, defect rate).
It holds the calendar, the customer blocks, and the few things shared by all customers
(products, campaigns, FX rates, compromised merchants, the schema-drift dates). Blocks of
customers are then generated independently from ``(seed, block id)``, so the content never
depends on how Spark partitions the work.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from finlake.generator import reference as ref
from finlake.generator.errors import GeneratorError

CUSTOMERS_AT_SCALE_1 = 100_000
BLOCK_SIZE = 250  # customers per independently seeded block; fixed so content ignores partitioning
MERCHANTS_PER_POOL_AT_SCALE_1 = 300  # merchants per (city, mcc)


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    """A numpy Generator for one named stream of one entity, e.g. ``(seed, STREAM_FX)``."""
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


# Stream ids: each random decision family has its own generator, so adding draws to one family
# does not shift the others.
STREAM_PLAN = 1
STREAM_CUSTOMERS = 10
STREAM_ACCOUNTS = 11
STREAM_TXNS = 13
STREAM_FRAUD = 14
STREAM_ENGAGEMENT = 15
STREAM_DEFECTS = 16
STREAM_BALANCES = 17


@dataclass(frozen=True)
class Plan:
    """Parameters and shared decisions of one generation run."""

    scale: float
    seed: int
    start: dt.date
    months: int
    defect_rate: float
    n_customers: int
    merchants_per_pool: int
    products: pd.DataFrame
    campaigns: pd.DataFrame  # campaign_id, product_id, channel, start_date, end_date (datetime64[D])
    fx_rates: pd.DataFrame  # rate_date, currency, cny_per_unit
    compromised: pd.DataFrame  # merchant_id, city, mcc, start, end (datetime64[D])
    drift_from: dt.date | None  # first batch of transactions schema v2
    renamed_batch: dt.date | None  # the one transactions batch whose header renames mcc

    @property
    def end(self) -> dt.date:
        """First date after the period."""
        year, month = divmod(self.start.month - 1 + self.months, 12)
        return dt.date(self.start.year + year, month + 1, self.start.day)

    @property
    def n_days(self) -> int:
        return (self.end - self.start).days

    @property
    def n_blocks(self) -> int:
        return math.ceil(self.n_customers / BLOCK_SIZE)

    @property
    def start64(self) -> np.datetime64:
        return np.datetime64(self.start, "D")

    @property
    def end64(self) -> np.datetime64:
        return np.datetime64(self.end, "D")

    def dates(self) -> np.ndarray:
        """Every business date of the period (datetime64[D])."""
        return np.arange(self.start64, self.end64)

    def month_ends(self) -> np.ndarray:
        """Last calendar day of each month that ends inside the period (datetime64[D])."""
        months = np.arange(self.start64.astype("datetime64[M]"), self.end64.astype("datetime64[M]"))
        ends = (months + 1).astype("datetime64[D]") - 1
        return ends[(ends >= self.start64) & (ends < self.end64)]

    def block_customers(self, block: int) -> np.ndarray:
        """Customer ordinals (1-based) of a block."""
        lo = block * BLOCK_SIZE + 1
        return np.arange(lo, min(lo + BLOCK_SIZE, self.n_customers + 1))


def make_plan(scale: float, seed: int, start: dt.date, months: int, defect_rate: float) -> Plan:
    """Validate the parameters and decide everything shared by all customers."""
    if not scale > 0:
        raise GeneratorError(f"--scale must be positive (got {scale}); 1 = 100,000 customers, 0.01 = test size")
    if not 1 <= months <= 60:
        raise GeneratorError(f"--months must be between 1 and 60 (got {months})")
    if not 0 <= defect_rate <= 0.05:
        raise GeneratorError(
            f"--defect-rate must be between 0 and 0.05 (got {defect_rate}); it is the share of rows "
            "hit by each defect kind, and 12 kinds at 5% already spoil half the rows"
        )
    if start.day > 28:
        raise GeneratorError(f"--start must be a day 1..28 so months have the same length (got {start})")
    n_customers = max(1, round(CUSTOMERS_AT_SCALE_1 * scale))
    rng = rng_for(seed, STREAM_PLAN)
    shell = Plan(
        scale=scale, seed=seed, start=start, months=months, defect_rate=defect_rate,
        n_customers=n_customers,
        merchants_per_pool=max(20, round(MERCHANTS_PER_POOL_AT_SCALE_1 * min(scale, 1.0) ** 0.5)),
        products=_products(), campaigns=pd.DataFrame(), fx_rates=pd.DataFrame(), compromised=pd.DataFrame(),
        drift_from=None, renamed_batch=None,
    )
    drift_from = renamed = None
    if defect_rate > 0:
        n = shell.n_days
        drift_from = start + dt.timedelta(days=int(n * 0.6))
        renamed = start + dt.timedelta(days=int(rng.integers(1, max(2, int(n * 0.5)))))
    return Plan(
        **{**shell.__dict__,
           "campaigns": _campaigns(shell, rng),
           "fx_rates": _fx_rates(shell, rng),
           "compromised": _compromised_merchants(shell, rng),
           "drift_from": drift_from,
           "renamed_batch": renamed}
    )


def _products() -> pd.DataFrame:
    return pd.DataFrame(ref.PRODUCTS, columns=["product_id", "product_type", "name", "risk_rating", "min_amount", "expected_yield"])


def _campaigns(plan: Plan, rng: np.random.Generator) -> pd.DataFrame:
    """Two campaigns a month, each for one product on one channel, running two to four weeks."""
    months = np.arange(plan.start64.astype("datetime64[M]"), plan.end64.astype("datetime64[M]"))
    rows = []
    for m in months:
        first = max(m.astype("datetime64[D]"), plan.start64)
        for _ in range(2):
            start = first + int(rng.integers(0, 20))
            end = min(start + int(rng.integers(14, 29)), plan.end64 - 1)
            rows.append((
                f"CMP{len(rows) + 1:04d}",
                ref.CAMPAIGN_PRODUCTS[rng.integers(0, len(ref.CAMPAIGN_PRODUCTS))],
                ref.CONTACT_CHANNELS[rng.choice(4, p=[0.4, 0.2, 0.3, 0.1])],
                first, start, end,
            ))
    frame = pd.DataFrame(rows, columns=["campaign_id", "product_id", "channel", "announce_date", "start_date", "end_date"])
    frame["product_type"] = frame["product_id"].map(ref.PRODUCT_TYPE_OF)
    return frame


def _fx_rates(plan: Plan, rng: np.random.Generator) -> pd.DataFrame:
    """Daily CNY rates: a small random walk around today's typical levels."""
    dates = plan.dates()
    frames = []
    for cur in ref.FOREIGN_CURRENCIES:
        walk = np.exp(np.cumsum(rng.normal(0, 0.003, len(dates))))
        frames.append(pd.DataFrame({"rate_date": dates, "currency": cur, "cny_per_unit": ref.FX_BASE[cur] * walk}))
    return pd.concat(frames, ignore_index=True).sort_values(["rate_date", "currency"], ignore_index=True)


def _compromised_merchants(plan: Plan, rng: np.random.Generator) -> pd.DataFrame:
    """Popular everyday merchants whose card data leaks during a 3-5 week window."""
    popular_mcc = ["5411", "5812", "5541", "5311"]
    n = 4
    cities = rng.choice(len(ref.CITIES), n, replace=False, p=ref.CITY_WEIGHTS)
    mccs = [popular_mcc[i % len(popular_mcc)] for i in range(n)]
    starts = plan.start64 + rng.integers(20, max(21, plan.n_days - 60), n)
    ends = starts + rng.integers(21, 36, n)
    return pd.DataFrame({
        "merchant_id": [merchant_id(c, ref.SPEND_MCC.index(m), 0) for c, m in zip(cities, mccs)],
        "city": cities, "mcc": mccs, "start": starts, "end": ends,
    })


def merchant_id(city: int, mcc_index: int, rank: int) -> str:
    """Merchant ids encode their pool: city (2 digits), spend category (2), popularity rank (4)."""
    return f"M{city:02d}{mcc_index:02d}{rank:04d}"

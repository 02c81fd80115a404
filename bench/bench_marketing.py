"""Must-show marketing figures on generated data, measured against the planted truth (docs/marketing.md).

    .venv/bin/python bench/bench_marketing.py [--scale 0.01] [--seed 42] [--as-of 2024-09-30] [--workdir DIR]

Builds the lake when needed: generates ``--scale``/``--seed`` landing data under
``<workdir>/marketing`` (one lake per workdir; kept when already there), then runs
the whole graph (``finlake run --as-of``; the run ledger skips the stages already done for that
date, so a second invocation only recomputes the figures). The default ``--as-of`` is a month end
whose 90 following days lie inside the generated year, so every customer has a churn label.
Then, at the run's cut-off (the first day after ``--as-of``):

(a) retention: the share of planted churners (``_truth/churn_monthly``, churned within 90 days
    of ``--as-of``) in audiences.retention (every row: contact, control and capped) against the
    share in the whole population, i.e. a random audience of the same size on average; lift =
    the ratio. ``random_draws_at_least_as_good`` is the share of 10,000 random audiences of the
    same size holding at least as many churners (a permutation p-value).
(b) cross-sell: a recommendation hits when its product type is one the customer's planted
    persona has a strong affinity for (``finlake.generator.reference.AFFINITY`` >= 1.5, the
    multiplier of campaign response and product interest). Hit rates at 1 and 3 of
    marts.next_best_product (ALS) and of a popularity baseline (the most held product types the
    customer does not hold), over the customers with at least one such product not held.
(c) lookalike: a seed of half the customers of one persona (``--persona``, drawn with a fixed
    seed): the recovery lift of ``build_lookalike``'s own evaluation (held-out seeds) and the
    persona lift of the expansion (share of the persona's other customers in the expansion
    against their share of the candidates).

Printed and written to ``bench/results/marketing.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results" / "marketing.json"
STRONG_AFFINITY = 1.5
RANDOM_DRAWS = 10_000


def build_lake(spark, scale: float, seed: int, as_of: date, workdir: Path):
    from finlake.generator import generate
    from finlake.lake import Lake
    from finlake.runs import run_pipeline
    from finlake.settings import load_settings

    settings = load_settings(overrides={"home": str(workdir / "marketing"),
                                        "pii_key": "bench-key-not-a-secret-0123456789"})
    landing = Path(settings.landing_root)
    marker = landing / "_generation.json"
    if not marker.is_file():
        generate(spark, landing, scale=scale, seed=seed)
    generated = json.loads(marker.read_text())
    if (generated["scale"], generated["seed"]) != (scale, seed):
        raise SystemExit(f"{landing} holds scale {generated['scale']} seed {generated['seed']}, not scale {scale} "
                         f"seed {seed}; pass another --workdir")
    lake = Lake(spark, settings)
    started = time.perf_counter()
    report = run_pipeline(lake, as_of)
    if report.exit_code:
        raise SystemExit(f"finlake run --as-of {as_of} failed ({report.exit_code}): {report.error}")
    return lake, landing, round(time.perf_counter() - started, 1)


def retention_lift(lake, landing: Path, as_of: date, cutoff: date) -> dict:
    from pyspark.sql import functions as F

    truth = pd.read_parquet(landing / "_truth" / "churn_monthly")
    labels = truth[truth["month_end"] == pd.Timestamp(as_of)].set_index("customer_id")["churned_90d"]
    population = [r[0] for r in lake.read("features.customer_monthly").where(F.col("as_of") == F.lit(cutoff))
                  .select("customer_id").collect()]
    audience = [r[0] for r in lake.read("audiences.retention").where(F.col("as_of") == F.lit(cutoff))
                .select("customer_id").collect()]
    churned = labels.reindex(population).fillna(False).astype(bool)
    in_audience = int(churned.reindex(audience).fillna(False).sum())
    base = float(churned.mean())
    share = in_audience / len(audience) if audience else float("nan")
    # The churn-risk filter alone (deciles 1-2 of scores.churn, no AUM tier): the audience's
    # model part on a group large enough to measure at small scales.
    risky = [r[0] for r in lake.read("scores.churn").where((F.col("as_of") == F.lit(cutoff)) & (F.col("decile") <= 2))
             .select("customer_id").collect()]
    in_risky = int(churned.reindex(risky).fillna(False).sum())
    risky_share = in_risky / len(risky) if risky else float("nan")
    return {"population": len(population), "planted_churners": int(churned.sum()), "audience_size": len(audience),
            "churners_in_audience": in_audience, "audience_churner_share": share,
            "random_audience_churner_share": base, "lift": share / base if base else None,
            "random_draws_at_least_as_good": _at_least_as_good(churned, len(audience), in_audience),
            "churn_deciles_1_2": {"size": len(risky), "churners": in_risky, "churner_share": risky_share,
                                  "lift": risky_share / base if base else None,
                                  "random_draws_at_least_as_good": _at_least_as_good(churned, len(risky), in_risky)}}


def _at_least_as_good(churned: pd.Series, size: int, hits: int) -> float:
    """Share of RANDOM_DRAWS random audiences of ``size`` holding at least ``hits`` churners (a p-value)."""
    rng = np.random.default_rng(7)
    values = churned.to_numpy()
    draws = np.array([values[rng.choice(len(values), size, replace=False)].sum() for _ in range(RANDOM_DRAWS)])
    return float((draws >= hits).mean())


def crosssell_hit_rates(lake, landing: Path, cutoff: date) -> dict:
    from pyspark.sql import functions as F

    from finlake.generator import reference as ref
    from finlake.marketing.crosssell import NEXT_BEST_TABLE, holdings

    personas = pd.read_parquet(landing / "_truth" / "personas").set_index("customer_id")["persona"]
    strong = {p: {t for t, a in zip(ref.OPTIONAL_PRODUCTS, ref.AFFINITY[i]) if a >= STRONG_AFFINITY}
              for i, p in enumerate(ref.PERSONA_NAMES)}
    held = holdings(lake.read("cleaned.accounts"), cutoff).toPandas()
    owned = held.groupby("customer_id")["product_type"].agg(set)
    popularity = list(held["product_type"].value_counts().index)  # most held first
    recs = (lake.read(NEXT_BEST_TABLE).where(F.col("as_of") == F.lit(cutoff)).toPandas()
            .sort_values(["customer_id", "position"]).groupby("customer_id")["product_type"].agg(list))
    counts = {"als_at_1": 0, "als_at_3": 0, "popularity_at_1": 0, "popularity_at_3": 0}
    evaluated = 0
    for customer, ranked in recs.items():
        has = owned.get(customer, set())
        targets = strong.get(personas.get(customer), set()) - has
        if not targets:
            continue
        evaluated += 1
        popular = [t for t in popularity if t not in has]
        counts["als_at_1"] += ranked[0] in targets
        counts["als_at_3"] += bool(set(ranked[:3]) & targets)
        counts["popularity_at_1"] += bool(popular) and popular[0] in targets
        counts["popularity_at_3"] += bool(set(popular[:3]) & targets)
    return {"customers_with_recommendations": len(recs), "customers_evaluated": evaluated,
            "strong_affinity": {p: sorted(s) for p, s in strong.items()}, "popularity_order": popularity,
            **{f"hit_rate_{k}": v / evaluated for k, v in counts.items()}}


def lookalike_lift(lake, landing: Path, cutoff: date, persona: str, size: int, workdir: Path) -> dict:
    from pyspark.sql import functions as F

    from finlake.marketing.lookalike import LOOKALIKE_TABLE, build_lookalike

    personas = pd.read_parquet(landing / "_truth" / "personas")
    active = {r[0] for r in lake.read("features.customer_monthly").where(F.col("as_of") == F.lit(cutoff))
              .select("customer_id").collect()}
    members = sorted(set(personas.loc[personas["persona"] == persona, "customer_id"]) & active)
    rng = np.random.default_rng(11)
    seed = sorted(rng.choice(members, len(members) // 2, replace=False))
    path = workdir / f"seed_{persona}.csv"
    pd.DataFrame({"customer_id": seed}).to_csv(path, index=False)
    started = time.perf_counter()
    result = build_lookalike(lake, "bench-marketing", str(path), f"bench_{persona}", size, as_of=cutoff)
    seconds = round(time.perf_counter() - started, 1)
    expansion = {r[0] for r in lake.read(LOOKALIKE_TABLE)
                 .where((F.col("name") == f"bench_{persona}") & (F.col("as_of") == F.lit(cutoff)))
                 .select("customer_id").collect()}
    rest = set(members) - set(seed)
    candidates = len(active) - len(seed)
    e = result.evaluation
    persona_share = len(expansion & rest) / len(expansion)
    return {"persona": persona, "persona_customers": len(members), "seed_size": len(seed), "expansion_size": size,
            "seconds": seconds, "held_out": e.held_out, "recovered": e.recovered, "recall": e.recall,
            "random_recall": e.expansion_share, "recovery_lift": e.lift,
            "expansion_persona_share": persona_share, "candidates_persona_share": len(rest) / candidates,
            "persona_lift": persona_share / (len(rest) / candidates)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2024, 9, 30),
                        help="run business date, a month end with 90 labelled days after it")
    parser.add_argument("--persona", default="affluent_investor", help="planted persona of the lookalike seed")
    parser.add_argument("--lookalike-size", type=int, default=50)
    parser.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent / "work")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)

    from finlake.runs.registry import month_cutoff
    from finlake.settings import load_settings
    from finlake.spark import get_spark

    base = load_settings()
    spark = get_spark(load_settings(overrides={"spark_conf": {"spark.driver.memory": "2g", **base.spark_conf}}),
                      "finlake-bench-marketing")
    load_start = os.getloadavg()
    lake, landing, run_seconds = build_lake(spark, args.scale, args.seed, args.as_of, args.workdir)
    cutoff = month_cutoff(args.as_of)
    figures = {
        "retention": retention_lift(lake, landing, args.as_of, cutoff),
        "crosssell": crosssell_hit_rates(lake, landing, cutoff),
        "lookalike": lookalike_lift(lake, landing, cutoff, args.persona, args.lookalike_size,
                                    Path(lake.settings.home)),
    }
    result = {
        "benchmark": "marketing must-show figures against the planted truth",
        "command": f"bench/bench_marketing.py --scale {args.scale:g} --seed {args.seed} --as-of {args.as_of} "
                   f"--persona {args.persona} --lookalike-size {args.lookalike_size}",
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "as_of": args.as_of.isoformat(), "cutoff": cutoff.isoformat(), "run_seconds": run_seconds,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_average_start": load_start,
                    "load_average_end": os.getloadavg()},
        **figures,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str) + "\n")
    r, c, k = figures["retention"], figures["crosssell"], figures["lookalike"]
    print(f"(a) retention: {r['churners_in_audience']}/{r['audience_size']} planted churners = "
          f"{r['audience_churner_share']:.1%} vs {r['random_audience_churner_share']:.1%} in a random audience, "
          f"lift {r['lift']:.2f} (random draws as good: {r['random_draws_at_least_as_good']:.2%})")
    d = r["churn_deciles_1_2"]
    print(f"    churn deciles 1-2 alone: {d['churners']}/{d['size']} = {d['churner_share']:.1%}, lift {d['lift']:.2f} "
          f"(random draws as good: {d['random_draws_at_least_as_good']:.2%})")
    print(f"(b) cross-sell over {c['customers_evaluated']} customers: hit@1 ALS {c['hit_rate_als_at_1']:.1%} vs "
          f"popularity {c['hit_rate_popularity_at_1']:.1%}; hit@3 ALS {c['hit_rate_als_at_3']:.1%} vs "
          f"popularity {c['hit_rate_popularity_at_3']:.1%}")
    print(f"(c) lookalike from {k['seed_size']} {k['persona']}: held-out recovery {k['recall']:.1%} vs "
          f"{k['random_recall']:.1%} at random, lift {k['recovery_lift']:.2f}; expansion of {k['expansion_size']} is "
          f"{k['expansion_persona_share']:.1%} {k['persona']} vs {k['candidates_persona_share']:.1%}, "
          f"lift {k['persona_lift']:.2f}")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Pure pieces of the generator: identity numbers and the churn oracle."""

from __future__ import annotations

import numpy as np

from finlake.generator import churn as churn_model
from finlake.generator.identity import resident_id_check_char, resident_ids


def test_resident_id_check_character_matches_the_gb11643_example():
    assert resident_id_check_char("11010519491231002") == "X"


def test_resident_ids_embed_area_birth_date_and_sex():
    rng = np.random.default_rng(0)
    ids = resident_ids(np.array(["310101", "440303"], dtype=object), np.array(["1990-07-15", "1962-01-02"], dtype="datetime64[D]"),
                       np.array([True, False]), rng)
    assert [i[:14] for i in ids] == ["31010119900715", "44030319620102"]
    assert int(ids[0][16]) % 2 == 1 and int(ids[1][16]) % 2 == 0
    assert all(resident_id_check_char(i[:17]) == i[17] for i in ids)


def test_churn_oracle_matches_a_simulation_of_the_generating_process():
    """P(churn within 90 days) from the formula equals the frequency in simulated customers."""
    rng = np.random.default_rng(1)
    n = 200_000
    hazard = np.full(n, 0.002)
    earliest = np.full(n, np.datetime64("2024-01-01"))
    onset, churn = churn_model.sample_churn(hazard, earliest, rng)
    as_of = np.full(n, np.datetime64("2024-06-30"))
    alive = churn > as_of
    p = churn_model.p_churn_within(as_of[alive], onset[alive], hazard[alive], earliest[alive])
    happened = churn[alive] <= as_of[alive] + 90
    assert abs(p.mean() - happened.mean()) < 0.005
    started = onset[alive] <= as_of[alive]
    assert abs(p[started].mean() - happened[started].mean()) < 0.01

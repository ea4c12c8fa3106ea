"""Statistics: t intervals against scipy and a published t quantile, paired differences by hand, the bootstrap
on a synthetic case with a known answer, and the verdict rule's truth table."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from hmr_bench.errors import InputError
from hmr_bench.eval import stats as S


def claim(direction=1, effect=None):
    return S.Claim("t2-no-lcam-mpjpe", "removing L_cam raises MPJPE", "table2", "mpjpe", "no-lcam", "full",
                   direction, effect)


def test_mean_ci_matches_scipy_t_interval():
    values = [80.8, 81.9, 80.1, 82.4, 81.0]
    ci = S.mean_ci(values, level=0.95)
    low, high = sps.t.interval(0.95, df=4, loc=np.mean(values), scale=sps.sem(values))
    assert ci.mean == pytest.approx(np.mean(values))
    assert (ci.low, ci.high) == pytest.approx((low, high), rel=1e-12)
    assert ci.n == 5 and ci.method == "t" and ci.defined
    ci90 = S.mean_ci(values, level=0.9)
    assert ci90.half_width < ci.half_width


def test_mean_ci_by_hand_with_a_published_t_quantile():
    ci = S.mean_ci([1, 2, 3, 4, 5])
    # s = √2.5, t_{0.975, 4} = 2.7764 (standard t tables)
    assert ci.mean == 3.0
    assert ci.half_width == pytest.approx(2.7764 * math.sqrt(2.5) / math.sqrt(5), rel=1e-4)


def test_mean_ci_single_seed_is_undefined():
    ci = S.mean_ci([42.0])
    assert ci.mean == 42.0 and math.isnan(ci.low) and math.isnan(ci.high) and math.isnan(ci.half_width)
    assert not ci.defined


def test_mean_ci_bad_input():
    with pytest.raises(InputError, match="non-finite"):
        S.mean_ci([1.0, float("nan")])
    with pytest.raises(InputError, match="non-empty"):
        S.mean_ci([])
    with pytest.raises(InputError, match="level"):
        S.mean_ci([1.0, 2.0], level=95)


def test_paired_difference_by_hand():
    row, ref = [83.1, 83.9, 82.6], [80.8, 81.2, 80.9]
    d = [83.1 - 80.8, 83.9 - 81.2, 82.6 - 80.9]  # 2.3, 2.7, 1.7
    mean = sum(d) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 2)
    half = sps.t.ppf(0.975, 2) * sd / math.sqrt(3)
    ci = S.paired_difference(row, ref)
    assert ci.mean == pytest.approx(mean) and ci.half_width == pytest.approx(half)
    # the same seeds as mappings, in another order, pair by seed
    ci_map = S.paired_difference({2: 82.6, 0: 83.1, 1: 83.9}, {0: 80.8, 1: 81.2, 2: 80.9})
    assert (ci_map.mean, ci_map.low, ci_map.high) == pytest.approx((ci.mean, ci.low, ci.high))
    # paired is tighter than the unpaired spread of the rows here (shared seed effects cancel)
    assert ci.half_width < S.mean_ci(row).half_width


def test_paired_difference_requires_the_same_seeds():
    with pytest.raises(InputError, match="same seeds"):
        S.paired_difference({0: 1.0, 1: 2.0}, {0: 1.0, 2: 2.0})
    with pytest.raises(InputError, match="one per seed"):
        S.paired_difference([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(InputError, match="same kind"):
        S.paired_difference({0: 1.0}, [1.0])


def test_bootstrap_contains_the_true_difference_and_has_the_normal_width():
    rng = np.random.default_rng(0)
    n = 2000
    base = rng.gamma(4.0, 15.0, size=n)  # per-sample errors of the reference
    a = base + 2.0 + rng.normal(0.0, 1.0, size=n)  # true mean difference 2.0, σ = 1
    ci = S.paired_bootstrap(a, base, n_boot=4000, seed=1)
    assert ci.method == "bootstrap" and ci.n == n and ci.defined
    assert ci.low < 2.0 < ci.high
    assert ci.mean == pytest.approx(np.mean(a - base))
    normal_half = 1.96 * np.std(a - base, ddof=1) / math.sqrt(n)  # ≈ 0.044
    assert ci.half_width == pytest.approx(normal_half, rel=0.15)


def test_bootstrap_is_deterministic_per_seed_and_pools_seeds_by_sample():
    rng = np.random.default_rng(1)
    a, b = rng.normal(50, 5, size=(3, 300)), rng.normal(49, 5, size=(3, 300))
    c1 = S.paired_bootstrap(a, b, n_boot=500, seed=7)
    c2 = S.paired_bootstrap(a, b, n_boot=500, seed=7)
    c3 = S.paired_bootstrap(a, b, n_boot=500, seed=8)
    assert (c1.low, c1.high) == (c2.low, c2.high)
    assert (c1.low, c1.high) != (c3.low, c3.high)
    # (S, N): the per-sample differences averaged over seeds, then samples resampled
    d = (a - b).mean(0)
    c4 = S.paired_bootstrap(d, np.zeros_like(d), n_boot=500, seed=7)
    assert (c1.mean, c1.low, c1.high) == pytest.approx((c4.mean, c4.low, c4.high))


def test_bootstrap_bad_input():
    with pytest.raises(InputError, match="equal shapes"):
        S.paired_bootstrap(np.zeros(5), np.zeros(6))
    with pytest.raises(InputError, match="n_boot"):
        S.paired_bootstrap(np.zeros(5), np.zeros(5), n_boot=10)
    with pytest.raises(InputError, match="non-finite"):
        S.paired_bootstrap(np.array([1.0, np.nan]), np.zeros(2))


@pytest.mark.parametrize(("direction", "ci", "expected"), [
    (+1, (0.5, 3.0), S.REPRODUCED),
    (+1, (-3.0, -0.5), S.CONTRADICTED),
    (+1, (-1.0, 2.0), S.INCONCLUSIVE),
    (+1, (0.0, 2.0), S.INCONCLUSIVE),  # a bound at 0 does not exclude 0
    (+1, (math.nan, math.nan), S.INCONCLUSIVE),
    (+1, None, S.INCONCLUSIVE),
    (-1, (-3.0, -0.5), S.REPRODUCED),
    (-1, (0.5, 3.0), S.CONTRADICTED),
    (-1, (-1.0, 2.0), S.INCONCLUSIVE),
    (-1, (-2.0, 0.0), S.INCONCLUSIVE),
])
def test_verdict_truth_table(direction, ci, expected):
    measured = 1.0 if ci is None or math.isnan(ci[0]) else (ci[0] + ci[1]) / 2
    assert S.verdict(claim(direction), measured, ci) == expected


def test_verdict_with_intervals_and_nan_measurement():
    c = claim(+1, 2.3)
    assert S.verdict(c, 2.0, S.paired_difference([83.1, 83.9, 82.6], [80.8, 81.2, 80.9])) == S.REPRODUCED
    assert S.verdict(c, 2.3, S.mean_ci([2.3])) == S.INCONCLUSIVE  # one seed, no bootstrap
    assert S.verdict(c, math.nan, (1.0, 2.0)) == S.INCONCLUSIVE
    with pytest.raises(InputError, match="low ≤ high"):
        S.verdict(c, 1.0, (2.0, 1.0))


def test_assess_reports_magnitude_beside_the_verdict():
    ci = S.paired_difference([83.1, 83.9, 82.6], [80.8, 81.2, 80.9])
    a = S.assess(claim(+1, 2.3), ci)
    assert a.verdict == S.REPRODUCED and a.measured == pytest.approx(2.2333333)
    assert a.effect_ratio == pytest.approx(2.2333333 / 2.3) and a.paper_effect == 2.3
    assert a.rule == S.VERDICT_RULE
    # a much smaller effect of the right sign is still "reproduced": magnitude is not part of the verdict
    small = S.assess(claim(+1, 2.3), S.Interval(0.2, 0.1, 0.3, 3, 0.95, "t"))
    assert small.verdict == S.REPRODUCED and small.effect_ratio == pytest.approx(0.2 / 2.3)
    assert S.assess(claim(-1), S.Interval(-0.2, -0.3, -0.1, 3, 0.95, "t")).effect_ratio is None


def test_claim_validation_and_rule_text():
    with pytest.raises(InputError, match="direction"):
        claim(direction=0)
    with pytest.raises(InputError, match="paper_effect"):
        claim(direction=+1, effect=-2.3)
    for word in ("REPRODUCED", "CONTRADICTED", "INCONCLUSIVE", "excludes 0"):
        assert word in S.VERDICT_RULE

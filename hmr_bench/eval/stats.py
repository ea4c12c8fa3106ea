"""Statistics across seeds and a verdict per paper claim (design.md, Statistics).

Every ablation row is trained with the same N seeds, so a row and its reference are compared PAIRED:
difference per seed (row − reference), then its mean and a Student-t interval (`paired_difference`). With one
seed the t interval does not exist (NaN); `paired_bootstrap` then gives an interval over the per-sample
differences on the test set, which measures test-set sampling only, not training randomness.

A `Claim` states the direction of an effect the paper reports ("removing L_cam raises MPJPE", +2.3 mm);
`verdict` applies `VERDICT_RULE` to the measured interval; `assess` adds the magnitude beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from hmr_bench.errors import InputError

REPRODUCED, CONTRADICTED, INCONCLUSIVE = "reproduced", "contradicted", "inconclusive"
VERDICTS = (REPRODUCED, CONTRADICTED, INCONCLUSIVE)
VERDICT_RULE = (
    "Verdict on the confidence interval (CI) of the measured difference row − reference (paired over the same "
    "seeds): REPRODUCED if the CI excludes 0 and lies on the side of the paper's effect; CONTRADICTED if the CI "
    "excludes 0 on the opposite side; INCONCLUSIVE otherwise (the CI contains 0, or there is no CI: fewer than 2 "
    "seeds and no bootstrap CI). 'Excludes 0' is strict (a bound equal to 0 does not exclude it). The magnitude "
    "(measured effect vs the paper's) is reported beside the verdict and is not part of it."
)
CI_METHODS = ("t", "bootstrap")


@dataclass(frozen=True)
class Interval:
    """A mean with a confidence interval [low, high] at `level`; NaN bounds mean "no interval" (n < 2 for t).

    n: seeds (t) or test samples (bootstrap); method: "t" | "bootstrap".
    """

    mean: float
    low: float
    high: float
    n: int
    level: float
    method: str

    @property
    def half_width(self) -> float:
        """(high − low) / 2: the ± of a t interval (symmetric); NaN when there is no interval."""
        return (self.high - self.low) / 2

    @property
    def defined(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)


def _values(x, source: str, field: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise InputError(source, field, found=f"shape {a.shape}", expected="a non-empty 1-D sequence (one per seed)")
    if not np.all(np.isfinite(a)):
        raise InputError(source, field, found=f"non-finite values {a[~np.isfinite(a)].tolist()}",
                         expected="finite numbers (drop failed runs first and report them)")
    return a


def _check_level(level: float, source: str) -> None:
    if not 0 < level < 1:
        raise InputError(source, "level", found=repr(level), expected="a confidence level in (0, 1), e.g. 0.95")


def mean_ci(values, level: float = 0.95) -> Interval:
    """Mean over seeds with a two-sided Student-t interval: mean ± t_{(1+level)/2, n−1} · s / √n (s: ddof = 1).

    values: (n,) finite numbers. n = 1: the interval is undefined (low = high = NaN; the verdict is then
    inconclusive unless a bootstrap interval is used). Returns an `Interval` (method "t").
    """
    _check_level(level, "mean_ci")
    a = _values(values, "mean_ci", "values")
    m, n = float(a.mean()), a.size
    if n < 2:
        return Interval(m, math.nan, math.nan, n, level, "t")
    half = float(sps.t.ppf(0.5 + level / 2, n - 1) * a.std(ddof=1) / math.sqrt(n))
    return Interval(m, m - half, m + half, n, level, "t")


def _paired(a, b) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(a, Mapping) != isinstance(b, Mapping):
        raise InputError("paired_difference", "b", found=type(b).__name__, expected=f"the same kind as a "
                         f"({type(a).__name__}): both sequences in seed order or both {{seed: value}}")
    if isinstance(a, Mapping):
        if set(a) != set(b):
            raise InputError("paired_difference", "seeds", found=f"row seeds {sorted(a)} vs reference {sorted(b)}",
                             expected="the same seeds in both (a paired comparison)")
        keys = sorted(a)
        a, b = [a[k] for k in keys], [b[k] for k in keys]
    va, vb = _values(a, "paired_difference", "a"), _values(b, "paired_difference", "b")
    if va.shape != vb.shape:
        raise InputError("paired_difference", "b", found=f"{vb.size} values", expected=f"{va.size} (one per seed of a)")
    return va, vb


def paired_difference(a: Sequence[float] | Mapping, b: Sequence[float] | Mapping, level: float = 0.95) -> Interval:
    """Mean and t interval of the per-seed differences a − b (row − reference, same seeds).

    a, b: sequences in the same seed order, or {seed: value} mappings with the same seeds.
    """
    va, vb = _paired(a, b)
    return mean_ci(va - vb, level)


def paired_bootstrap(per_sample_a, per_sample_b, n_boot: int = 10000, seed: int = 0,
                     level: float = 0.95) -> Interval:
    """Percentile bootstrap CI of the mean paired difference a − b over test samples.

    per_sample_a, per_sample_b: (N,) per-sample errors of one seed, or (S, N) of S seeds on the SAME N test
    samples in the same order. The per-sample differences are averaged over seeds, then the N samples are
    resampled with replacement `n_boot` times (the same draw for every seed); the interval holds the
    (1 − level)/2 and (1 + level)/2 quantiles of the resampled means. It captures test-set sampling only (not
    seed-to-seed variation), so it is usable with one seed but narrower than the t interval across seeds.
    Deterministic for a given `seed`. Returns an `Interval` (method "bootstrap", n = N, mean = the full mean).
    """
    _check_level(level, "paired_bootstrap")
    if int(n_boot) < 100:
        raise InputError("paired_bootstrap", "n_boot", found=repr(n_boot), expected="≥ 100 resamples")
    a = np.asarray(per_sample_a, dtype=np.float64)
    b = np.asarray(per_sample_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim not in (1, 2) or a.shape[-1] == 0:
        raise InputError("paired_bootstrap", "per_sample_b", found=f"shapes {a.shape} and {b.shape}",
                         expected="equal shapes (N,) or (S, N) with N ≥ 1")
    d = a - b
    if not np.all(np.isfinite(d)):
        raise InputError("paired_bootstrap", "per_sample_a / per_sample_b", found="non-finite values",
                         expected="finite per-sample errors")
    d = d.reshape(-1, d.shape[-1]).mean(0)  # (N,)
    n = d.size
    rng = np.random.default_rng(seed)
    means = np.empty(int(n_boot))
    chunk = max(1, min(int(n_boot), 4_000_000 // n))
    for start in range(0, int(n_boot), chunk):
        stop = min(start + chunk, int(n_boot))
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = d[idx].mean(1)
    low, high = np.quantile(means, [0.5 - level / 2, 0.5 + level / 2])
    return Interval(float(d.mean()), float(low), float(high), n, level, "bootstrap")


@dataclass(frozen=True)
class Claim:
    """One claim of the paper about a table: `metric` of `row` vs `reference_row`.

    id: short key ("t2-no-lcam-mpjpe"); text: the claim in words; table: "table2" …; metric: "mpjpe" …;
    direction: +1 if the paper has row's metric HIGHER (worse, for errors) than the reference's, −1 lower;
    paper_effect: the paper's row − reference in the metric's unit (e.g. +2.3 mm), or None (direction only).
    """

    id: str
    text: str
    table: str
    metric: str
    row: str
    reference_row: str
    direction: int
    paper_effect: float | None = None

    def __post_init__(self):
        if self.direction not in (1, -1):
            raise InputError(f"claim '{self.id}'", "direction", found=repr(self.direction),
                             expected="+1 (row higher than reference) or −1 (row lower)")
        if self.paper_effect is not None and self.paper_effect * self.direction < 0:
            raise InputError(f"claim '{self.id}'", "paper_effect", found=repr(self.paper_effect),
                             expected=f"the sign of direction {self.direction:+d}")


def _bounds(ci) -> tuple[float, float]:
    if ci is None:
        return math.nan, math.nan
    if isinstance(ci, Interval):
        return ci.low, ci.high
    low, high = (float(x) for x in ci)
    return low, high


def verdict(claim: Claim, measured_diff: float, ci) -> str:
    """`VERDICT_RULE` applied to a claim: "reproduced" | "contradicted" | "inconclusive".

    measured_diff: the measured row − reference (a NaN one gives "inconclusive"; otherwise it does not enter
    the rule); ci: an `Interval`, a (low, high) pair, or None (no interval → "inconclusive").
    """
    low, high = _bounds(ci)
    if not (math.isfinite(low) and math.isfinite(high)) or not math.isfinite(measured_diff):
        return INCONCLUSIVE
    if low > high:
        raise InputError(f"claim '{claim.id}'", "ci", found=f"({low}, {high})", expected="low ≤ high")
    if low > 0:
        side = 1
    elif high < 0:
        side = -1
    else:
        return INCONCLUSIVE
    return REPRODUCED if side == claim.direction else CONTRADICTED


@dataclass(frozen=True)
class Assessment:
    """A claim's verdict with its magnitude beside it (the magnitude is not part of the verdict).

    measured: row − reference (mean over seeds, or over samples for a bootstrap); ci: its interval;
    effect_ratio: measured / paper_effect (None without a paper effect); rule: `VERDICT_RULE`.
    """

    claim: Claim
    verdict: str
    measured: float
    ci: Interval
    effect_ratio: float | None
    rule: str = VERDICT_RULE

    @property
    def paper_effect(self) -> float | None:
        return self.claim.paper_effect


def assess(claim: Claim, ci: Interval) -> Assessment:
    """Verdict and magnitude of one claim from the interval of its measured difference (`paired_difference`,
    or `paired_bootstrap`)."""
    ratio = None
    if claim.paper_effect:
        ratio = ci.mean / claim.paper_effect
    return Assessment(claim, verdict(claim, ci.mean, ci), ci.mean, ci, ratio)

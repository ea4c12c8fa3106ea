"""Evaluation: per-sample metrics (`metrics`), protocols of the paper's test sets (`protocols`) and statistics
across seeds with a verdict per paper claim (`stats`)."""

from hmr_bench.eval.metrics import mpjpe, pa_mpjpe, pa_pve, per_action_mean, pve
from hmr_bench.eval.protocols import PROTOCOLS, Protocol, evaluate_batch, get_protocol, ground_truth
from hmr_bench.eval.stats import (
    VERDICT_RULE,
    Claim,
    assess,
    mean_ci,
    paired_bootstrap,
    paired_difference,
    verdict,
)

__all__ = [
    "PROTOCOLS", "VERDICT_RULE", "Claim", "Protocol", "assess", "evaluate_batch", "get_protocol", "ground_truth",
    "mean_ci", "mpjpe", "pa_mpjpe", "pa_pve", "paired_bootstrap", "paired_difference", "per_action_mean", "pve",
    "verdict",
]

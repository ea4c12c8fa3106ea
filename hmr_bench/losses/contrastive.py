"""Contrastive loss L_cont between RoI embeddings (spec §4.2, paper Eq. 17, §8 item 6).

Embeddings z: (B, M, d), flattened sample-major (row k = b·M + m, as the official code). Positives of an
anchor are the other M − 1 RoIs of the same sample, negatives all RoIs of the other B − 1 samples (mask
I_B ⊗ 1_{M×M}, `same_sample_mask`). With ẑ = z/‖z‖ and ℓ_ij = ẑ_i·ẑ_j/τ (τ = 0.5):

- ``official`` (SupCon, [C:models/conloss.py::SupConLoss]): the denominator holds positives AND negatives
  (self excluded), D_i = Σ_{j≠i} e^{ℓ_ij}; L_i = −(1/(M−1)) Σ_{j∈pos(i)} (ℓ_ij − log D_i);
  L = τ · mean_i L_i over all B·M anchors.
- ``paper`` (Eq. 17): the denominator holds ONLY negatives, D_i = Σ_{j∈neg(i)} e^{ℓ_ij}; same L_i otherwise,
  same τ in the logits, no ×τ factor. Reduction: the text sums over anchors (i, m); this variant averages
  over the B·M anchors by default so that λcont keeps one meaning at every batch size —
  ``reduction="sum"`` gives the text's sum (= B·M × the mean).

In both, the detached row maximum is subtracted from the logits first (it cancels exactly; it only keeps
exp() finite). ``reduction`` and ``scale_by_temperature`` can override either variant's default.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hmr_bench.errors import InputError, check_variant

CONT_VARIANTS = ("official", "paper")
TEMPERATURE = 0.5
# (reduction over anchors, multiply by τ) per variant
CONT_DEFAULTS = {"official": ("mean", True), "paper": ("mean", False)}


def same_sample_mask(B: int, M: int, device=None) -> torch.Tensor:
    """I_B ⊗ 1_{M×M}: (B·M, B·M) bool, True where rows k and l (k = b·M + m) belong to the same sample."""
    sample = torch.arange(B * M, device=device) // M
    return sample[:, None] == sample[None, :]


def contrastive_loss(z, variant: str = "official", temperature: float = TEMPERATURE,
                     reduction: str | None = None, scale_by_temperature: bool | None = None) -> torch.Tensor:
    """L_cont (see the module docstring for both formulas).

    z: (B, M, d) embeddings, not necessarily normalised, B ≥ 2 (negatives) and M ≥ 2 (positives).
    variant: "official" | "paper"; reduction: None (variant default) | "mean" | "sum" over the B·M anchors;
    scale_by_temperature: None (variant default) | bool. Returns a 0-d tensor.
    A NaN log-probability (the official code raises on one) makes the returned loss NaN, which the training step's
    finiteness check reports as a non-finite "cont" term; no check here, so the step never waits for the device.
    """
    check_variant(variant, CONT_VARIANTS, "contrastive_loss")
    z = torch.as_tensor(z)
    if z.ndim != 3:
        raise InputError("contrastive_loss", "z", found=f"shape {tuple(z.shape)}", expected="shape (B, M, d)")
    B, M, _ = z.shape
    if B < 2:
        raise InputError("contrastive_loss", "z", found=f"batch size B = {B}",
                         expected="B ≥ 2: the negatives of a sample are the RoIs of the other samples")
    if M < 2:
        raise InputError("contrastive_loss", "z", found=f"M = {M} RoI per sample",
                         expected="M ≥ 2: the positives of a RoI are the other RoIs of its sample",
                         hint="leave L_cont out (weight 0) for single-RoI models")
    default_reduction, default_scale = CONT_DEFAULTS[variant]
    reduction = default_reduction if reduction is None else reduction
    check_variant(reduction, ("mean", "sum"), "contrastive_loss", "reduction")
    scale = default_scale if scale_by_temperature is None else scale_by_temperature

    n = B * M
    zn = F.normalize(z.reshape(n, -1), dim=1)
    logits = zn @ zn.T / temperature
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    same = same_sample_mask(B, M, z.device)
    not_self = ~torch.eye(n, dtype=torch.bool, device=z.device)
    positives = same & not_self
    in_denominator = not_self if variant == "official" else ~same
    denom = torch.where(in_denominator, logits.exp(), torch.zeros_like(logits)).sum(dim=1, keepdim=True)
    # No NaN check here (it would wait for the device every step): a NaN log-probability always reaches the loss —
    # a NaN embedding or logit poisons its row's maximum, its denominator or a positive — so the step's finiteness
    # check names "cont".
    log_prob = logits - denom.log()
    per_anchor = -torch.where(positives, log_prob, torch.zeros_like(log_prob)).sum(dim=1) / (M - 1)
    loss = per_anchor.mean() if reduction == "mean" else per_anchor.sum()
    return loss * temperature if scale else loss

"""Camera-consistency loss L_cam between the M RoIs of one person (spec §4.1, paper Eq. 15–16, §8 item 5).

Every RoI m predicts a crop camera C_m = (s_m, tx_m, ty_m). Mapped to the full image with its own box
(`geometry.cameras.crop_to_full`), all M cameras describe the same person, so their full-image translations
t_m = (tx_m + 2(cx_m − W/2)/bs_m, ty_m + 2(cy_m − H/2)/bs_m, 2f/bs_m), bs_m = b_m·s_m + 1e-9, should agree.

Two variants:

- ``official`` (what produced the paper's numbers, [C:trainer_sim.py::camera_losses]): star pairs (0, v),
  v = 0..M−1 (the self-pair v = 0 gives 0 but still counts in the mean), residuals summed before squaring,
  means over all B·M rows::

      L = mean_{b,v} (λx·r_x + λy·r_y)²  +  mean_{b,v} (λs·(bs_v − bs_0))²,   r_x = t_x(0) − t_x(v), r_y likewise

  The weights sit INSIDE the squares; the official defaults λx = λy = 1, λs = 1e-4 reproduce the code
  (effective weight 1e-8 on the squared pixel-scale difference).

- ``paper`` (Eq. 15–16): all ordered pairs (m, n) — m ≠ n, (n, m) counted as well as (m, n) — separate
  squares, weights OUTSIDE the squares, summed over pairs and averaged over the batch::

      L = mean_b Σ_{m≠n} [ λx·(t_x(m) − t_x(n))² + λy·(t_y(m) − t_y(n))² + λs·L_s(m, n) ],
      L_s(m, n) = (bs_m − bs_n)²    (bs = b·s in full-image pixels, the quantity t_z = 2f/bs is made of)

  with the paper's weights λx = λy = 0.1, λs = 1e-4 by default. The text does not define L_s further; the
  pairwise squared difference of b·s (the 1e-9 of bs cancels in it) is this module's reading.

The box (center, b), the image size and f are constants; gradients reach every RoI's (s, tx, ty) (official:
RoI v through its pair (0, v), RoI 0 through all pairs). λcam is applied in `losses.total`.
"""

from __future__ import annotations

import torch

from hmr_bench.errors import InputError, check_variant, require_shape
from hmr_bench.geometry.cameras import BS_EPS, crop_to_full
from hmr_bench.losses._checks import per_sample

CAM_VARIANTS = ("official", "paper")
# (λx, λy, λs) per variant; official: inside the squares, paper: outside (see the module docstring)
CAM_LOSS_DEFAULTS = {"official": (1.0, 1.0, 1e-4), "paper": (0.1, 0.1, 1e-4)}


def full_cameras(cam, center, b, img_w, img_h, focal, source: str = "full_cameras"):
    """Checks per-RoI camera inputs and converts them to full-image cameras with `crop_to_full`.

    cam: (B, M, 3) as (s, tx, ty); center: (B, M, 2) box centres in full-image pixels; b: (B, M) box heights
    (200·S); img_w, img_h, focal: float or (B,). Returns (t_full (B, M, 3), bs (B, M) = b·s + 1e-9,
    (img_w, img_h, focal) as tensors broadcasting over (B, M)).
    """
    cam = torch.as_tensor(cam)
    if cam.ndim != 3 or cam.shape[-1] != 3:
        raise InputError(source, "cam", found=f"shape {tuple(cam.shape)}", expected="shape (B, M, 3) as (s, tx, ty)")
    B, M = cam.shape[:2]
    center = torch.as_tensor(center, dtype=cam.dtype, device=cam.device)
    require_shape(center, (B, M, 2), source, "center", "as (cx, cy) in full-image pixels")
    b = torch.as_tensor(b, dtype=cam.dtype, device=cam.device)
    require_shape(b, (B, M), source, "b", "box height 200·S per RoI")
    w, h, f = (per_sample(v, cam, source, name) for v, name in ((img_w, "img_w"), (img_h, "img_h"),
                                                                  (focal, "focal")))
    t_full = crop_to_full(cam, center, b, w, h, f)
    return t_full, b * cam[..., 0] + BS_EPS, (w, h, f)


def camera_consistency_loss(cam, center, b, img_w, img_h, focal, variant: str = "official",
                            lambda_x: float | None = None, lambda_y: float | None = None,
                            lambda_s: float | None = None) -> torch.Tensor:
    """L_cam (spec §4.1; see the module docstring for both formulas).

    cam: (B, M, 3) as (s, tx, ty); center: (B, M, 2); b: (B, M); img_w, img_h, focal: float or (B,).
    variant: "official" | "paper"; lambda_x/y/s: None = the variant's default (`CAM_LOSS_DEFAULTS`).
    Returns a 0-d tensor. M = 1 gives 0 (no pairs).
    """
    check_variant(variant, CAM_VARIANTS, "camera_consistency_loss")
    dx, dy, ds = CAM_LOSS_DEFAULTS[variant]
    lx = dx if lambda_x is None else lambda_x
    ly = dy if lambda_y is None else lambda_y
    ls = ds if lambda_s is None else lambda_s
    t_full, bs, _ = full_cameras(cam, center, b, img_w, img_h, focal, "camera_consistency_loss")
    tx, ty = t_full[..., 0], t_full[..., 1]
    if variant == "official":
        r_x = tx[:, :1] - tx  # (B, M): pair (0, v)
        r_y = ty[:, :1] - ty
        r_s = ls * (bs - bs[:, :1])
        return (lx * r_x + ly * r_y).pow(2).mean() + r_s.pow(2).mean()
    # paper: all ordered pairs; the diagonal m = n is 0 and does not change the sum
    d_x = tx[:, :, None] - tx[:, None, :]  # (B, M, M)
    d_y = ty[:, :, None] - ty[:, None, :]
    d_s = bs[:, :, None] - bs[:, None, :]
    per_sample_sum = (lx * d_x.pow(2) + ly * d_y.pow(2) + ls * d_s.pow(2)).sum(dim=(1, 2))
    return per_sample_sum.mean()

"""RoI crops cut on the trainer's device: the DataLoader workers decode each image once, the device cuts all M crops.

With ``data.crop_on = "device"`` a sample holds, instead of ``crops``, the decoded ``image`` uint8 (H, W, 3), the M
decoded-image → crop affines ``image_trans`` (M, 2, 3) that the CPU path hands cv2, the colour noise ``pn`` (3,) and
the ``crop_size`` (W_c, H_c); in the shared-backbone mode, instead of ``union``, its affine ``union_trans`` (1, 2, 3)
and ``union_size`` (W_u, H_u) (see `samples`). The loader's collate pads a batch's images with zeros at the bottom
and right to the batch's largest H and W (`loader.collate_samples`); pixel coordinates do not move, and zeros are
what cv2's constant border gives outside an image anyway. Once the batch is on the device, `cut_crops` makes

    crops   uint8 (B, M, 3, H_c, W_c)
    union   uint8 (B, 3, H_u, W_u)       (shared-backbone mode only; a second grid_sample of its own size)

with one batched ``affine_grid`` + ``grid_sample`` (bilinear, zeros outside the image, ``align_corners=False``:
the continuous pixel convention of `images`, pixel centres at j + 0.5) from the uint8 images converted to float32 on
the device, then the same rounding to uint8 and the same colour noise as the CPU path (`images.apply_color_noise`:
rint(clip(crop·pn, 0, 255)) of the rounded crop, in float32). Every other key of the batch, labels included, is
already what the CPU path gives; the device-only keys are dropped, so the batch's keys are the CPU path's.

Agreement with the CPU path (tests/data/test_device_crops.py): OpenCV ≥ 5 samples ``warpAffine`` at exact
floating-point positions, so device and cv2 crops differ by at most 1 intensity level on [0, 255] (rounding of values
that fall within float error of k + 0.5), on every pixel: the border too, where both mix in zeros. OpenCV 4 rounds
each sampling position to 1/32 pixel, which moves values at sharp edges by up to a few levels (|Δ| ≤ the local
gradient per pixel / 64).

Cost on the device: B·3·H·W floats for the images and one B·M·H_c·W_c·2 grid; no host synchronisation (every shape
is known on the host), so it queues behind the non-blocking copy of the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hmr_bench.errors import InputError, require_last_dims
from hmr_bench.geometry.crops import invert_affine

DEVICE_KEYS = ("image", "image_trans", "pn", "crop_size")  # what a crop_on="device" sample holds instead of crops
UNION_KEYS = ("union_trans", "union_size")  # ... and instead of the union image (shared-backbone mode)


def crop_grid(image_trans: torch.Tensor, crop_size: tuple[int, int], image_hw: tuple[int, int]) -> torch.Tensor:
    """The sampling grid of every crop for ``grid_sample`` (align_corners=False) of images of size image_hw.

    image_trans: (N, 2, 3) image → crop affines (continuous pixels); crop_size: (W_c, H_c); image_hw: (H, W) of
    the (padded) image tensor. Returns float32 (N, H_c, W_c, 2), normalised (x, y) image positions in [−1, 1] inside.
    The affine of a crop's normalised coordinates to the image's is  N_img ∘ image_trans⁻¹ ∘ N_crop⁻¹, with
    N_crop⁻¹(u, v) = ((u + 1)·W_c/2, (v + 1)·H_c/2) and N_img(x, y) = (2x/W − 1, 2y/H − 1). Built from the
    inverse with Python-number factors only: no host → device copy, so no synchronisation with queued work.
    """
    require_last_dims(image_trans, (2, 3), "crop_grid", "image_trans", "image → crop affines")
    wc, hc = int(crop_size[0]), int(crop_size[1])
    h, w = int(image_hw[0]), int(image_hw[1])
    inv = invert_affine(image_trans.to(torch.float64))  # crop → image pixels, (N, 2, 3)
    cu, cv = inv[..., 0] * (wc / 2), inv[..., 1] * (hc / 2)  # ∘ N_crop⁻¹: columns (N, 2)
    ct = cu + cv + inv[..., 2]
    theta = torch.stack([cu, cv, ct], -1)  # (N, 2 rows, 3)
    theta = torch.stack([theta[:, 0] * (2 / w), theta[:, 1] * (2 / h)], 1)  # N_img's scale ...
    theta[..., 2] -= 1.0  # ... and shift
    return F.affine_grid(theta.to(torch.float32), [theta.shape[0], 1, hc, wc], align_corners=False)


def _check(batch: dict) -> tuple[int, int]:
    """Raises InputError unless the batch holds consistent device-crop inputs; returns crop_size (W_c, H_c)."""
    missing = [k for k in DEVICE_KEYS if k not in batch]
    if missing:
        raise InputError("cut_crops", "batch", found=f"no {', '.join(missing)} beside 'image'",
                         expected=f"a crop_on='device' batch with {', '.join(DEVICE_KEYS)}")
    image, trans, pn, size = (batch[k] for k in DEVICE_KEYS)
    if not torch.is_tensor(image) or image.dtype != torch.uint8 or image.ndim != 4 or image.shape[-1] != 3:
        raise InputError("cut_crops", "image", found=f"{getattr(image, 'dtype', type(image).__name__)} of shape "
                         f"{tuple(getattr(image, 'shape', ()))}", expected="uint8 (B, H, W, 3) RGB images")
    if not torch.is_tensor(trans) or trans.ndim != 4 or trans.shape[0] != image.shape[0]:
        raise InputError("cut_crops", "image_trans", found=f"shape {tuple(getattr(trans, 'shape', ()))}",
                         expected=f"({image.shape[0]}, M, 2, 3): M affines per image")
    require_last_dims(trans, (2, 3), "cut_crops", "image_trans", "image → crop affines")
    if not torch.is_tensor(pn) or tuple(pn.shape) != (image.shape[0], 3):
        raise InputError("cut_crops", "pn", found=f"shape {tuple(getattr(pn, 'shape', ()))}",
                         expected=f"({image.shape[0]}, 3) colour factors")
    size = _check_size(size, "crop_size")
    if "union_trans" in batch:
        u = batch["union_trans"]
        if not torch.is_tensor(u) or tuple(u.shape) != (image.shape[0], 1, 2, 3):
            raise InputError("cut_crops", "union_trans", found=f"shape {tuple(getattr(u, 'shape', ()))}",
                             expected=f"({image.shape[0]}, 1, 2, 3): one union affine per image")
        _check_size(batch.get("union_size"), "union_size")
    return size


def _check_size(size, field: str) -> tuple[int, int]:
    """(W, H) as a tuple (older torch's pin_memory turns a batch's tuples into lists)."""
    if not isinstance(size, (tuple, list)) or len(size) != 2 or not all(isinstance(s, int) and s >= 1 for s in size):
        raise InputError("cut_crops", field, found=repr(size), expected="(W, H) positive ints")
    return int(size[0]), int(size[1])


def _cut(x: torch.Tensor, trans: torch.Tensor, pn: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """K crops per image: x float32 (B, 3, H, W); trans (B, K, 2, 3); pn (B, 3). Returns uint8 (B, K, 3, h, w)."""
    B, K = trans.shape[:2]
    w, h = size
    grid = crop_grid(trans.reshape(B * K, 2, 3), size, x.shape[-2:]).reshape(B, K * h, w, 2)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)  # (B, 3, K·h, w)
    out = out.reshape(B, 3, K, h, w).round_().clamp_(0, 255)  # the uint8 crop cv2 writes
    out = (out * pn.to(torch.float32).reshape(B, 3, 1, 1, 1)).clamp_(0, 255).round_()  # apply_color_noise
    return out.to(torch.uint8).permute(0, 2, 1, 3, 4).contiguous()


def cut_crops(batch: dict) -> dict:
    """The batch with ``crops`` uint8 (B, M, 3, H_c, W_c) (and, given ``union_trans``, ``union`` uint8
    (B, 3, H_u, W_u)) cut on the device its ``image`` is on (module docstring), without the device-only keys
    (`DEVICE_KEYS`, `UNION_KEYS`); a batch without ``image`` (crop_on="cpu") is returned as it is.
    Batch: image uint8 (B, H, W, 3); image_trans (B, M, 2, 3); pn (B, 3); crop_size (W_c, H_c); optionally
    union_trans (B, 1, 2, 3) and union_size (W_u, H_u)."""
    if "image" not in batch:
        return batch
    crop_size = _check(batch)
    x = batch["image"].permute(0, 3, 1, 2).to(torch.float32)  # (B, 3, H, W), channels-last in memory
    out = {k: v for k, v in batch.items() if k not in DEVICE_KEYS + UNION_KEYS}
    out["crops"] = _cut(x, batch["image_trans"], batch["pn"], crop_size)
    if "union_trans" in batch:
        out["union"] = _cut(x, batch["union_trans"], batch["pn"], _check_size(batch["union_size"], "union_size"))[:, 0]
    return out


__all__ = ["DEVICE_KEYS", "UNION_KEYS", "crop_grid", "cut_crops"]

"""The SynthHMR dataset card: counts, the distributions that make the benchmark what it is, a preview sheet.

Distributions per split: pelvis distance (m), pelvis offset from the image centre (fraction of the half
diagonal), heading (degrees, 0 = facing the camera), occlusion ratio, box height (px) and action counts.
"""

from __future__ import annotations

import json
import math

import numpy as np

from hmr_bench.data.spin_format import read_annotations
from hmr_bench.data.synth.scene import SPLITS, SynthConfig
from hmr_bench.io import atomic_write


def split_statistics(ann: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-row quantities of a split (arrays of length N)."""
    w, h = ann["img_w"].astype(float), ann["img_h"].astype(float)
    pelvis = ann["joints_smpl24"][:, 0]  # camera frame
    f = ann["focal_length"]
    u = f * pelvis[:, 0] / pelvis[:, 2] + w / 2
    v = f * pelvis[:, 1] / pelvis[:, 2] + h / 2
    offset = np.hypot(u - w / 2, v - h / 2) / (0.5 * np.hypot(w, h))
    return {
        "distance_m": np.linalg.norm(pelvis, axis=1),
        "offset": offset,
        "heading_deg": ann["heading_deg"],
        "occlusion": ann["occlusion"],
        "box_px": 200.0 * ann["scale"],
    }


def _summary(x: np.ndarray) -> dict[str, float]:
    q = np.percentile(x, [0, 5, 25, 50, 75, 95, 100])
    return {k: round(float(v), 4) for k, v in zip(("min", "p5", "p25", "median", "p75", "p95", "max"), q)}


def write_card(ds, cfg: SynthConfig) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    card: dict = {"config": cfg.to_dict(), "splits": {}}
    stats_by_split = {}
    for split in SPLITS:
        if not ds.npz(split).exists():
            continue
        ann = read_annotations(ds.npz(split))
        stats = split_statistics(ann)
        stats_by_split[split] = stats
        actions, counts = np.unique(ann["action"], return_counts=True)
        card["splits"][split] = {
            "images": int(len(ann["imgname"])),
            "actions": {str(a): int(c) for a, c in zip(actions, counts)},
            "truncated_fraction": round(float((ann["part"][:, :, 2] == 0).any(1).mean()), 4),
            **{k: _summary(v) for k, v in stats.items()},
        }
    atomic_write(ds.root / "card.json", lambda fh: fh.write(json.dumps(card, indent=2).encode()))

    keys = ["distance_m", "offset", "heading_deg", "occlusion", "box_px"]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3))
    for ax, k in zip(axes, keys):
        for split, stats in stats_by_split.items():
            ax.hist(stats[k], bins=30, histtype="step", density=True, label=split)
        ax.set_title(k)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(ds.root / "distributions.png", dpi=80)
    plt.close(fig)
    if "train" in stats_by_split:
        _preview(ds, plt)
    atomic_write(ds.root / "card.md", lambda fh: fh.write(_markdown(card).encode()))


def _preview(ds, plt, n: int = 24) -> None:
    """A grid of training images with the GT box and the 24 GT keypoints (visible: filled, hidden: hollow)."""
    ann = read_annotations(ds.npz("train"))
    pack = np.load(ds.pack("train"), mmap_mode="r")
    n = min(n, len(pack))
    cols = 6
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.3 * rows))
    for i, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(pack[i])
        cx, cy = ann["center"][i]
        b = 200 * ann["scale"][i]
        ax.add_patch(plt.Rectangle((cx - 0.375 * b, cy - b / 2), 0.75 * b, b, fill=False, ec="yellow", lw=0.8))
        kp = ann["part"][i]
        vis = ann["part_visible"][i].astype(bool) & (kp[:, 2] > 0)
        ax.scatter(kp[vis, 0], kp[vis, 1], s=4, c="lime")
        hid = ~vis & (kp[:, 2] > 0)
        ax.scatter(kp[hid, 0], kp[hid, 1], s=6, facecolors="none", edgecolors="red", linewidths=0.5)
        ax.set_title(f"{ann['action'][i]} {ann['occlusion'][i]:.0%} occ", fontsize=6)
        ax.set_xlim(0, pack.shape[2])
        ax.set_ylim(pack.shape[1], 0)
    fig.tight_layout()
    fig.savefig(ds.root / "preview.png", dpi=90)
    plt.close(fig)


def _markdown(card: dict) -> str:
    lines = ["# SynthHMR dataset card", "", "Rendered by hmr-bench with exact ground truth.", "",
             "| split | images | truncated | distance m (p5–p95) | offset (median) | occlusion (median) |",
             "|---|---|---|---|---|---|"]
    for split, s in card["splits"].items():
        lines.append(f"| {split} | {s['images']} | {s['truncated_fraction']:.1%} | "
                     f"{s['distance_m']['p5']:.1f}–{s['distance_m']['p95']:.1f} | {s['offset']['median']:.2f} | "
                     f"{s['occlusion']['median']:.2f} |")
    lines += ["", "Actions (train): " + ", ".join(f"{a} {c}" for a, c in
                                                 card["splits"].get("train", {}).get("actions", {}).items()),
              "", "![distributions](distributions.png)", "", "![preview](preview.png)", "",
              "Config:", "", "```json", json.dumps(card["config"], indent=2), "```", ""]
    return "\n".join(lines)

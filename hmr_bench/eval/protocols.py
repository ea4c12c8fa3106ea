"""Evaluation protocols (spec §6): which joints, which pelvis, which RoI, which ground truth, which metrics.

    protocol = PROTOCOLS.build("h36m-p2", gt_joints="mocap")     # or get_protocol("h36m-p2", ...)
    gt = ground_truth(protocol, batch, {"neutral": body})        # body-model calls happen here, once
    m = evaluate_batch(protocol, pred_vertices, pred_h36m17, gt)  # {"mpjpe": (N,), "pa_mpjpe": (N,), ...}

A run chooses the GT source of every protocol at once by a named convention (`data.eval_gt`, `gt_choice`).
Every protocol:

- **Joints** (`joints`): 14 = the LSP joints taken from the H36M-17 regressor's joints by
  `joint_sets.H36M_TO_J14` (`JOINT_NAMES` = `joint_sets.LSP14`); 17 = SPIN's `H36M_TO_J17` (the 14, then
  pelvis, spine, jaw: MPI-INF-3DHP in SPIN's and the official eval), for the prediction and the GT alike.
- **Pelvis**: joint 0 of the H36M-17 regressor (`joint_sets.H36M_PELVIS`), of each skeleton itself (the
  prediction's own, the GT's own). NOTE: the 3D training loss (`losses.keypoints.keypoint_3d_loss`) centres
  at the MID-HIP (joints 2 and 3 of SPIN's 24 GT joints) instead; the two points differ by centimetres, so a
  loss value and an MPJPE are not on the same footing. PVE subtracts the same H36M joint-0 pelvis of each mesh.
- **RoI**: only RoI `protocol.roi` = 0 (the original box) is evaluated (official; spec §8 item 1): the
  caller passes that RoI's prediction (`select_roi`).
- **GT joints** (`gt_joints`, spec §8 item 13):
  - ``"smpl-mesh"`` (official, the paper's numbers): the GT SMPL mesh (pose, betas) posed with the GT body
    model, then the H36M regressor, pelvis = its joint 0. Every row must have GT SMPL (``has_smpl``): a row
    without it (SPIN's H36M validation files carry no pose) is an error, never a zero pose.
  - ``"mocap"`` (SPIN's standard H36M protocol): the npz's 3D joints ``S`` (24 SPIN GT joints),
    `MOCAP_J24_TO_J14` (= SPIN's J24_TO_J14; its head is S joint 18, "Head (H36M)"; 17 joints: SPIN's
    J24_TO_J17), pelvis = S joint 14 ("Pelvis (MPII)"), where SPIN's H36M and MPI-INF-3DHP preprocessing
    store the root (they root-centre S, so SPIN subtracts nothing; subtracting it here makes an uncentred S
    give the same numbers; the official MPI-INF eval subtracts it too). Every used joint and the pelvis must
    have confidence > 0. Real datasets only (SynthHMR's S joint 14 is not the H36M root). With SPIN's J24 ↔
    H36M-17 map, S gives exactly the joints the H36M-17 path selects.
  - ``"mocap-if-no-mesh"`` (asked for by name only): per row, the mesh where the row has GT SMPL, else ``S``
    (each row with its own source's pelvis).
  - ``"exact"`` (SynthHMR): the generator's own camera-frame ``joints_h36m17`` from the npz.
- **Gendered GT** (`gendered_gt`): rows with gender 'f' / 1 use the female body model, 'm' / 0 the male one,
  rows without a gender `default_gender` (H36M: male, S9/S11 are; 3DPW: None = the row must say) — when the
  body source has those models (`body.source.gt_bodies`: a folder with SMPL_MALE/FEMALE.npz). Otherwise the
  GT mesh is neutral, said once (`warn_neutral_gt`): numbers are then not comparable with published ones.
  Predictions always use the neutral model.
- **PVE** (`pve`): 3DPW and SynthHMR (GT vertices from pose/shape with the GT body model); not H36M (spec §6).
"""

from __future__ import annotations

import logging
import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import torch

from hmr_bench.body import joint_sets as js
from hmr_bench.errors import InputError, check_variant, require_shape
from hmr_bench.eval import metrics
from hmr_bench.registry import Registry

log = logging.getLogger(__name__)

GT_JOINT_SOURCES = ("smpl-mesh", "mocap", "mocap-if-no-mesh", "exact")
JOINT_COUNTS = (14, 17)
ACTION_SOURCES = ("h36m-fig7", "field")
JOINT_INDICES = js.H36M_TO_J14  # LSP-14 from H36M-17
JOINT_NAMES = tuple(js.H36M17[i] for i in JOINT_INDICES)
PELVIS_INDEX = js.H36M_PELVIS
# SPIN's J24_TO_J14 = J24_TO_J17[:14]: the first 13 of the 24 GT joints, then 18 "Head (H36M)" (H36M's head
# top: SPIN's H36M files leave 13 "Top of Head (LSP)" empty)
MOCAP_J24_TO_J14 = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18)
MOCAP_PELVIS_J24 = 14  # "Pelvis (MPII)": where SPIN's h36m / mpi_inf_3dhp extracts store the root joint
MOCAP_J24_TO_J17 = MOCAP_J24_TO_J14 + (14, 16, 17)  # SPIN's J24_TO_J17: + pelvis, spine (H36M), jaw (H36M)
# Fig. 7 (left): the official `--by_category` split of H36M P2, matched as substrings of the action name
# ("Sitting" also catches SittingDown, "Photo" TakingPhoto, "Walk" Walking/WalkDog/WalkTogether; no Smoking).
H36M_FIG7_CATEGORIES = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing",
                        "Purchases", "Sitting", "Waiting", "Walk")

PROTOCOLS = Registry("protocol")
FIXED_FIELDS = ("name", "allowed_gt_joints")  # facts of a registered protocol that overrides cannot change


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol (see the module docstring for every field's meaning).

    name: registry name; dataset: "synth" or a name of `hmr_bench.data.real.REAL_DATASETS`; split: SynthHMR
    split ("test"); gt_joints: one of `GT_JOINT_SOURCES`; allowed_gt_joints: the values valid for this dataset;
    pve: compute PVE / PA-PVE; gendered_gt, default_gender: GT body model per row (default_gender None: every
    row must carry its gender when gendered models are used); actions: where per-action labels come from
    ("h36m-fig7": `h36m_category` of ``imgname``; "field": the ``action`` field; None: no breakdown); roi: the
    evaluated RoI; joints: 14 (LSP) or 17 (SPIN's J17) evaluated joints.
    """

    name: str
    dataset: str
    gt_joints: str
    allowed_gt_joints: tuple[str, ...]
    pve: bool
    gendered_gt: bool
    default_gender: str | None = "male"
    actions: str | None = None
    roi: int = 0
    split: str = "test"
    description: str = ""
    joints: int = 14

    def __post_init__(self):
        src = f"protocol '{self.name}'"
        check_variant(self.gt_joints, self.allowed_gt_joints, src, "gt_joints")
        if self.default_gender is not None:
            check_variant(self.default_gender, ("neutral", "male", "female"), src, "default_gender")
        if self.joints not in JOINT_COUNTS:
            raise InputError(src, "joints", found=repr(self.joints), expected=" or ".join(map(str, JOINT_COUNTS)))
        if self.actions is not None:
            check_variant(self.actions, ACTION_SOURCES, src, "actions")
        if not isinstance(self.roi, int) or self.roi < 0:
            raise InputError(src, "roi", found=repr(self.roi), expected="a RoI index ≥ 0 (0 = the original box)")

    @property
    def joint_indices(self) -> tuple[int, ...]:
        """H36M-17 rows of the evaluated joints (SPIN's H36M_TO_J14 / H36M_TO_J17)."""
        return tuple(js.H36M_TO_J17[:self.joints])

    @property
    def mocap_indices(self) -> tuple[int, ...]:
        """Rows of SPIN's 24 GT joints (``S``) of the evaluated joints (J24_TO_J14 / J24_TO_J17)."""
        return MOCAP_J24_TO_J14 if self.joints == 14 else MOCAP_J24_TO_J17

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(js.H36M17[i] for i in self.joint_indices)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Per-sample (N,) metrics `evaluate_batch` returns (besides the (N, J) per-joint errors)."""
        return ("mpjpe", "pa_mpjpe") + (("pve", "pa_pve") if self.pve else ())


def _builder(base: Protocol):
    def build(**overrides) -> Protocol:
        """The protocol with fields replaced by `overrides` (e.g. gt_joints="mocap", pve=True)."""
        fields = [f for f in Protocol.__dataclass_fields__ if f not in FIXED_FIELDS]
        bad = sorted(set(overrides) - set(fields))
        if bad:
            raise InputError(f"protocol '{base.name}'", bad[0], found="an unknown or fixed field",
                             expected="one of " + ", ".join(fields))
        return replace(base, **overrides)

    build.__doc__ = f"{base.name}: {base.description}"
    PROTOCOLS.register(base.name)(build)
    return build


_REAL_GT = ("smpl-mesh", "mocap", "mocap-if-no-mesh")
synth_test = _builder(Protocol(
    "synth-test", "synth", "exact", ("exact", "smpl-mesh"), pve=True, gendered_gt=False, default_gender="neutral",
    actions="field", description="SynthHMR test split: exact generator joints_h36m17, PVE on the neutral mesh"))
h36m_p1 = _builder(Protocol(
    "h36m-p1", "h36m-p1", "smpl-mesh", _REAL_GT, pve=False, gendered_gt=True, actions="h36m-fig7",
    description="Human3.6M S9+S11 every 5th frame, all 4 cameras; GT from the MoSh mesh (official)"))
h36m_p2 = _builder(Protocol(
    "h36m-p2", "h36m-p2", "smpl-mesh", _REAL_GT, pve=False, gendered_gt=True, actions="h36m-fig7",
    description="Human3.6M S9+S11 every 5th frame, frontal camera 60457274 (primary, Fig. 7); MoSh-mesh GT"))
pw3d_test = _builder(Protocol(
    "3dpw-test", "3dpw", "smpl-mesh", _REAL_GT, pve=True, gendered_gt=True, default_gender=None,
    description="3DPW test: GT from the gendered SMPL mesh (official and SPIN), PVE"))
mpi_inf_3dhp_test = _builder(Protocol(
    "mpi-inf-3dhp-test", "mpi-inf-3dhp-test", "mocap", ("mocap",), pve=False, gendered_gt=False,
    default_gender="neutral", joints=17,
    description="MPI-INF-3DHP test: mocap S, 17 joints, pelvis S joint 14 (official and SPIN; no SMPL GT)"))


def get_protocol(name: str, **overrides) -> Protocol:
    """`PROTOCOLS.build(name, **overrides)`; an unknown name lists the registered ones."""
    return PROTOCOLS.build(name, **overrides)


def select_roi(protocol: Protocol, x: torch.Tensor) -> torch.Tensor:
    """The evaluated RoI's prediction: x (N, M, ...) → (N, ...) at index protocol.roi."""
    if x.ndim < 2 or x.shape[1] <= protocol.roi:
        raise InputError("select_roi", "x", found=f"shape {tuple(x.shape)}",
                         expected=f"(N, M, ...) with M > {protocol.roi}")
    return x[:, protocol.roi]


def parse_gender(code) -> str | None:
    """A dataset's gender code → "male" | "female" | "neutral"; None / "" → None (unknown).

    'm' / 'male' / 0 → male; 'f' / 'female' / 1 → female (official: gender == 1 is female); 'n' / 'neutral'.
    """
    if code is None:
        return None
    if isinstance(code, torch.Tensor):
        code = code.item()
    is_number = isinstance(code, numbers.Real) and not isinstance(code, str)
    s = str(int(code)) if is_number and float(code).is_integer() else str(code)
    s = s.strip().lower()
    table = {"m": "male", "male": "male", "0": "male", "f": "female", "female": "female", "1": "female",
             "n": "neutral", "neutral": "neutral"}
    if s == "":
        return None
    if s not in table:
        raise InputError("gender", found=repr(code), expected="'m' | 'f' | 'n' (or 0 = male, 1 = female)")
    return table[s]


_warned_neutral: set[str] = set()


def neutral_gt_note(protocol_name: str, reason: str) -> str:
    """The sentence that says a protocol's GT meshes are neutral and why (CLI warning and report field)."""
    return (f"{protocol_name}: GT meshes use the NEUTRAL body model ({reason}); published {protocol_name} numbers "
            "(the paper's, SPIN's) use gendered SMPL GT, so these numbers are not comparable with them")


def warn_neutral_gt(protocol_name: str, reason: str) -> None:
    """Logs `neutral_gt_note` once per protocol per process (the runner before training, or the first batch)."""
    if protocol_name not in _warned_neutral:
        _warned_neutral.add(protocol_name)
        log.warning("%s", neutral_gt_note(protocol_name, reason))


def gt_body_gender(protocol: Protocol, code, available: Sequence[str]) -> str:
    """The body model ("male" | "female" | "neutral") that makes the GT mesh of a row with gender `code`.

    Without `gendered_gt`: "neutral". Otherwise the row's gender (`parse_gender`), `default_gender` when it
    has none (None: an error when gendered models are there); a gender the body source lacks (the free model:
    neutral only) falls back to "neutral" (`warn_neutral_gt`). available: the genders the caller has models for.
    """
    if not protocol.gendered_gt:
        return "neutral"
    g = parse_gender(code) or protocol.default_gender
    if g in available:
        return g
    if g is None and {"male", "female"} & set(available):
        raise InputError(f"protocol '{protocol.name}'", "gender", found=f"a row without a gender ({code!r})",
                         expected="'m' / 'f' on every row (the dataset's gender field) for gendered GT")
    if "neutral" not in available:
        raise InputError(f"protocol '{protocol.name}'", "bodies", found=f"models for {sorted(available)}",
                         expected=f"a '{g}' or 'neutral' body model")
    warn_neutral_gt(protocol.name, f"no {g or 'gendered'} body model among the GT bodies {sorted(available)}")
    return "neutral"


def h36m_category(imgname: str) -> str | None:
    """Fig. 7 category of a SPIN H36M image name, e.g. "images/S9_WalkDog_1.54138969_000001.jpg" → "Walk";
    None for actions no category holds (Smoking)."""
    base = os.path.basename(str(imgname))
    action = base.split("_", 1)[1] if "_" in base else base  # drop the subject "S9_"
    action = action.split(".", 1)[0]  # drop ".camera_frame.jpg"
    return next((c for c in H36M_FIG7_CATEGORIES if c in action), None)


def action_labels(protocol: Protocol, batch: Mapping) -> list[str | None] | None:
    """Per-sample action labels for `metrics.per_action_mean`, or None if the protocol has no breakdown.

    batch: "imgname" (N strings) for "h36m-fig7"; "action" (N strings) for "field".
    """
    if protocol.actions is None:
        return None
    key = "imgname" if protocol.actions == "h36m-fig7" else "action"
    if key not in batch:
        raise InputError(f"protocol '{protocol.name}'", key, found="no such batch key",
                         expected=f"per-sample {key} strings for the per-action breakdown")
    if protocol.actions == "h36m-fig7":
        return [h36m_category(x) for x in batch[key]]
    return [str(x) for x in batch[key]]


def _pose_gt_meshes(protocol: Protocol, batch: Mapping, bodies: Mapping,
                    rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """GT vertices (N, V, 3) and their H36M-17 joints (N, 17, 3) from batch pose/betas, per-row GT model, for
    the rows where `rows` (N,) bool is set; NaN elsewhere (those rows have no GT mesh)."""
    src = f"protocol '{protocol.name}'"
    if "neutral" not in bodies and not protocol.gendered_gt:
        raise InputError(src, "bodies", found=f"models for {sorted(bodies)}", expected="a 'neutral' body model")
    for key in ("pose", "betas"):
        if key not in batch:
            raise InputError(src, key, found="no such batch key", expected="GT SMPL pose (N, 72) and betas (N, K)")
    pose = torch.as_tensor(batch["pose"])
    n = pose.shape[0]
    require_shape(pose, (n, 72), src, "pose", "axis-angle")
    betas = torch.as_tensor(batch["betas"])
    require_shape(betas, (n, None), src, "betas")
    genders = batch.get("gender")
    codes = [None] * n if genders is None else list(genders)
    if len(codes) != n:
        raise InputError(src, "gender", found=f"{len(codes)} values", expected=f"{n}")
    rows_of: dict[str, list[int]] = {}
    for i in torch.nonzero(rows).flatten().tolist():
        rows_of.setdefault(gt_body_gender(protocol, codes[i], tuple(bodies)), []).append(i)
    verts = joints = None
    for g, chosen in rows_of.items():
        body = bodies[g]
        ref = body.mean_shape
        idx = torch.tensor(chosen, dtype=torch.long)
        with torch.no_grad():
            out = body(betas[idx].to(ref), axis_angle=pose[idx].to(ref))
            j17 = out.joints("h36m17")
        if verts is None:
            verts = out.vertices.new_full((n, *out.vertices.shape[1:]), float("nan"))
            joints = j17.new_full((n, *j17.shape[1:]), float("nan"))
        if out.vertices.shape[1:] != verts.shape[1:]:
            raise InputError(src, "bodies", found="models with different vertex counts",
                             expected="male/female/neutral models of one topology")
        verts[idx.to(verts.device)] = out.vertices.to(verts)
        joints[idx.to(joints.device)] = j17.to(joints)
    return verts, joints


def _batch_rows(batch: Mapping) -> int:
    for key in ("pose", "joints3d", "joints_h36m17", "has_smpl"):
        if key in batch:
            return len(batch[key])
    raise InputError("ground_truth", "batch", found=f"keys {sorted(batch)}",
                     expected="GT pose/betas, joints3d or joints_h36m17")


def _row_flags(batch: Mapping, key: str, n: int) -> torch.Tensor:
    """(N,) bool of batch[key] (has_smpl / has_3d) on the CPU; all set when the batch has no such key (a
    caller's own GT without flags)."""
    if key not in batch:
        return torch.ones(n, dtype=torch.bool)
    flags = torch.as_tensor(batch[key]).reshape(-1).bool().cpu()
    if len(flags) != n:
        raise InputError("ground_truth", key, found=f"{len(flags)} values", expected=f"{n}")
    return flags


def _require_rows(protocol: Protocol, batch: Mapping, need: torch.Tensor, have: torch.Tensor, field: str,
                  expected: str) -> None:
    """Raises naming the rows that need a GT source they do not have (`need` & ~`have`, both (N,) bool)."""
    bad = torch.nonzero(need & ~have).flatten().tolist()
    if not bad:
        return
    names = batch.get("imgname")
    where = f"row {bad[0]}" + (f" ({names[bad[0]]})" if names is not None else "")
    dataset = batch.get("dataset")
    ds = f" of {dataset[bad[0]]}" if dataset is not None else ""
    raise InputError(f"protocol '{protocol.name}'", field,
                     found=f"{len(bad)} of {len(need)} rows{ds} without it, first {where}",
                     expected=f"{expected} for gt_joints='{protocol.gt_joints}'",
                     hint="choose the GT source with data.eval_gt (hmr_bench.eval.gt_choice: 'official' = SMPL mesh, "
                          "'spin' = mocap S, 'mocap-if-no-mesh')")


def ground_truth(protocol: Protocol, batch: Mapping, bodies: Mapping) -> dict[str, torch.Tensor]:
    """The GT dict `evaluate_batch` needs, from a collated eval batch (the only body-model calls of eval).

    batch: "pose" (N, 72) and "betas" (N, K) (GT SMPL, camera frame), "gender" (N codes, optional) for
    "smpl-mesh" and PVE; "joints3d" (N, 24, 4) (S + confidence) for "mocap"; "joints_h36m17" (N, 17, 3) for
    "exact"; "has_smpl" / "has_3d" (N,) (optional; absent = every row has it): rows without the GT the source
    needs raise `InputError` (a loader's zero placeholders are never scored). bodies: {"neutral" | "male" |
    "female": BodyModel} (at least "neutral", or the genders used).
    Returns "h36m17" (N, 17, 3) (mesh sources; NaN on rows without a mesh) and/or "joints3d" (N, 24, 4) (mocap
    sources), "from_mocap" (N,) bool for "mocap-if-no-mesh", and with PVE "vertices" (N, V, 3) and
    "vertices_pelvis" (N, 3) (their own H36M joint 0). Tensors on the body models' device and dtype.
    """
    n = _batch_rows(batch)
    has_mesh = _row_flags(batch, "has_smpl", n)
    source = protocol.gt_joints
    from_mocap = {"mocap": torch.ones(n, dtype=torch.bool), "mocap-if-no-mesh": ~has_mesh}.get(
        source, torch.zeros(n, dtype=torch.bool))
    mesh_rows = torch.ones(n, dtype=torch.bool) if protocol.pve else torch.zeros(n, dtype=torch.bool)
    if source in ("smpl-mesh", "mocap-if-no-mesh"):
        mesh_rows |= ~from_mocap
    _require_rows(protocol, batch, mesh_rows, has_mesh, "has_smpl",
                  "GT SMPL pose/shape (has_smpl = 1) on every row" + (" (PVE)" if protocol.pve else ""))
    _require_rows(protocol, batch, from_mocap, _row_flags(batch, "has_3d", n), "S",
                  "mocap 3D joints S (has_3d = 1)")
    ref = next(iter(bodies.values())).mean_shape if bodies else torch.zeros(())
    gt: dict[str, torch.Tensor] = {}
    verts = joints = None
    if mesh_rows.any():
        verts, joints = _pose_gt_meshes(protocol, batch, bodies, mesh_rows)
        if source in ("smpl-mesh", "mocap-if-no-mesh"):
            gt["h36m17"] = joints
    if from_mocap.any() or source == "exact":
        key = "joints_h36m17" if source == "exact" else "joints3d"
        if key not in batch:
            raise InputError(f"protocol '{protocol.name}'", key, found="no such batch key",
                             expected=f"the GT joints of gt_joints='{source}'")
        gt["h36m17" if source == "exact" else "joints3d"] = torch.as_tensor(batch[key]).to(ref)
    if source == "mocap-if-no-mesh":
        gt["from_mocap"] = from_mocap.to(ref.device)
    if protocol.pve:
        gt["vertices"], gt["vertices_pelvis"] = verts, joints[:, PELVIS_INDEX]
    return gt


def _mocap_joints(protocol: Protocol, gt: Mapping, rows: torch.Tensor | None = None) -> torch.Tensor:
    """(N, J, 3) evaluated joints of S minus its pelvis (S joint 14); confidences checked on `rows` (all)."""
    src = f"protocol '{protocol.name}'"
    if "joints3d" not in gt:
        raise InputError(src, "gt['joints3d']", found="no such key", expected="(N, 24, 4) S + confidence")
    s = torch.as_tensor(gt["joints3d"])
    require_shape(s, (s.shape[0] if s.ndim else None, 24, 4), src, "gt['joints3d']", "S + confidence")
    used = list(protocol.mocap_indices) + [MOCAP_PELVIS_J24]
    absent = s[:, used, 3] <= 0
    if rows is not None:
        absent &= rows.to(absent.device)[:, None]
    missing = absent.nonzero()
    if len(missing):
        r, j = (int(v) for v in missing[0])
        raise InputError(src, "gt['joints3d']", found=f"confidence 0 at row {r}, joint {used[j]}",
                         expected=f"all {protocol.joints} evaluated joints and the pelvis (joint 14) present for "
                                  "the mocap GT")
    return s[:, list(protocol.mocap_indices), :3] - s[:, MOCAP_PELVIS_J24, None, :3]


def _mesh_joints(protocol: Protocol, gt: Mapping) -> torch.Tensor:
    """(N, J, 3) evaluated joints of the GT H36M-17 joints minus their joint 0."""
    src = f"protocol '{protocol.name}'"
    if "h36m17" not in gt:
        raise InputError(src, "gt['h36m17']", found="no such key", expected="(N, 17, 3) GT H36M-17 joints")
    j = torch.as_tensor(gt["h36m17"])
    require_shape(j, (j.shape[0] if j.ndim else None, 17, 3), src, "gt['h36m17']")
    return j[:, list(protocol.joint_indices)] - j[:, PELVIS_INDEX, None]


def gt_joints(protocol: Protocol, gt: Mapping) -> torch.Tensor:
    """The evaluated GT joints minus the GT pelvis (N, J, 3) in the protocol's GT-source convention."""
    if protocol.gt_joints == "mocap":
        return _mocap_joints(protocol, gt)
    if protocol.gt_joints != "mocap-if-no-mesh":
        return _mesh_joints(protocol, gt)
    from_mocap = torch.as_tensor(gt["from_mocap"]).bool()
    if not from_mocap.any():
        return _mesh_joints(protocol, gt)
    mocap = _mocap_joints(protocol, gt, from_mocap)
    if from_mocap.all():
        return mocap
    return torch.where(from_mocap.to(mocap.device)[:, None, None], mocap, _mesh_joints(protocol, gt).to(mocap))


def pred_joints(protocol: Protocol, pred_h36m17: torch.Tensor) -> torch.Tensor:
    """Predicted evaluated joints minus the prediction's own H36M joint-0 pelvis: (N, 17, 3) → (N, J, 3)."""
    p = torch.as_tensor(pred_h36m17)
    require_shape(p, (p.shape[0] if p.ndim else None, 17, 3), "evaluate_batch", "pred_h36m17")
    return p[:, list(protocol.joint_indices)] - p[:, PELVIS_INDEX, None]


def evaluate_batch(protocol: Protocol, pred_vertices, pred_h36m17, gt: Mapping) -> dict[str, torch.Tensor]:
    """Per-sample metrics of one batch (mm).

    pred_vertices: (N, V, 3) neutral-model vertices of the evaluated RoI (may be None when not protocol.pve);
    pred_h36m17: (N, 17, 3) their H36M-regressor joints; gt: from `ground_truth`.
    Returns "mpjpe", "pa_mpjpe" (N,), "mpjpe_per_joint", "pa_mpjpe_per_joint" (N, J) (whole-skeleton
    alignment, `metrics`; J = protocol.joints), and with PVE "pve", "pa_pve" (N,).
    """
    pred = pred_joints(protocol, pred_h36m17)
    target = gt_joints(protocol, gt).to(pred)
    if target.shape[0] != pred.shape[0]:
        raise InputError("evaluate_batch", "gt", found=f"{target.shape[0]} rows", expected=f"{pred.shape[0]} rows")
    out = {"mpjpe_per_joint": metrics.per_joint_error(pred, target),
           "pa_mpjpe_per_joint": metrics.pa_per_joint_error(pred, target)}
    out["mpjpe"] = out["mpjpe_per_joint"].mean(-1)
    out["pa_mpjpe"] = out["pa_mpjpe_per_joint"].mean(-1)
    if protocol.pve:
        if pred_vertices is None or "vertices" not in gt or "vertices_pelvis" not in gt:
            raise InputError("evaluate_batch", "pred_vertices / gt['vertices'] / gt['vertices_pelvis']",
                             found="missing", expected=f"all three: protocol '{protocol.name}' computes PVE")
        pv = torch.as_tensor(pred_vertices).to(pred)
        gv = torch.as_tensor(gt["vertices"]).to(pred)
        out["pve"] = metrics.pve(pv, gv, torch.as_tensor(pred_h36m17).to(pred)[:, PELVIS_INDEX],
                                 torch.as_tensor(gt["vertices_pelvis"]).to(pred))
        out["pa_pve"] = metrics.pa_pve(pv, gv)
    return out

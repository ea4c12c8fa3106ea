"""Which ground truth a run scores against: one named convention (`data.eval_gt`) for every test protocol.

    protocol = eval_protocol("h36m-p2", "spin")        # h36m-p2 with gt_joints="mocap"
    describe_gt("3dpw-test", "official", "free")        # {"source", "pelvis", "body", "note"} for CLI and report
    check_gt_available(protocol, dataset)               # before training: the split holds that GT on every row

Conventions (rows: protocol; the value is its `gt_joints`, `protocols` documents each):

    protocol            official (Multi-RoI eval.py)   spin (SPIN eval.py)   mocap-if-no-mesh
    3dpw-test           smpl-mesh (gendered)           smpl-mesh (gendered)  smpl-mesh (gendered)
    h36m-p1 / h36m-p2   smpl-mesh (MoSh, male)         mocap (S)             mesh where has_smpl, else S
    mpi-inf-3dhp-test   mocap (S, 17 joints)           mocap (S, 17 joints)  mocap (S, 17 joints)
    synth-test          exact                          exact                 exact

"official" is the default: it is what produced the paper's numbers (spec §6, §8 item 13). SPIN's H36M
validation files (``h36m_valid_protocol1/2.npz``) carry only ``S``, so they need "spin" (or the fallback,
asked for by name); with "official" they fail before training, naming the file and the field.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hmr_bench.body.source import GT_GENDERS, gt_genders
from hmr_bench.errors import InputError, check_variant
from hmr_bench.eval.protocols import Protocol, get_protocol, neutral_gt_note, warn_neutral_gt

EVAL_GT = ("official", "spin", "mocap-if-no-mesh")
_H36M = {"official": "smpl-mesh", "spin": "mocap", "mocap-if-no-mesh": "mocap-if-no-mesh"}
GT_BY_CONVENTION: dict[str, dict[str, str]] = {
    conv: {"h36m-p1": h36m, "h36m-p2": h36m, "3dpw-test": "smpl-mesh", "mpi-inf-3dhp-test": "mocap"}
    for conv, h36m in _H36M.items()
}
PELVIS = {
    "smpl-mesh": "H36M-regressor joint 0 of the GT mesh",
    "mocap": "S joint 14 (the H36M / MPI-INF root SPIN stores there)",
    "mocap-if-no-mesh": "per row: H36M-regressor joint 0 of the GT mesh, or S joint 14",
    "exact": "joint 0 of the generator's H36M-17 joints",
}


def with_gt_convention(protocol: Protocol, eval_gt: str) -> Protocol:
    """`protocol` with the `gt_joints` of convention `eval_gt` (protocols the conventions do not list keep theirs)."""
    check_variant(eval_gt, EVAL_GT, "config", "data.eval_gt")
    source = GT_BY_CONVENTION[eval_gt].get(protocol.name)
    if source is None or source == protocol.gt_joints:
        return protocol
    return replace(protocol, gt_joints=source)


def eval_protocol(name: str, eval_gt: str = "official", **overrides) -> Protocol:
    """The registered protocol `name` with the GT source of convention `eval_gt`."""
    return with_gt_convention(get_protocol(name, **overrides), eval_gt)


def _body_text(protocol: Protocol, genders: tuple[str, ...], body_source: str) -> tuple[str, str | None]:
    """(which body models pose the GT meshes, the neutral-GT reason or None)."""
    if protocol.gt_joints in ("mocap", "exact"):
        return (f"neutral ({body_source}), for PVE only" if protocol.pve else "none (no GT mesh)"), None
    if not protocol.gendered_gt:
        return f"neutral ({body_source})", None
    # rows without a gender take default_gender (H36M files have none: male, S9/S11); 3DPW rows say theirs
    wanted = (protocol.default_gender,) if protocol.default_gender in GT_GENDERS else GT_GENDERS
    missing = [g for g in wanted if g not in genders]
    if not missing:
        return "per row: " + " / ".join(f"SMPL_{g.upper()}" for g in wanted) + f" ({body_source})", None
    files = " / ".join(f"SMPL_{g.upper()}.npz" for g in missing)
    return f"neutral ({body_source})", f"body model {body_source!r} has no {files}"


def describe_gt(protocol_name: str, eval_gt: str, body_source: str, warn: bool = False) -> dict[str, str]:
    """What a protocol scores against under `eval_gt` with `body_source` (`body.source`): {"source", "pelvis",
    "body", "note"} (note "" when the numbers are comparable with published ones). warn: also log a note once
    (`protocols.warn_neutral_gt`; the CLI shows it)."""
    p = eval_protocol(protocol_name, eval_gt)
    body, reason = _body_text(p, gt_genders(body_source), body_source)
    if reason and warn:
        warn_neutral_gt(p.name, reason)
    return {"source": p.gt_joints, "pelvis": PELVIS[p.gt_joints], "body": body,
            "note": neutral_gt_note(p.name, reason) if reason else ""}


def gt_lines(protocol_names, eval_gt: str, body_source: str, warn: bool = True) -> dict[str, str]:
    """{protocol: "<source>; pelvis ...; GT body ...[; NOT COMPARABLE: note]"}: the field the store keeps and
    the report shows; non-comparable protocols are logged once (`describe_gt` warn)."""
    out = {}
    for name in protocol_names:
        d = describe_gt(name, eval_gt, body_source, warn=warn)
        out[name] = f"{d['source']}; pelvis {d['pelvis']}; GT body {d['body']}" + (
            f"; NOT COMPARABLE: {d['note']}" if d["note"] else "")
    return out


def check_gt_available(protocol: Protocol, dataset) -> None:
    """Raises `InputError` (file, field, rows) when a split lacks the GT its protocol scores against, so a run
    fails before training, not after. dataset: a `SpinDataset` (its ``arrays`` and ``source``)."""
    a, n = dataset.arrays, dataset.n
    has_smpl = np.asarray(a["has_smpl"]).astype(bool) if "has_smpl" in a else np.full(n, "pose" in a)
    has_s = np.asarray(a["S"])[..., 3].max(-1) > 0 if "S" in a else np.zeros(n, bool)
    need_mesh = np.full(n, protocol.pve or protocol.gt_joints == "smpl-mesh")
    need_s = np.full(n, protocol.gt_joints == "mocap")
    if protocol.gt_joints == "mocap-if-no-mesh":
        need_s = ~has_smpl
    for need, have, field, what in ((need_mesh, has_smpl, "pose/shape/has_smpl", "GT SMPL pose and shape"),
                                    (need_s, has_s, "S", "mocap 3D joints S with confidence > 0")):
        bad = np.flatnonzero(need & ~have)
        if len(bad):
            raise InputError(dataset.source, field,
                             found=f"{len(bad)} of {n} rows without it (first: row {bad[0]}, "
                                   f"{a['imgname'][bad[0]]})",
                             expected=f"{what} on every row for protocol '{protocol.name}' with "
                                      f"gt_joints='{protocol.gt_joints}'",
                             hint="choose the GT with --set data.eval_gt=official|spin|mocap-if-no-mesh "
                                  "(hmr_bench.eval.gt_choice)")

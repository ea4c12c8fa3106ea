"""Joint-set tables checked against their names (an independent reading of the same facts)."""

from __future__ import annotations

import re

import pytest

from hmr_bench.body import joint_sets as js


def mirror_name(name: str) -> str:
    """left<->right in any of the spellings the tables use (left_, Left , OP L.., leye, LBigToe, lthumb)."""
    swaps = [(r"\bleft", "right"), (r"\bright", "left"), (r"\bLeft", "Right"), (r"\bRight", "Left"),
             (r"^OP L", "OP R"), (r"^OP R", "OP L"), (r"^l(?=[a-z])", "r"), (r"^r(?=[a-z])", "l"),
             (r"^L(?=[A-Z])", "R"), (r"^R(?=[A-Z])", "L")]
    for pat, rep in swaps:
        if re.search(pat, name):
            return re.sub(pat, rep, name, count=1)
    return name


@pytest.mark.parametrize("set_name", sorted(js.FLIP_PERMS))
def test_flip_permutation_maps_each_joint_to_its_mirror_by_name(set_name):
    names = js.JOINT_SETS[set_name]
    perm = js.FLIP_PERMS[set_name]
    assert sorted(perm) == list(range(len(names)))
    for i, j in enumerate(perm):
        assert names[j] == mirror_name(names[i]), (set_name, names[i], names[j])


def test_lsp14_is_read_from_h36m17_by_name():
    for lsp, h in zip(js.LSP14, js.H36M_TO_J14):
        assert js.H36M17[h] == lsp


def test_spin49_indices_name_the_same_joint():
    """Each SPIN49 joint's source among the 54 (45 smplx + 9 extra) is the joint SPIN's name says."""
    src = js.SMPLX45 + js.EXTRA9
    smpl_word = {"Ankle": "ankle", "Knee": "knee", "Hip": "hip", "Wrist": "wrist", "Elbow": "elbow",
                 "Shoulder": "shoulder"}
    for name, k in zip(js.SPIN49, js.SPIN49_FROM_54):
        s = src[k]
        if name in js.EXTRA9:
            assert s == name
        elif m := re.fullmatch(r"(?:OP )?(Right|Left|R|L) ?(Ankle|Knee|Hip|Wrist|Elbow|Shoulder)", name):
            side = "right" if m.group(1) in ("Right", "R") else "left"
            assert s == f"{side}_{smpl_word[m.group(2)]}", (name, s)
        elif m := re.fullmatch(r"(?:OP )?(Right|Left|R|L) ?(Eye|Ear)", name):
            assert s == ("r" if m.group(1) in ("Right", "R") else "l") + m.group(2).lower(), (name, s)
        elif m := re.fullmatch(r"OP ([LR])(BigToe|SmallToe|Heel)", name):
            assert s == m.group(1) + m.group(2)
        else:
            assert (name, s) in {("OP Nose", "nose"), ("Nose", "nose"), ("OP Neck", "neck"),
                                 ("OP MidHip", "pelvis")}, (name, s)


def test_coco17_from_smplx45_by_name():
    src = js.SMPLX45
    for name, k in zip(js.COCO17, js.COCO17_FROM_SMPLX45):
        if name == "nose":
            assert src[k] == "nose"
        elif name.endswith(("_eye", "_ear")):
            side, part = name.split("_")
            assert src[k] == side[0] + part
        else:
            assert src[k] == name


def test_keypoint_parts_name_the_limb_each_keypoint_sits_on():
    smpl = js.SMPL24
    head = {"head"}
    for name, part in zip(js.SPIN49[25:], js.SPIN24_SMPL_PART):
        m = re.fullmatch(r"(Right|Left) (Ankle|Knee|Hip|Wrist|Elbow|Shoulder)", name)
        if m:
            assert smpl[part] == f"{m.group(1).lower()}_{m.group(2).lower()}", name
        elif name in ("Top of Head (LSP)", "Jaw (H36M)", "Head (H36M)", "Nose") or "Eye" in name or "Ear" in name:
            assert smpl[part] in head, name
    for name, part in zip(js.COCO17, js.COCO17_SMPL_PART):
        expected = "head" if name == "nose" or name.endswith(("_eye", "_ear")) else name
        assert smpl[part] == expected, name

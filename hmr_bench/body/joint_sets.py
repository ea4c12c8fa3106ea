"""Joint sets: names, orders, parents and left/right permutations. One place for every joint fact.

Conventions (SMPL's): metres, +y up, +z the body's front, +x the body's left.

- `SMPL24`: the 24 SMPL kinematic joints (smplx output joints 0..23).
- `SMPLX_EXTRA21`: the 21 vertex-picked joints smplx appends for SMPL (face 5, feet 6, fingertips 10), so that
  smplx's SMPL output has 45 joints.
- `H36M17`: the order of SPIN's `J_regressor_h36m` rows as SPIN's `H36M_TO_J14` reads them (index 1..3 are the
  *left* leg, 4..6 the *right* leg, 11..13 the left arm, 14..16 the right arm; 8, H36M's "thorax", is the
  neck base that LSP's "neck" reads).
- `LSP14`: the 14 evaluation joints (spec §6), taken from H36M17 by `H36M_TO_J14`.
- `COCO17`: the COCO keypoint order.
- `EXTRA9`: SPIN's `J_regressor_extra` rows, appended after the 45 smplx joints (indices 45..53).
- `SPIN49`: 25 OpenPose joints + 24 "GT" joints, built from the 54 = 45 + 9 joints by `SPIN49_FROM_54`.
"""

from __future__ import annotations

SMPL24 = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)
SMPL24_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)

# smplx VertexJointSelector order for SMPL (use_hands=True, use_feet_keypoints=True).
SMPLX_EXTRA21 = (
    "nose", "reye", "leye", "rear", "lear",
    "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
    "lthumb", "lindex", "lmiddle", "lring", "lpinky",
    "rthumb", "rindex", "rmiddle", "rring", "rpinky",
)
SMPLX45 = SMPL24 + SMPLX_EXTRA21

H36M17 = (
    "pelvis", "left_hip", "left_knee", "left_ankle", "right_hip", "right_knee", "right_ankle",
    "spine", "neck", "jaw", "head_top", "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist",
)

LSP14 = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
    "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    "neck", "head_top",
)
H36M_TO_J17 = (6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10, 0, 7, 9)
H36M_TO_J14 = H36M_TO_J17[:14]
H36M_PELVIS = 0

COCO17 = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
# COCO-17 picked from the 45 smplx joints when a model has no COCO regressor (real SMPL): face keypoints are
# vertices, the limbs are SMPL kinematic joints (SMPL hips sit higher and wider than COCO's, documented).
COCO17_FROM_SMPLX45 = (24, 26, 25, 28, 27, 16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8)

EXTRA9 = (
    "Right Hip", "Left Hip", "Neck (LSP)", "Top of Head (LSP)", "Pelvis (MPII)", "Thorax (MPII)",
    "Spine (H36M)", "Jaw (H36M)", "Head (H36M)",
)

SPIN49 = (
    "OP Nose", "OP Neck", "OP RShoulder", "OP RElbow", "OP RWrist", "OP LShoulder", "OP LElbow",
    "OP LWrist", "OP MidHip", "OP RHip", "OP RKnee", "OP RAnkle", "OP LHip", "OP LKnee", "OP LAnkle",
    "OP REye", "OP LEye", "OP REar", "OP LEar", "OP LBigToe", "OP LSmallToe", "OP LHeel", "OP RBigToe",
    "OP RSmallToe", "OP RHeel",
    "Right Ankle", "Right Knee", "Right Hip", "Left Hip", "Left Knee", "Left Ankle", "Right Wrist",
    "Right Elbow", "Right Shoulder", "Left Shoulder", "Left Elbow", "Left Wrist", "Neck (LSP)",
    "Top of Head (LSP)", "Pelvis (MPII)", "Thorax (MPII)", "Spine (H36M)", "Jaw (H36M)", "Head (H36M)",
    "Nose", "Left Eye", "Right Eye", "Left Ear", "Right Ear",
)
# Index into the 54 joints (45 smplx + 9 extra) for each SPIN49 joint (SPIN constants.JOINT_MAP).
SPIN49_FROM_54 = (
    24, 12, 17, 19, 21, 16, 18, 20, 0, 2, 5, 8, 1, 4, 7, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34,
    8, 5, 45, 46, 4, 7, 21, 19, 17, 16, 18, 20, 47, 48, 49, 50, 51, 52, 53, 24, 26, 25, 28, 27,
)

# Left/right permutations (applied when an image is flipped).
SMPL24_FLIP = (0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22)
J24_FLIP = (5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13, 14, 15, 16, 17, 18, 19, 21, 20, 23, 22)
SPIN49_FLIP = (0, 1, 5, 6, 7, 2, 3, 4, 8, 12, 13, 14, 9, 10, 11, 16, 15, 18, 17, 22, 23, 24, 19, 20, 21) + tuple(
    25 + i for i in J24_FLIP)
H36M17_FLIP = (0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13)
COCO17_FLIP = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
LSP14_FLIP = (5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13)

JOINT_SETS = {
    "smpl24": SMPL24,
    "h36m17": H36M17,
    "lsp14": LSP14,
    "coco17": COCO17,
    "spin49": SPIN49,
}
FLIP_PERMS = {
    "smpl24": SMPL24_FLIP,
    "h36m17": H36M17_FLIP,
    "lsp14": LSP14_FLIP,
    "coco17": COCO17_FLIP,
    "spin49": SPIN49_FLIP,
}

# The SMPL part (skinning joint) whose surface each keypoint lies under: used to decide keypoint visibility
# from a rendered part map (a keypoint under another part is hidden by it).
SPIN24_SMPL_PART = (8, 5, 2, 1, 4, 7, 21, 19, 17, 16, 18, 20, 12, 15, 0, 9, 6, 15, 15, 15, 15, 15, 15, 15)
COCO17_SMPL_PART = (15, 15, 15, 15, 15, 16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8)

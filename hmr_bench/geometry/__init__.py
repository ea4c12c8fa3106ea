"""Geometry shared by the whole pipeline: cameras, crops, rotations, Procrustes alignment."""

from hmr_bench.geometry.cameras import (
    bbox_info,
    crop_camera_translation,
    crop_to_full,
    estimate_focal,
    full_to_crop,
    project_full,
    weak_perspective,
)
from hmr_bench.geometry.crops import (
    apply_affine,
    box_to_crop_pixels,
    compose_affine,
    crop_to_full_transform,
    crop_transform,
    denormalize_crop_points,
    invert_affine,
    normalize_crop_points,
)
from hmr_bench.geometry.procrustes import similarity_align
from hmr_bench.geometry.rotations import (
    axis_angle_to_matrix,
    flip_axis_angle_pose,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    matrix_to_rot6d,
    rot6d_to_matrix,
    rotation_z,
)

__all__ = [
    "apply_affine", "axis_angle_to_matrix", "bbox_info", "box_to_crop_pixels", "compose_affine",
    "crop_camera_translation", "crop_to_full", "crop_to_full_transform", "crop_transform",
    "denormalize_crop_points", "estimate_focal", "flip_axis_angle_pose", "full_to_crop", "invert_affine",
    "matrix_to_axis_angle", "matrix_to_quaternion", "matrix_to_rot6d", "normalize_crop_points",
    "project_full", "rot6d_to_matrix", "rotation_z", "similarity_align", "weak_perspective",
]

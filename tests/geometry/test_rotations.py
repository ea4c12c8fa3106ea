"""rotations.py against scipy.spatial.transform.Rotation and a hand-written Gram–Schmidt."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hmr_bench.errors import InputError
from hmr_bench.geometry.rotations import (
    axis_angle_to_matrix,
    flip_axis_angle_pose,
    matrix_to_axis_angle,
    matrix_to_rot6d,
    rot6d_to_matrix,
    rotation_z,
)


def rotvecs(angles, seed=0):
    axes = np.random.default_rng(seed).normal(size=(len(angles), 3))
    return axes / np.linalg.norm(axes, axis=1, keepdims=True) * np.asarray(angles)[:, None]


ANGLES = [0.0, 1e-12, 1e-7, 1e-4, 0.3, 1.0, 2.5, np.pi - 1e-3, np.pi - 1e-6, np.pi - 1e-9]


def test_axis_angle_to_matrix_matches_scipy():
    rv = rotvecs(ANGLES)
    R = axis_angle_to_matrix(torch.tensor(rv))
    np.testing.assert_allclose(R.numpy(), Rotation.from_rotvec(rv).as_matrix(), atol=1e-14)
    R32 = axis_angle_to_matrix(torch.tensor(rv, dtype=torch.float32))
    assert R32.dtype == torch.float32
    np.testing.assert_allclose(R32.numpy(), Rotation.from_rotvec(rv).as_matrix(), atol=1e-6)


def test_matrix_to_axis_angle_matches_scipy():
    rv = rotvecs(ANGLES, seed=1)
    mats = Rotation.from_rotvec(rv).as_matrix()
    out = matrix_to_axis_angle(torch.tensor(mats)).numpy()
    np.testing.assert_allclose(out, Rotation.from_matrix(mats).as_rotvec(), atol=1e-7)
    np.testing.assert_allclose(out[:-3], rv[:-3], atol=1e-12)  # away from π the round trip is tight
    out32 = matrix_to_axis_angle(torch.tensor(mats, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(Rotation.from_rotvec(out32).as_matrix(), mats, atol=1e-5)


def test_exactly_pi_gives_an_equivalent_rotation():
    rv = rotvecs([np.pi] * 3, seed=2)
    out = matrix_to_axis_angle(torch.tensor(Rotation.from_rotvec(rv).as_matrix())).numpy()
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), np.pi, atol=1e-12)
    np.testing.assert_allclose(np.abs(np.sum(out * rv, axis=1)), np.pi ** 2, atol=1e-10)  # ±axis


def test_round_trips_batched():
    rv = torch.tensor(rotvecs(np.linspace(0, 3.0, 24), seed=3)).reshape(2, 4, 3, 3)
    R = axis_angle_to_matrix(rv)
    assert R.shape == (2, 4, 3, 3, 3)
    assert torch.allclose(matrix_to_axis_angle(R), rv, atol=1e-12)
    assert torch.allclose(rot6d_to_matrix(matrix_to_rot6d(R)), R, atol=1e-12)


def test_axis_angle_gradient_finite_at_zero():
    aa = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    axis_angle_to_matrix(aa).sum().backward()
    assert torch.isfinite(aa.grad).all()
    # dR/dθ at 0 is the generator [e]×: d/dx of R[2, 1] is 1
    aa2 = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    axis_angle_to_matrix(aa2)[2, 1].backward()
    assert aa2.grad.tolist() == [1.0, 0.0, 0.0]
    aa3 = torch.tensor([[1e-5, -2e-5, 3e-6], [0.3, 1.0, -2.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(axis_angle_to_matrix, (aa3,))


def test_rot6d_spin_convention_by_hand():
    x = np.array([1.0, 0.5, 2.0, -1.0, 0.3, 4.0])  # not orthonormal
    a1, a2 = x[[0, 2, 4]], x[[1, 3, 5]]
    b1 = a1 / np.linalg.norm(a1)
    b2 = a2 - b1.dot(a2) * b1
    b2 /= np.linalg.norm(b2)
    expected = np.column_stack([b1, b2, np.cross(b1, b2)])
    np.testing.assert_allclose(rot6d_to_matrix(torch.tensor(x)).numpy(), expected, atol=1e-14)
    # identity 6D in this convention is (1, 0, 0, 1, 0, 0)
    np.testing.assert_allclose(rot6d_to_matrix(torch.tensor([1.0, 0, 0, 1, 0, 0])).numpy(), np.eye(3))


def test_rotation_z():
    a = np.array([0.0, 0.4, -2.0])
    expected = Rotation.from_euler("z", a[:, None]).as_matrix()
    np.testing.assert_allclose(rotation_z(torch.tensor(a)).numpy(), expected, atol=1e-14)
    assert rotation_z(0.5).shape == (3, 3)


def test_flip_axis_angle_pose():
    perm = np.array([0, 2, 1] + list(range(3, 24)))
    pose = np.arange(72, dtype=float).reshape(1, 72)
    out = flip_axis_angle_pose(pose, perm)
    expected = pose.copy()
    expected[0, 3:6], expected[0, 6:9] = pose[0, 6:9], pose[0, 3:6]  # joints 1 and 2 swapped
    expected[0, 1::3] *= -1
    expected[0, 2::3] *= -1
    np.testing.assert_array_equal(out, expected)
    out_t = flip_axis_angle_pose(torch.tensor(pose), perm)
    np.testing.assert_array_equal(out_t.numpy(), expected)
    np.testing.assert_array_equal(flip_axis_angle_pose(out, perm), pose)  # an involution for a swap perm


@pytest.mark.parametrize("call, name", [
    (lambda: axis_angle_to_matrix(torch.zeros(4, 4)), "aa"),
    (lambda: matrix_to_axis_angle(torch.zeros(4, 3, 4)), "R"),
    (lambda: rot6d_to_matrix(torch.zeros(4, 9)), "x"),
    (lambda: matrix_to_rot6d(torch.zeros(3, 2)), "R"),
    (lambda: flip_axis_angle_pose(torch.zeros(2, 69), list(range(24))), "pose"),
])
def test_bad_shapes_name_argument(call, name):
    with pytest.raises(InputError, match=rf"'{name}'.*found shape \("):
        call()


@pytest.mark.parametrize("angle", [0.0, 1e-3, 1.0, np.pi - 1e-5])
def test_matrix_to_axis_angle_gradcheck(angle):
    R = torch.tensor(Rotation.from_rotvec(rotvecs([angle], seed=4)).as_matrix(), requires_grad=True)
    assert torch.autograd.gradcheck(matrix_to_axis_angle, (R,))

"""SparseBody: SPIN-49 joints, the vertex-loss pelvis and a vertex subset equal the full body model's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hmr_bench.body import load_body_model
from hmr_bench.body.model import BodyModel
from hmr_bench.body.sparse import SparseBody
from tests.toy_smpl import V, toy_smpl_arrays


def _random_rotmats(n: int, g: torch.Generator) -> torch.Tensor:
    a = 0.6 * torch.randn(n, 24, 3, 3, generator=g)
    return torch.linalg.matrix_exp(a - a.transpose(-1, -2))


def _toy_body_with_posedirs() -> BodyModel:
    arrays = toy_smpl_arrays(seed=1)
    rng = np.random.default_rng(2)
    for name, rows in (("J_regressor_h36m", 17), ("J_regressor_extra", 9)):
        r = rng.random((rows, V)) * (rng.random((rows, V)) < 0.01)
        arrays[name] = r / r.sum(1, keepdims=True)
    arrays["posedirs"] = 0.01 * rng.standard_normal((V, 3, 207))  # large enough to matter
    return BodyModel(arrays, "toy")


@pytest.mark.parametrize("which", ["free", "toy-with-pose-correctives"])
@pytest.mark.parametrize("stride", [1, 7])
def test_sparse_equals_full_body(which, stride):
    body = load_body_model("free") if which == "free" else _toy_body_with_posedirs()
    assert body.has_posedirs == (which != "free")
    g = torch.Generator().manual_seed(5)
    betas, R = torch.randn(6, 10, generator=g), _random_rotmats(6, g)
    full = body(betas, rotmat=R)
    sparse = SparseBody(body, vertex_stride=stride)(betas, R)
    torch.testing.assert_close(sparse.joints("spin49"), full.joints("spin49"), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sparse.pelvis, full.joints("h36m17")[:, 0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sparse.vertices, full.vertices[:, ::stride], atol=1e-5, rtol=1e-5)
    assert sparse.vertices.shape[1] == len(range(0, body.num_vertices, stride))


def test_without_vertices_the_joints_are_the_full_body_models():
    """vertices=False (a step without the vertex loss) skips skinning: no vertices, the same joints and pelvis as
    the full body model (and bit for bit as with vertices, the same operations)."""
    body = _toy_body_with_posedirs()
    g = torch.Generator().manual_seed(8)
    betas, R = torch.randn(4, 10, generator=g), _random_rotmats(4, g)
    sb = SparseBody(body, vertex_stride=3)
    bare, with_v = sb(betas, R, vertices=False), sb(betas, R)
    assert bare.vertices is None
    torch.testing.assert_close(bare.joints("spin49"), body(betas, rotmat=R).joints("spin49"), atol=1e-5, rtol=1e-5)
    assert torch.equal(bare.joints54, with_v.joints54) and torch.equal(bare.pelvis, with_v.pelvis)


def test_sparse_gradients_equal_full_body():
    """The joints' gradients w.r.t. betas and rotations are those of the full model (same function)."""
    body = load_body_model("free")
    g = torch.Generator().manual_seed(6)
    betas, R = torch.randn(3, 10, generator=g), _random_rotmats(3, g)
    w = torch.randn(3, 49, 3, generator=g)
    grads = []
    for f in (lambda b, r: body(b, rotmat=r).joints("spin49"), lambda b, r: SparseBody(body)(b, r).joints("spin49")):
        b, r = betas.clone().requires_grad_(), R.clone().requires_grad_()
        (f(b, r) * w).sum().backward()
        grads.append((b.grad, r.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(grads[0][1], grads[1][1], atol=1e-4, rtol=1e-4)


def test_bad_stride_is_an_input_error():
    from hmr_bench.errors import InputError

    with pytest.raises(InputError, match="vertex_stride"):
        SparseBody(load_body_model("free"), vertex_stride=0)

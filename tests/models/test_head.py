"""Regression heads (spec §3.3, paper Eq. 4–6): IEF loop, init, box inputs, shared mesh."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from hmr_bench.errors import InputError
from hmr_bench.geometry.rotations import axis_angle_to_matrix
from hmr_bench.models.head import HEADS, IEFHead, default_mean_params, mean_params_from_body
from hmr_bench.models.projection import PROJECTIONS

D = 12



def _means(seed=0):
    """Mean params whose rotations are known matrices: 6D = first two columns, row-major."""
    g = torch.Generator().manual_seed(seed)
    R = axis_angle_to_matrix(torch.randn(24, 3, generator=g))
    pose6d = R[:, :, :2].reshape(144)
    return R, (pose6d, torch.randn(10, generator=g), torch.tensor([0.9, 0.05, -0.1]))


def _inputs(B=2, M=5, d=D, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, M, d, generator=g), torch.randn(B, M, 3, generator=g)


@pytest.mark.parametrize("name", HEADS.names())
@pytest.mark.parametrize("box_input", ["all", "own", "none"])
def test_zero_deltas_return_mean_params(name, box_input):
    R, means = _means()
    head = HEADS.build(name, feat_dim=D, num_rois=5, mean_params=means, box_input=box_input)
    with torch.no_grad():
        for mod in head.modules():
            if isinstance(mod, torch.nn.Linear) and mod.out_features in (144, 10, 3):
                mod.weight.zero_()
                mod.bias.zero_()
    out = head(*_inputs())
    assert torch.allclose(out.rotmat, R.expand(2, 5, 24, 3, 3), atol=1e-6)
    assert torch.allclose(out.betas, means[1].expand(2, 5, 10))
    assert torch.allclose(out.cam, means[2].expand(2, 5, 3))


@pytest.mark.parametrize("d, box_input, M, width", [(2048, "all", 5, 2220), (720, "all", 5, 892),
                                                    (2048, "own", 5, 2048 + 3 + 157), (2048, "none", 1, 2205),
                                                    (720, "own", 1, 880)])
def test_regressor_input_width(d, box_input, M, width):
    head = IEFHead(d, M, box_input=box_input)
    assert head.in_dim == width and head.regressor.fc1.in_features == width
    assert head.regressor.fc1.out_features == 2048 and head.regressor.fc2.out_features == 1024
    assert IEFHead(d, M, box_input=box_input, fc1_dim=1024).regressor.fc1.out_features == 1024


def test_ief_equals_naive_loop():
    torch.manual_seed(1)
    _, means = _means()
    M = 3
    head = IEFHead(D, M, means, box_input="all").eval()
    u, bbox = _inputs(M=M)
    out = head(u, bbox)
    r = head.regressor
    for b in range(2):
        for m in range(M):
            pose, shape, cam = means
            for _ in range(3):
                x = torch.cat([u[b, m], bbox[b].reshape(-1), pose, shape, cam])  # [u_m, all 3M boxes, θ, β, C]
                y = r.fc2(r.fc1(x))
                pose, shape, cam = pose + r.decpose(y), shape + r.decshape(y), cam + r.deccam(y)
            assert torch.allclose(out.pose6d[b, m], pose, atol=1e-5)
            assert torch.allclose(out.betas[b, m], shape, atol=1e-5)
            assert torch.allclose(out.cam[b, m], cam, atol=1e-5)


def test_ief_iterate_equals_concatenated_forward_with_dropout():
    """fc1's context columns applied once equal `forward` on [context, state] each iteration, in training mode too
    (the same dropout masks from the same generator state)."""
    torch.manual_seed(2)
    r = IEFHead(D, 5).regressor.train()
    context = torch.randn(7, D + 15)
    state = {"pose": torch.randn(7, 144), "shape": torch.randn(7, 10), "cam": torch.randn(7, 3)}
    torch.manual_seed(3)
    fast = r.iterate(context, state, 3)
    torch.manual_seed(3)
    slow = dict(state)
    for _ in range(3):
        d = r(torch.cat([context, slow["pose"], slow["shape"], slow["cam"]], dim=-1))
        slow = {n: slow[n] + d[n] for n in slow}
    for n in state:
        torch.testing.assert_close(fast[n], slow[n], rtol=1e-5, atol=1e-6)


def test_xavier_gain_on_output_layers():
    r = IEFHead(2048, 5).regressor
    for layer in (r.decpose, r.decshape, r.deccam):
        bound = 0.01 * math.sqrt(6 / (layer.in_features + layer.out_features))
        assert layer.weight.abs().max() <= bound
        assert layer.weight.abs().max() > 0.9 * bound


def test_dropout_only_in_training():
    head = IEFHead(D, 5)
    u, bbox = _inputs()
    torch.manual_seed(0)
    a = head(u, bbox).cam
    b = head(u, bbox).cam
    assert not torch.allclose(a, b)
    head.eval()
    assert torch.equal(head(u, bbox).cam, head(u, bbox).cam)


def _perturb_roi(x, m, amount=1.0):
    y = x.clone()
    y[:, m] += amount
    return y


@pytest.mark.parametrize("box_input, roi0_sees_other_boxes", [("all", True), ("own", False), ("none", False)])
def test_box_input_dependence(box_input, roi0_sees_other_boxes):
    torch.manual_seed(2)
    head = IEFHead(D, 5, box_input=box_input).eval()
    u, bbox = _inputs()
    base = head(u, bbox).cam[:, 0]
    assert torch.allclose(head(_perturb_roi(u, 3), bbox).cam[:, 0], base)  # per-RoI: u_3 never reaches RoI 0
    changed = not torch.allclose(head(u, _perturb_roi(bbox, 3)).cam[:, 0], base)
    assert changed == roi0_sees_other_boxes
    own_changed = not torch.allclose(head(u, _perturb_roi(bbox, 0)).cam[:, 0], base)
    assert own_changed == (box_input != "none")


def test_shared_mesh_one_mesh_per_sample():
    torch.manual_seed(3)
    head = HEADS.build("shared-mesh", feat_dim=D, num_rois=5, box_input="own").eval()
    u, bbox = _inputs()
    out = head(u, bbox)
    assert torch.allclose(out.rotmat, out.rotmat[:, :1].expand_as(out.rotmat))
    assert torch.allclose(out.betas, out.betas[:, :1].expand_as(out.betas))
    assert not torch.allclose(out.cam, out.cam[:, :1].expand_as(out.cam))
    # the mesh depends on mean_m u_m only: permuting the RoIs keeps it and permutes the cameras
    perm = torch.tensor([2, 0, 4, 1, 3])
    out_p = head(u[:, perm], bbox[:, perm])
    assert torch.allclose(out_p.betas, out.betas, atol=1e-5)
    assert torch.allclose(out_p.cam, out.cam[:, perm], atol=1e-5)
    # and another RoI's feature changes RoI 0's mesh (through ū) but not RoI 0's camera
    out_q = head(_perturb_roi(u, 3), bbox)
    assert not torch.allclose(out_q.betas[:, 0], out.betas[:, 0])
    assert torch.allclose(out_q.cam[:, 0], out.cam[:, 0])


def test_shared_mesh_decoder_widths():
    head = HEADS.build("shared-mesh", feat_dim=2048, num_rois=5, box_input="all")
    assert head.mesh.fc1.in_features == 2048 + 15 + 144 + 10
    assert head.cam.fc1.in_features == 2048 + 15 + 3
    head = HEADS.build("shared-mesh", feat_dim=2048, num_rois=5, box_input="own")
    assert head.mesh.fc1.in_features == 2048 + 144 + 10 and head.cam.fc1.in_features == 2048 + 3 + 3


def test_default_and_body_mean_params():
    pose, shape, cam = default_mean_params()
    out = IEFHead(D, 5, box_input="own")
    assert torch.equal(out.init_pose, pose) and torch.equal(out.init_cam, torch.tensor([0.9, 0.0, 0.0]))
    body = SimpleNamespace(mean_pose_6d=pose.double(), mean_shape=shape.double(), mean_cam=cam.double())
    got = mean_params_from_body(body)
    assert all(t.dtype == torch.float32 for t in got)
    with pytest.raises(InputError, match="mean_pose_6d"):
        mean_params_from_body(SimpleNamespace(mean_pose_6d=None, mean_shape=shape, mean_cam=None))


def test_bad_inputs():
    with pytest.raises(InputError, match="box_input"):
        IEFHead(D, 5, box_input="mine")
    with pytest.raises(InputError, match="mean_params"):
        IEFHead(D, 5, mean_params=(torch.zeros(72), torch.zeros(10), torch.zeros(3)))
    head = IEFHead(D, 5, box_input="all")
    u, bbox = _inputs(M=4)
    with pytest.raises(InputError, match="M = 4"):
        head(u, bbox)
    with pytest.raises(InputError, match="bbox_info"):
        IEFHead(D, 5, box_input="own")(u, bbox[:, :2])
    with pytest.raises(InputError, match="u"):
        head(u[..., :5], bbox)


# -------------------------------------------------------------------------------------------------------------
# contrastive projection heads (spec §4.2)
# -------------------------------------------------------------------------------------------------------------

def _bn_train(x, bn):
    """BatchNorm1d in training mode by hand: statistics over all rows, biased variance."""
    return (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + bn.eps) * bn.weight + bn.bias


def test_official_projection_equals_formula():
    torch.manual_seed(4)
    proj = PROJECTIONS.build("official", dim=D)
    with torch.no_grad():  # non-trivial BN affine parameters
        for bn in (proj.mlp[1], proj.mlp[4]):
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
    h = torch.randn(3, 4, D)
    z = proj(h)
    rows = h.reshape(12, D)  # BatchNorm over all B·M rows
    gated = rows * torch.sigmoid(torch.relu(rows))
    lin1, bn1, lin2, bn2 = proj.mlp[0], proj.mlp[1], proj.mlp[3], proj.mlp[4]
    assert lin2.bias is None and (lin1.in_features, lin1.out_features, lin2.out_features) == (D, D, D)
    y = _bn_train(torch.relu(_bn_train(gated @ lin1.weight.T + lin1.bias, bn1)) @ lin2.weight.T, bn2)
    assert z.shape == (3, 4, D) and torch.allclose(z, y.reshape(3, 4, D), atol=1e-5)


def test_paper_projection():
    torch.manual_seed(5)
    proj = PROJECTIONS.build("paper", dim=D)
    h = torch.randn(2, 5, D)
    z = proj(h)
    lin1, lin2 = proj.mlp[0], proj.mlp[2]
    want = torch.relu(h @ lin1.weight.T + lin1.bias) @ lin2.weight.T + lin2.bias
    assert z.shape == (2, 5, 128) and torch.allclose(z, want, atol=1e-5)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in proj.modules())
    with pytest.raises(InputError, match="h"):
        proj(h[..., :4])

"""L_cam (spec §4.1, Eq. 15–16) against the consistent RoI set of spec §2.4 / §1.2 and plain-python loops."""

import math
import random

import pytest
import torch

from hmr_bench.errors import InputError
from hmr_bench.losses.camera import CAM_LOSS_DEFAULTS, camera_consistency_loss

W, H = 1000.0, 800.0
F = math.sqrt(W * W + H * H)
# spec §1.2: RoI shift δ (units of b) and rescale ρ
ROIS = [((0, 0), 1.0), ((0.1, 0), 1.5), ((-0.1, 0), 1.25), ((0, 0.1), 0.8), ((0, -0.1), 0.65)]


def consistent_set():
    """Spec §2.4: RoI 0 c = (600, 300), b = 400, C = (0.8, 0.1, −0.2) → full (0.725, −0.825), b·s = 320.

    Every other RoI gets the crop camera that gives the same full camera, by hand: s = 320/b,
    tx = 0.725 − 2(cx − W/2)/320, ty = −0.825 − 2(cy − H/2)/320.
    """
    cams, centers, bs = [], [], []
    for (dx, dy), rho in ROIS:
        cx, cy, b = 600 + 400 * dx, 300 + 400 * dy, 400 * rho
        cams.append([320 / b, 0.725 - 2 * (cx - W / 2) / 320, -0.825 - 2 * (cy - H / 2) / 320])
        centers.append([cx, cy])
        bs.append(b)
    t = lambda x: torch.tensor([x, x], dtype=torch.float64)  # noqa: E731 (B = 2 identical samples)
    return t(cams), t(centers), t(bs)


def test_consistent_set_matches_spec_numbers():
    cam, center, b = consistent_set()
    assert cam[0, 0].tolist() == pytest.approx([0.8, 0.1, -0.2], abs=1e-12)
    assert cam[0, 1].tolist() == pytest.approx([0.533333333, -0.15, -0.2], abs=1e-9)  # spec §2.4
    assert center[0, 1].tolist() == [640.0, 300.0] and b[0, 1].item() == 600.0


@pytest.mark.parametrize("variant", ["official", "paper"])
def test_zero_for_consistent_rois(variant):
    cam, center, b = consistent_set()
    loss = camera_consistency_loss(cam, center, b, W, H, F, variant=variant)
    assert abs(loss.item()) < 1e-20
    # one inconsistent RoI makes it positive
    cam[1, 3, 1] += 0.05
    assert camera_consistency_loss(cam, center, b, W, H, F, variant=variant).item() > 1e-6


def random_inputs(seed, B=3, M=5):
    rng = random.Random(seed)
    cam = [[[rng.uniform(0.5, 1.3), rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5)] for _ in range(M)]
           for _ in range(B)]
    size = [(rng.uniform(500, 1900), rng.uniform(400, 1100)) for _ in range(B)]
    center = [[[rng.uniform(0, w), rng.uniform(0, h)] for _ in range(M)] for w, h in size]
    b = [[rng.uniform(100, 700) for _ in range(M)] for _ in range(B)]
    focal = [rng.uniform(800, 2500) for _ in range(B)]
    return cam, center, b, size, focal


def full_xy_bs(cam, center, b, w, h):
    s, tx, ty = cam
    bs = b * s + 1e-9
    return tx + 2 * (center[0] - w / 2) / bs, ty + 2 * (center[1] - h / 2) / bs, bs


def naive_official(cam, center, b, size, lx, ly, ls):
    acc_xy = acc_s = 0.0
    n = 0
    for i, (w, h) in enumerate(size):
        x0, y0, bs0 = full_xy_bs(cam[i][0], center[i][0], b[i][0], w, h)
        for v in range(len(cam[i])):
            xv, yv, bsv = full_xy_bs(cam[i][v], center[i][v], b[i][v], w, h)
            acc_xy += (lx * (x0 - xv) + ly * (y0 - yv)) ** 2
            acc_s += (ls * (bsv - bs0)) ** 2
            n += 1
    return acc_xy / n + acc_s / n


def naive_paper(cam, center, b, size, lx, ly, ls):
    acc = 0.0
    for i, (w, h) in enumerate(size):
        full = [full_xy_bs(cam[i][m], center[i][m], b[i][m], w, h) for m in range(len(cam[i]))]
        for m in range(len(full)):
            for n in range(len(full)):
                if m != n:
                    acc += (lx * (full[m][0] - full[n][0]) ** 2 + ly * (full[m][1] - full[n][1]) ** 2
                            + ls * (full[m][2] - full[n][2]) ** 2)
    return acc / len(size)


NAIVE = {"official": naive_official, "paper": naive_paper}


@pytest.mark.parametrize("variant", ["official", "paper"])
@pytest.mark.parametrize("lambdas", [None, (0.3, 0.7, 2e-3)])
def test_random_cameras_equal_python_loop(variant, lambdas):
    cam, center, b, size, focal = random_inputs(seed=1)
    d = torch.float64
    kw = {} if lambdas is None else dict(zip(("lambda_x", "lambda_y", "lambda_s"), lambdas))
    loss = camera_consistency_loss(torch.tensor(cam, dtype=d), torch.tensor(center, dtype=d),
                                   torch.tensor(b, dtype=d), torch.tensor([s[0] for s in size], dtype=d),
                                   torch.tensor([s[1] for s in size], dtype=d), torch.tensor(focal, dtype=d),
                                   variant=variant, **kw)
    lam = CAM_LOSS_DEFAULTS[variant] if lambdas is None else lambdas
    expected = NAIVE[variant](cam, center, b, size, *lam)
    assert loss.item() == pytest.approx(expected, rel=1e-10)


def test_official_defaults_are_the_code_weights():
    assert CAM_LOSS_DEFAULTS["official"] == (1.0, 1.0, 1e-4)
    assert CAM_LOSS_DEFAULTS["paper"] == (0.1, 0.1, 1e-4)


@pytest.mark.parametrize("variant", ["official", "paper"])
def test_gradient_reaches_every_roi(variant):
    cam, center, b, size, focal = random_inputs(seed=2, B=2, M=5)
    cam = torch.tensor(cam, dtype=torch.float64, requires_grad=True)
    loss = camera_consistency_loss(cam, torch.tensor(center, dtype=torch.float64), torch.tensor(b, dtype=torch.float64),
                                   1000.0, 800.0, F, variant=variant)
    loss.backward()
    per_roi = cam.grad.abs().sum(dim=(0, 2))
    assert (per_roi > 0).all(), per_roi


def test_official_gradient_is_star_shaped():
    # official: only pairs (0, v), so moving RoI 2 does not change the gradient of RoI 3
    cam, center, b, size, focal = random_inputs(seed=3, B=1, M=4)
    center_t, b_t = torch.tensor(center, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)

    def grad_roi3(c):
        c = torch.tensor(c, dtype=torch.float64, requires_grad=True)
        camera_consistency_loss(c, center_t, b_t, W, H, F).backward()
        return c.grad[0, 3]

    moved = [[list(r) for r in cam[0]]]
    moved[0][2][1] += 0.3
    assert torch.allclose(grad_roi3(cam), grad_roi3(moved))


def test_gradcheck_both_variants():
    cam, center, b, size, focal = random_inputs(seed=4, B=2, M=3)
    center_t, b_t = torch.tensor(center, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    cam_t = torch.tensor(cam, dtype=torch.float64, requires_grad=True)
    for variant in ("official", "paper"):
        assert torch.autograd.gradcheck(
            lambda c, v=variant: camera_consistency_loss(c, center_t, b_t, W, H, F, variant=v), (cam_t,))


@pytest.mark.parametrize("variant", ["official", "paper"])
def test_single_roi_gives_zero(variant):
    cam = torch.tensor([[[0.9, 0.1, 0.2]], [[0.7, -0.1, 0.0]]], dtype=torch.float64)
    loss = camera_consistency_loss(cam, torch.full((2, 1, 2), 300.0, dtype=torch.float64),
                                   torch.full((2, 1), 250.0, dtype=torch.float64), W, H, F, variant=variant)
    assert loss.item() == 0.0


def test_bad_input_names_the_argument():
    cam, center, b = consistent_set()
    with pytest.raises(InputError, match="official.*paper"):
        camera_consistency_loss(cam, center, b, W, H, F, variant="pairs")
    with pytest.raises(InputError, match="center"):
        camera_consistency_loss(cam, center[:, :3], b, W, H, F)
    with pytest.raises(InputError, match="img_w"):
        camera_consistency_loss(cam, center, b, torch.tensor([W, W, W]), H, F)
    with pytest.raises(InputError, match="cam"):
        camera_consistency_loss(cam[0], center, b, W, H, F)

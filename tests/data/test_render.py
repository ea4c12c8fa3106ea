"""SynthHMR renderer: hand-computed shades, part maps, occluders, keypoint visibility, occlusion ratio, sampling."""

from __future__ import annotations

import numpy as np
import pytest

from hmr_bench.body.joint_sets import SMPL24, SMPL24_FLIP
from hmr_bench.data.synth.render import (
    REGIONS,
    Appearance,
    Occluders,
    face_parts,
    keypoint_visibility,
    make_background,
    occlusion_ratio,
    render,
    sample_appearance,
    sample_occluders,
)
from hmr_bench.errors import InputError
from tests.data import blob_person, free_body_mesh, quad

K = (40.0, 40.0, 32.0, 32.0)  # 64 x 64 images; at z = 2 a point x projects to u = 20 x + 32


def flat_look(rgb=(0.8, 0.4, 0.2), light=(0.0, 0.0, -1.0), ambient=0.3, diffuse=0.6) -> Appearance:
    colour = np.array(rgb, np.float32)
    return Appearance(region_rgb=np.tile(colour, (len(REGIONS), 1)), skin_rgb=colour, long_sleeves=True,
                      long_trousers=True, light_dir=np.array(light, np.float32), ambient=ambient, diffuse=diffuse)


def grey(value=90) -> np.ndarray:
    return np.full((64, 64, 3), value, np.uint8)


def two_quads(part_left=4, part_right=9):
    """Left quad u in [22, 32), right quad u in [32, 42), both v in [22, 42), at z = 2."""
    left_v, left_f = quad(-0.5, -0.5, 0.0, 0.5, 2.0)
    right_v, right_f = quad(0.0, -0.5, 0.5, 0.5, 2.0)
    verts = np.concatenate([left_v, right_v])
    faces = np.concatenate([left_f, right_f + 4])
    return verts, faces, np.array([part_left, part_left, part_right, part_right], np.uint8)


@pytest.mark.parametrize("light, expected", [
    ((0.0, 0.0, -1.0), (184, 92, 46)),  # facing the light: 255 · c · (0.3 + 0.6) = (183.6, 91.8, 45.9)
    ((np.sqrt(0.75), 0.0, -0.5), (122, 61, 31)),  # 60° off: 255 · c · (0.3 + 0.6 · 0.5) = (122.4, 61.2, 30.6)
])
@pytest.mark.parametrize("flip_winding", [False, True])
def test_flat_quad_has_the_hand_computed_shade(light, expected, flip_winding):
    verts, faces = quad(-0.5, -0.5, 0.5, 0.5, 2.0)
    if flip_winding:  # a back face is lit like the front one (two-sided)
        faces = faces[:, ::-1].copy()
    res = render(verts, faces, np.zeros(2, np.uint8), K, flat_look(light=light), grey())
    inside = np.zeros((64, 64), bool)
    inside[22:42, 22:42] = True
    np.testing.assert_array_equal(res.mask, inside)
    assert (res.rgb[inside] == expected).all()
    assert (res.rgb[~inside] == 90).all()
    assert res.person_pixels_total == 400 and res.visible_fraction == 1.0 and res.occlusion_ratio == 0.0


def test_part_map_holds_each_face_part():
    verts, faces, parts = two_quads(4, 9)
    res = render(verts, faces, parts, K, flat_look(), grey(), want_parts=True, want_depth=True)
    expected = np.zeros((64, 64), np.uint8)
    expected[22:42, 22:32] = 5
    expected[22:42, 32:42] = 10
    np.testing.assert_array_equal(res.part_map, expected)
    np.testing.assert_array_equal(res.depth, np.where(expected > 0, 2.0, 0.0).astype(np.float32))


def test_occluder_over_half_the_person():
    verts, faces, parts = two_quads()
    mask = np.zeros((64, 64), bool)
    mask[:, :32] = True
    colour = np.zeros((64, 64, 3), np.uint8)
    colour[..., 1] = 200
    res = render(verts, faces, parts, K, flat_look(), grey(), Occluders(mask, colour), want_parts=True)
    assert res.person_pixels_total == 400
    assert res.visible_fraction == 0.5 and res.occlusion_ratio == 0.5
    assert res.mask.sum() == 200 and not res.mask[:, :32].any()
    assert (res.rgb[mask] == (0, 200, 0)).all()
    assert (res.part_map[:, :32] == 0).all() and (res.part_map[22:42, 32:42] == 10).all()


def test_keypoint_visibility_hand_built():
    """Torso plane (part spine1 = 3) at z = 3 with a forearm square (part left_elbow = 18) in front at z = 2."""
    back_v, back_f = quad(-0.6, -0.6, 0.6, 0.6, 3.0)
    front_v, front_f = quad(-0.1, -0.1, 0.1, 0.1, 2.0)
    verts = np.concatenate([back_v, front_v])
    faces = np.concatenate([back_f, front_f + 4])
    parts = np.array([3, 3, 18, 18], np.uint8)
    res = render(verts, faces, parts, K, flat_look(), grey())
    spine1, shoulder, elbow, wrist = (SMPL24.index(n) for n in ("spine1", "left_shoulder", "left_elbow",
                                                                "left_wrist"))
    cases = [  # (point, part, visible)
        ((0.0, 0.0, 2.5), spine1, False),  # behind the forearm: another part in front
        ((0.3, 0.3, 3.1), spine1, True),  # torso surface over its own joint
        ((0.0, 0.0, 2.5), shoulder, True),  # forearm is the child of the shoulder part
        ((0.0, 0.0, 2.5), wrist, True),  # ... and the parent of the wrist part
        ((0.0, 0.0, 2.5), elbow, True),  # its own part
        ((5.0, 0.0, 3.0), spine1, False),  # outside the image
        ((0.3, -0.3, 3.1), spine1, False),  # under the occluder (u = 35.9, v = 28.1 -> pixel (28, 35))
        ((0.0, 0.0, -1.0), spine1, False),  # behind the camera
        ((1.2, 0.0, 3.0), spine1, True),  # u = 48: no surface there, nothing in front
        ((0.0, 0.0, 1.5), spine1, True),  # nearer than the forearm surface
    ]
    occluder = np.zeros((64, 64), bool)
    occluder[27:30, 34:38] = True
    points = np.array([c[0] for c in cases])
    joint_parts = np.array([c[1] for c in cases])
    vis = keypoint_visibility(points, K, 64, 64, res.face_id, res.surface_depth, parts, joint_parts, occluder)
    np.testing.assert_array_equal(vis, [c[2] for c in cases])
    assert keypoint_visibility(points, K, 64, 64, res.face_id, res.surface_depth, parts, joint_parts)[6]


def test_occlusion_ratio_counts_truncation_at_the_border():
    """A 20 x 20 px square at u in [-8, 12): 12 of its 20 columns are in the image, so 40 % is truncated."""
    verts, faces = quad(-2.0, -0.5, -1.0, 0.5, 2.0)
    res = render(verts, faces, np.zeros(2, np.uint8), K, flat_look(), grey())
    assert res.person_pixels_total == 240 and res.visible_fraction == 1.0
    assert res.occlusion_ratio == pytest.approx(0.4)
    coarse = occlusion_ratio(verts, faces, K, 64, 64, 240, max_canvas_pixels=40 * 40)  # scaled-down canvas
    assert coarse == pytest.approx(0.4, abs=0.06)
    assert occlusion_ratio(verts, faces, K, 64, 64, 0) == 1.0
    assert occlusion_ratio(verts - [0, 0, 5.0], faces, K, 64, 64, 0) == 1.0  # behind the camera


def test_face_parts_takes_the_dominant_joint():
    weights = np.zeros((4, 24))
    weights[0, 5], weights[1, 5], weights[2, 7] = 1.0, 0.6, 1.0
    weights[1, 7] = 0.4
    weights[3, [7, 9]] = 0.5
    faces = np.array([[0, 1, 2], [1, 2, 3], [3, 3, 3]])
    # face 0: joint 5 -> 1.6, joint 7 -> 1.4; face 1: 5 -> 0.6, 7 -> 1.9; face 2: a tie 7 / 9 -> the lower
    np.testing.assert_array_equal(face_parts(weights, faces), [5, 7, 7])
    assert face_parts(weights, faces).dtype == np.uint8


def test_backgrounds_are_deterministic_per_seed_and_differ_across_seeds():
    a = make_background(np.random.default_rng(5), 48, 64, 0.5)
    b = make_background(np.random.default_rng(5), 48, 64, 0.5)
    c = make_background(np.random.default_rng(6), 48, 64, 0.5)
    assert a.shape == (48, 64, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c).mean() > 10
    assert a.astype(float).std(axis=(0, 1)).max() > 5  # textured, not flat


def test_left_and_right_limbs_share_a_colour():
    for seed in range(20):
        look = sample_appearance(np.random.default_rng(seed), seed / 19)
        rgb = look.joint_rgb()
        np.testing.assert_array_equal(rgb, rgb[list(SMPL24_FLIP)])


def test_sampled_appearance_follows_garment_cut_and_difficulty():
    regions = {r: i for i, r in enumerate(REGIONS)}
    easy, hard = [], []
    for seed in range(40):
        for d, store in ((0.0, easy), (1.0, hard)):
            look = sample_appearance(np.random.default_rng(seed), d)
            rgb = look.region_rgb
            assert np.allclose(np.linalg.norm(look.light_dir), 1.0) and look.light_dir[2] < 0  # camera side
            assert np.array_equal(rgb[regions["head"]], look.skin_rgb)
            assert np.array_equal(rgb[regions["hands"]], look.skin_rgb)
            forearm = rgb[regions["torso"]] if look.long_sleeves else look.skin_rgb
            shin = rgb[regions["thighs"]] if look.long_trousers else look.skin_rgb
            assert np.array_equal(rgb[regions["lower_arms"]], forearm)
            assert np.array_equal(rgb[regions["shins"]], shin)
            store.append((look.ambient, -look.light_dir[2], look.noise))
    easy, hard = np.array(easy), np.array(hard)
    assert easy[:, 0].mean() > hard[:, 0].mean() + 0.1  # less ambient light
    assert easy[:, 1].mean() > hard[:, 1].mean() + 0.1  # light further off the camera axis
    assert easy[:, 2].mean() + 4 < hard[:, 2].mean()  # noisier


def test_occluders_overlap_the_person_more_often_when_harder():
    box = (20, 10, 44, 60)

    def overlap_rate(d):
        hits = 0
        for seed in range(60):
            occ = sample_occluders(np.random.default_rng(seed), 64, 64, box, d)
            hits += occ.mask[10:60, 20:44].any()
        return hits / 60

    assert overlap_rate(0.0) < 0.5 < 0.7 < overlap_rate(1.0)
    a = sample_occluders(np.random.default_rng(1), 64, 64, box, 1.0)
    b = sample_occluders(np.random.default_rng(1), 64, 64, box, 1.0)
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_array_equal(a.rgb, b.rgb)


def test_render_is_deterministic():
    verts, faces, parts = blob_person()
    k = (120.0, 120.0, 40.0, 50.0)
    rng = np.random.default_rng(11)
    background = make_background(rng, 96, 80, 1.0)
    look = sample_appearance(rng, 1.0, background)
    occ = sample_occluders(rng, 96, 80, (20, 10, 60, 90), 1.0)
    first, second = (render(verts, faces, parts, k, look, background, occ, True, True) for _ in range(2))
    assert look.noise > 0 and first.mask.sum() > 500
    for name in ("rgb", "mask", "part_map", "depth", "face_id"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))


def test_render_of_the_free_body_mesh_labels_many_parts():
    body = free_body_mesh()
    if body is None:
        pytest.skip("free body model asset not built yet")
    verts, faces, weights = body
    parts = face_parts(weights, faces)
    res = render(verts, faces, parts, (150.0, 150.0, 40.0, 48.0), flat_look(), grey(), want_parts=True)
    assert len(np.unique(res.part_map)) > 15


@pytest.mark.parametrize("call, field", [
    (lambda: sample_appearance(np.random.default_rng(0), 1.5), "difficulty"),
    (lambda: make_background(np.random.default_rng(0), 8, 8, -0.1), "difficulty"),
    (lambda: sample_occluders(np.random.default_rng(0), 8, 8, (5, 5, 1, 1), 0.5), "person_box"),
    (lambda: render(*quad(0, 0, 1, 1, 2), np.zeros(2, np.uint8), K, flat_look(), grey().astype(float)), "background"),
    (lambda: render(*quad(0, 0, 1, 1, 2), np.full(2, 24, np.uint8), K, flat_look(), grey()), "face_parts"),
    (lambda: face_parts(np.zeros((4, 23)), np.zeros((1, 3), int)), "weights"),
])
def test_bad_input_names_the_argument(call, field):
    with pytest.raises(InputError, match=field):
        call()

"""SynthHMR's renderer: the shaded body composited over a background with occluders in front, and the exact image
labels (mask, part map, depth, keypoint visibility, occlusion ratio).

Camera frame (OpenCV): x right, y down, z forward, metres; K = (fx, fy, cx, cy) in pixels; pixel centres at
integer + 0.5 (see `raster`). Images are (H, W, 3) uint8 RGB. Flat Lambert shading of each face's part albedo
(`appearance`), lit two-sided.

What is drawn comes from the modules beside this one: how the person looks (`appearance`), the background
(`background`) and the occluders (`occluders`); their names are importable from here too. The per-pixel work
(rasterising, shading and compositing, visibility) runs in numba kernels; random draws stay with numpy's Generator
(per-pixel noise from its raw 64-bit words, `appearance.uniform_noise`), so every function is deterministic given
its rng or seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from hmr_bench.data.synth.appearance import (
    JOINT_REGION,
    PART_NEIGHBOURS,
    REGION_JOINTS,
    REGIONS,
    SKIN_TONES,
    Appearance,
    face_parts,
    sample_appearance,
    skin_tone,
    uniform_noise,
)
from hmr_bench.data.synth.background import make_background
from hmr_bench.data.synth.occluders import Occluders, sample_occluders
from hmr_bench.data.synth.raster import (
    NEAR,
    ProjectedMesh,
    covered_outside,
    front_bounds,
    project_mesh,
    rasterize,
    rasterize_projected,
)
from hmr_bench.errors import InputError


# --------------------------------------------------------------------------------------------------- render
@dataclass(frozen=True, eq=False)
class RenderResult:
    """One rendered image and its exact labels.

    rgb: (H, W, 3) uint8; mask: (H, W) bool person pixels visible after occluders; part_map: (H, W) uint8,
    0 = not a visible person pixel, else 1 + SMPL joint index (None unless asked); depth: (H, W) float32 camera z
    of visible person pixels, 0 elsewhere (None unless asked); person_pixels_total: person pixels before
    occluders; visible_fraction: mask pixels / person_pixels_total (0 when the person is not in the image);
    occlusion_ratio: see `occlusion_ratio`; face_id / surface_depth: the rasteriser's buffers before occluders
    ((H, W) int32, -1 = none; (H, W) float32, 0 = none), as `keypoint_visibility` wants them.
    """

    rgb: np.ndarray
    mask: np.ndarray
    part_map: np.ndarray | None
    depth: np.ndarray | None
    person_pixels_total: int
    visible_fraction: float
    occlusion_ratio: float
    face_id: np.ndarray
    surface_depth: np.ndarray


def shade_faces(verts_cam: np.ndarray, faces: np.ndarray, parts: np.ndarray, appearance: Appearance) -> np.ndarray:
    """(F, 3) float32 colour in 0..255 of each face: albedo of its part · (ambient + diffuse · max(0, n·l)),
    n the unit face normal turned towards the camera (two-sided), l = appearance.light_dir."""
    tri = np.asarray(verts_cam, np.float32)[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    towards_camera = np.einsum("fi,fi->f", normal, tri[:, 0]) < 0  # the camera sits at the origin
    length = np.maximum(np.linalg.norm(normal, axis=1), 1e-30)
    cos = np.einsum("fi,i->f", normal, np.asarray(appearance.light_dir, np.float32)) / length
    lambert = np.maximum(np.where(towards_camera, cos, -cos), 0.0)
    shade = appearance.ambient + appearance.diffuse * lambert
    return np.minimum(appearance.joint_rgb()[parts] * (255.0 * shade)[:, None], 255.0).astype(np.float32)


def render(verts_cam, faces, face_parts, K, appearance: Appearance, background: np.ndarray,
           occluders: Occluders | None = None, want_parts: bool = False, want_depth: bool = False,
           cull_backfaces: bool = False) -> RenderResult:
    """Renders one person: background, then the shaded body (plus noise), then occluders.

    verts_cam: (V, 3) camera frame; faces: (F, 3); face_parts: (F,) SMPL joint per face; K: (fx, fy, cx, cy);
    background: (H, W, 3) uint8 fixes the image size. cull_backfaces=True is faster and gives the same pixels
    for a closed mesh; the default also draws back faces (open meshes), lit two-sided.
    """
    bg = np.asarray(background)
    if bg.ndim != 3 or bg.shape[2] != 3 or bg.dtype != np.uint8:
        raise InputError("render", "background", found=f"shape {bg.shape}, dtype {bg.dtype}",
                         expected="(H, W, 3) uint8")
    height, width = bg.shape[:2]
    f = np.asarray(faces)
    parts = np.asarray(face_parts)
    if parts.shape != (len(f),) or not np.issubdtype(parts.dtype, np.integer) or (
            parts.size and (parts.min() < 0 or parts.max() > 23)):
        raise InputError("render", "face_parts", found=f"shape {parts.shape}, dtype {parts.dtype}",
                         expected=f"shape ({len(f)},) SMPL joint indices 0..23")
    region_rgb = np.asarray(appearance.region_rgb)
    if region_rgb.shape != (len(REGIONS), 3):
        raise InputError("render", "appearance.region_rgb", found=f"shape {region_rgb.shape}",
                         expected=f"shape ({len(REGIONS)}, 3), regions {REGIONS}")
    if occluders is not None and (occluders.mask.shape != (height, width) or
                                  occluders.rgb.shape != (height, width, 3)):
        raise InputError("render", "occluders", found=f"mask {occluders.mask.shape}, rgb {occluders.rgb.shape}",
                         expected=f"mask ({height}, {width}) and rgb ({height}, {width}, 3)")

    mesh = project_mesh(verts_cam, f, K, width, height, "render")
    face_id, surface_depth = rasterize_projected(mesh, cull_backfaces)
    has_occ = occluders is not None and bool(occluders.mask.any())
    occ_mask, occ_rgb = (occluders.mask, occluders.rgb) if has_occ else (np.zeros((1, 1), bool), bg[:1, :1])
    bounds = front_bounds(mesh)  # the person's pixels lie in the box of its projected vertices
    box = (0, -1, 0, -1) if bounds is None else (
        max(math.floor(bounds[2]) - 1, 0), min(math.ceil(bounds[3]) + 1, height - 1),
        max(math.floor(bounds[0]) - 1, 0), min(math.ceil(bounds[1]) + 1, width - 1))
    noise = max(int(appearance.noise), 0)
    words = 3 * int(np.count_nonzero(face_id >= 0)) if noise else 0  # 16 random bits per person pixel and channel
    bits = np.random.default_rng(appearance.seed).bit_generator.random_raw(max((words + 3) // 4, 1))
    rgb = bg.copy()
    mask = np.empty((height, width), bool)
    total, visible = _composite(face_id, box, np.asarray(verts_cam, np.float32), mesh.faces, parts,
                                appearance.joint_rgb(), np.asarray(appearance.light_dir, np.float32),
                                np.float32(appearance.ambient), np.float32(appearance.diffuse), noise, bits,
                                np.ascontiguousarray(occ_mask, bool), np.ascontiguousarray(occ_rgb), has_occ, rgb,
                                mask)
    part_map = depth = None
    if want_parts:
        part_map = np.zeros((height, width), np.uint8)
        part_map[mask] = parts[face_id[mask]] + 1
    if want_depth:
        depth = np.where(mask, surface_depth, np.float32(0.0))
    return RenderResult(
        rgb=rgb, mask=mask, part_map=part_map, depth=depth, person_pixels_total=total,
        visible_fraction=visible / total if total else 0.0,
        occlusion_ratio=_occlusion_ratio(mesh, bounds, verts_cam, K, visible, total, cull_backfaces),
        face_id=face_id, surface_depth=surface_depth)


@njit(cache=True)
def _composite(face_id, box, verts, faces, parts, joint_rgb, light, ambient, diffuse, noise, bits, occ_mask, occ_rgb,
               has_occ, rgb, mask):
    """The image of `render` in one pass. Person pixels (face_id >= 0) take their face's `shade_faces` colour
    (computed here, once per visible face, float32 like shade_faces), plus noise in [−noise, noise] per channel
    (the k-th person pixel in row-major order, channel c, takes word 3k + c of bits), clipped and rounded;
    occluder pixels (occ_mask, when has_occ) take occ_rgb. box: (row0, row1, col0, col1) inclusive, holding every
    person pixel. Paints into rgb (H, W, 3) uint8, which holds the background, and fills mask (H, W) bool (person
    pixels not occluded); returns (person pixels, visible person pixels)."""
    height, width = face_id.shape
    row0, row1, col0, col1 = box
    colour = np.empty((faces.shape[0], 3), np.float32)
    done = np.zeros(faces.shape[0], np.bool_)
    lx, ly, lz = light[0], light[1], light[2]
    total = visible = 0
    mask[:] = False
    for y in range(row0, row1 + 1):
        for x in range(col0, col1 + 1):
            f = face_id[y, x]
            if f < 0:
                continue
            if not done[f]:
                i0, i1, i2 = faces[f, 0], faces[f, 1], faces[f, 2]
                ax, ay, az = verts[i0, 0], verts[i0, 1], verts[i0, 2]
                e1x, e1y, e1z = verts[i1, 0] - ax, verts[i1, 1] - ay, verts[i1, 2] - az
                e2x, e2y, e2z = verts[i2, 0] - ax, verts[i2, 1] - ay, verts[i2, 2] - az
                nx, ny, nz = e1y * e2z - e1z * e2y, e1z * e2x - e1x * e2z, e1x * e2y - e1y * e2x
                length = max(math.sqrt(nx * nx + ny * ny + nz * nz), np.float32(1e-30))
                cos = (nx * lx + ny * ly + nz * lz) / length
                if nx * ax + ny * ay + nz * az >= 0:  # turned away from the camera: lit from the other side
                    cos = -cos
                shade = np.float32(255.0) * (ambient + diffuse * max(cos, np.float32(0.0)))
                for k in range(3):
                    colour[f, k] = min(joint_rgb[parts[f], k] * shade, np.float32(255.0))
                done[f] = True
            if not (has_occ and occ_mask[y, x]):
                for k in range(3):
                    value = colour[f, k]
                    if noise > 0:
                        value += uniform_noise(bits, 3 * total + k, noise)
                    rgb[y, x, k] = np.uint8(min(max(value, 0.0), 255.0) + 0.5)
                mask[y, x] = True
                visible += 1
            total += 1
    if has_occ:
        for y in range(height):
            for x in range(width):
                if occ_mask[y, x]:
                    for k in range(3):
                        rgb[y, x, k] = occ_rgb[y, x, k]
    return total, visible


# ----------------------------------------------------------------------------------------- ground-truth labels
def keypoint_visibility(points_cam, K, width: int, height: int, face_id: np.ndarray, depth: np.ndarray,
                        face_parts: np.ndarray, joint_parts, occluder_mask: np.ndarray | None = None,
                        depth_allowance: float = 0.1) -> np.ndarray:
    """Whether each joint is visible in the image.

    points_cam: (J, 3) camera frame; face_id, depth: (H, W) rasteriser buffers before occluders; face_parts:
    (F,); joint_parts: (J,) SMPL joint index whose body part each joint belongs to; occluder_mask: (H, W) bool.

    Joints lie *inside* the body, so a depth test against the surface would call every joint hidden. Rule: a
    joint is visible when it is in front of the camera (z > NEAR), projects inside the image, its pixel (the one
    whose square holds the projection) is not under an occluder, and the body surface at that pixel is the
    joint's own part, its parent or a child (SMPL kinematic tree) — or there is no surface there, or the joint is
    nearer than the surface (it sticks out of the mesh). Any other part there means another limb is in front.
    A surface of another part within `depth_allowance` metres in front of the joint also counts as the joint's
    own skin: seen from behind, the skin over a shoulder joint is skinned to spine3 (its grandparent), ~5-8 cm
    from the joint, whereas a limb or the torso hiding a joint lies further in front (a far shoulder in a 3/4
    back view sits ~20-30 cm behind the torso's surface). Returns (J,) bool.
    """
    pts = np.asarray(points_cam, np.float64)
    jp = np.asarray(joint_parts)
    if pts.ndim != 2 or pts.shape[1] != 3 or jp.shape != (len(pts),) or (jp.size and (jp.min() < 0 or jp.max() > 23)):
        raise InputError("keypoint_visibility", "points_cam/joint_parts", found=f"{pts.shape} / {jp.shape}",
                         expected="points (J, 3) and joint_parts (J,) SMPL joint indices 0..23")
    if face_id.shape != (height, width) or depth.shape != (height, width):
        raise InputError("keypoint_visibility", "face_id/depth", found=f"{face_id.shape} / {depth.shape}",
                         expected=f"({height}, {width})")
    occ = np.zeros((1, 1), bool) if occluder_mask is None else np.asarray(occluder_mask, bool)
    return _visibility_kernel(pts, np.array([float(x) for x in K]), width, height, face_id, depth,
                              np.asarray(face_parts), jp.astype(np.int64), occ, occluder_mask is not None,
                              float(depth_allowance), PART_NEIGHBOURS)


@njit(cache=True)
def _visibility_kernel(pts, K, width, height, face_id, depth, face_parts, joint_parts, occ, has_occ, allowance,
                       neighbours):
    """The rule of `keypoint_visibility` per joint: (J,) bool."""
    visible = np.zeros(len(pts), np.bool_)
    for j in range(len(pts)):
        z = pts[j, 2]
        if not z > NEAR:
            continue
        u, v = K[0] * pts[j, 0] / z + K[2], K[1] * pts[j, 1] / z + K[3]
        if not (0 <= u < width and 0 <= v < height):
            continue
        row, col = int(v), int(u)
        if has_occ and occ[row, col]:
            continue
        fid = face_id[row, col]
        visible[j] = fid < 0 or z - depth[row, col] < allowance or neighbours[joint_parts[j], face_parts[fid]]
    return visible


def occlusion_ratio(verts_cam, faces, K, width: int, height: int, visible_pixels: int,
                    person_pixels_in_image: int | None = None, cull_backfaces: bool = False,
                    max_canvas_pixels: int | None = None) -> float:
    """1 - visible person pixels / person pixels the body would cover in an unbounded image.

    The unbounded count covers a canvas that holds the image and the projected bounding box of all vertices (the
    image's pixel grid extended): person_pixels_in_image (when given: the person pixels `render` counted) plus
    the canvas pixels outside the image that the mesh covers (`raster.covered_outside`, the same coverage
    rule), or without it the whole canvas rasterised. A canvas larger than max_canvas_pixels (default 4·W·H, at
    least 256²) is rasterised at a lower resolution s < 1 and its count scaled by 1/s² (an estimate; only for
    bodies far out of frame). Truncation at the border
    and occluders both count as occlusion. Returns a float in [0, 1]; 1 when no part of the body is in front
    of the camera.
    """
    mesh = project_mesh(verts_cam, faces, K, width, height, "occlusion_ratio")
    return _occlusion_ratio(mesh, front_bounds(mesh), verts_cam, K, visible_pixels, person_pixels_in_image,
                            cull_backfaces, max_canvas_pixels)


def _occlusion_ratio(mesh: ProjectedMesh, bounds, verts_cam, K, visible_pixels: int,
                     person_pixels_in_image: int | None, cull_backfaces: bool,
                     max_canvas_pixels: int | None = None) -> float:
    """`occlusion_ratio` of a mesh already projected (`raster.project_mesh`) from verts_cam with K, whose
    `raster.front_bounds` are `bounds`."""
    if bounds is None:
        return 1.0
    u_min, u_max, v_min, v_max = bounds
    width, height = mesh.width, mesh.height
    # columns whose centre c + 0.5 can lie in [u_min, u_max]; rows likewise
    x0, x1 = min(0, math.ceil(u_min - 0.5)), max(width, math.floor(u_max - 0.5) + 1)
    y0, y1 = min(0, math.ceil(v_min - 0.5)), max(height, math.floor(v_max - 0.5) + 1)
    limit = max_canvas_pixels or max(4 * width * height, 256 * 256)
    s = min(1.0, math.sqrt(limit / ((x1 - x0) * (y1 - y0))))
    if (x0, y0, x1, y1) == (0, 0, width, height) and person_pixels_in_image is not None:
        total = float(person_pixels_in_image)
    elif s == 1.0 and person_pixels_in_image is not None:
        total = person_pixels_in_image + covered_outside(mesh, (x0, y0, x1, y1), cull_backfaces)
    else:
        fx, fy, cx, cy = (float(x) for x in K)
        canvas_k = (fx * s, fy * s, (cx - x0) * s, (cy - y0) * s)
        canvas_w, canvas_h = max(math.ceil((x1 - x0) * s), 1), max(math.ceil((y1 - y0) * s), 1)
        covered = int((rasterize(verts_cam, mesh.faces, canvas_k, canvas_w, canvas_h, cull_backfaces)[0] >= 0).sum())
        total = covered / (s * s)
    if total <= 0:
        return 1.0
    return float(min(max(1.0 - visible_pixels / total, 0.0), 1.0))


__all__ = [
    "JOINT_REGION", "PART_NEIGHBOURS", "REGIONS", "REGION_JOINTS", "SKIN_TONES", "Appearance", "Occluders",
    "RenderResult", "face_parts", "keypoint_visibility", "make_background", "occlusion_ratio", "render",
    "sample_appearance", "sample_occluders", "shade_faces", "skin_tone",
]

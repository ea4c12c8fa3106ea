"""SynthHMR: the synthetic benchmark hmr-bench renders with exact ground truth.

`raster` draws a mesh into face-id and depth buffers; `appearance` samples clothing and skin colours per body
part, `background` the scene behind the person and `occluders` the boxes and bars in front; `render` composes
them with lighting and derives the image labels (mask, parts, keypoint visibility, occlusion ratio);
`render_person` renders a chunk of scenes (`scene`) into image files written by `png`, and
`generate` builds and caches whole datasets from those chunks.
"""

from hmr_bench.data.synth.raster import NEAR, rasterize, rasterize_reference
from hmr_bench.data.synth.render import (
    JOINT_REGION,
    PART_NEIGHBOURS,
    REGION_JOINTS,
    REGIONS,
    Appearance,
    Occluders,
    RenderResult,
    face_parts,
    keypoint_visibility,
    make_background,
    occlusion_ratio,
    render,
    sample_appearance,
    sample_occluders,
    shade_faces,
    skin_tone,
)

__all__ = [
    "JOINT_REGION", "NEAR", "PART_NEIGHBOURS", "REGIONS", "REGION_JOINTS", "Appearance", "Occluders", "RenderResult",
    "face_parts", "keypoint_visibility", "make_background", "occlusion_ratio", "rasterize", "rasterize_reference",
    "render", "sample_appearance", "sample_occluders", "shade_faces", "skin_tone",
]

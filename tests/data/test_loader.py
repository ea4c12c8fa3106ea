"""The DataLoader path: batches depend on (seed, epoch, index) only, never on the worker count, and iterating a
loader never draws from the global torch RNG (a resumed run and an uninterrupted one see the same RNG stream)."""

from __future__ import annotations

import numpy as np
import torch

from hmr_bench.data.loader import make_loader
from tests.train.test_ddp import Keys  # samples that are their own keys (index, epoch)


def test_loaders_leave_the_global_rng_alone_and_workers_change_no_batch():
    torch.manual_seed(0)
    before = torch.get_rng_state()
    seen = {}
    for workers in (0, 1):
        loader = make_loader(Keys(10), 4, shuffle=True, seed=3, workers=workers)
        seen[workers] = [[(b["index"].tolist(), b["epoch"].tolist()) for b in loader] for _epoch in range(2)]
        del loader
        assert torch.equal(torch.get_rng_state(), before), f"{workers} worker(s) drew from the global torch RNG"
    assert seen[0] == seen[1]
    for epoch, batches in enumerate(seen[0]):
        order = np.random.default_rng([3, epoch]).permutation(10).tolist()  # EpochSampler's documented order
        assert [i for idx, _ in batches for i in idx] == order
        assert {e for _, es in batches for e in es} == {epoch}

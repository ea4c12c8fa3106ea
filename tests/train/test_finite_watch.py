"""`train.step.FiniteWatch`: the training loop's NaN/Inf check, one host synchronisation per many steps, giving the
error an immediate check would have given (first bad step, its terms, its place). The trainer's use of it is
covered by tests/experiment/test_runner.py (a run diverging at step 2 of an epoch checked only at its end) and
tests/train/test_ddp.py (the same under torchrun, every rank failing together)."""

from __future__ import annotations

import math

import torch

from hmr_bench.errors import NonFiniteLossError
from hmr_bench.train.step import FiniteWatch


def t(x: float) -> torch.Tensor:
    return torch.tensor(x)


def test_the_first_bad_step_is_named_with_its_non_finite_terms():
    w = FiniteWatch(every=3)
    w.add("epoch 1, step 1", t(3.0), {"keypoint": t(1.0), "cam": t(2.0)})
    assert not w.due()
    w.add("epoch 1, step 2", t(math.nan), {"keypoint": t(math.nan), "cam": t(math.inf)})
    w.add("epoch 1, step 3", t(math.inf), {"keypoint": t(math.inf), "cam": t(1.0)})
    assert w.due()
    (where, error), last = w.check()
    assert where == "epoch 1, step 2" and isinstance(error, NonFiniteLossError)
    assert error.names == ["keypoint", "cam"] and str(error) == "non-finite loss term(s): keypoint = nan; cam = inf"
    assert last == math.inf  # the last step's total, read after the one transfer
    assert w.check() == (None, None) and not w.due()  # checked steps are dropped


def test_finite_terms_with_an_overflowing_total_name_the_total():
    w = FiniteWatch()
    w.add("epoch 2, step 7", t(1.0), {"pose": t(1.0)})
    w.add("epoch 2, step 8", t(math.inf), {"pose": t(3e38), "beta": t(3e38)})  # each finite, the sum is not
    (where, error), last = w.check()
    assert where == "epoch 2, step 8"
    assert error.names == ["total"] and str(error).startswith("non-finite loss term(s): total = inf")
    assert last == math.inf


def test_finite_steps_give_no_error_and_the_last_loss():
    w = FiniteWatch(every=2)
    for i, v in enumerate((0.5, 0.25)):
        w.add(f"epoch 1, step {i + 1}", t(v), {"keypoint": t(v / 2), "cont": t(v / 2).to(torch.bfloat16)})
    assert w.check() == (None, 0.25)


def test_added_losses_are_detached_so_the_graph_is_not_kept():
    p = torch.ones(2, requires_grad=True)
    loss = (p * 2).sum()
    w = FiniteWatch()
    w.add("epoch 1, step 1", loss, {"keypoint": loss})
    kept = w._steps[0]
    assert not kept[1].requires_grad and not kept[2]["keypoint"].requires_grad


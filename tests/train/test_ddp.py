"""DDP: every rank's share of a batch (the global batch equals the one-process batch), the collectives and
error propagation between ranks (2 gloo processes), and `torchrun` running a table on 2 CPU processes."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch.multiprocessing as mp

from hmr_bench.errors import InputError
from hmr_bench.store import ResultsStore
from hmr_bench.train.ddp import Dist, RankSampler, rank_batch_size, shard_loader
from tests.train import PYTHON, cli_env, make_cache, nan_table, set_args, synth_root_fixture, tiny  # noqa: F401


class Keys:
    """A dataset whose samples are their own keys."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, key) -> dict:
        return {"index": key.index, "epoch": key.epoch}


def batches(loader, epoch: int) -> list[list[int]]:
    loader.sampler.set_epoch(epoch)
    return [b["index"].tolist() for b in loader]


@pytest.mark.parametrize("n, batch, world", [(37, 8, 2), (37, 9, 3), (64, 8, 4), (16, 8, 2)])
def test_global_batch_of_the_ranks_is_the_one_process_batch(n, batch, world):
    from hmr_bench.data.loader import make_loader

    def loader(d):
        return shard_loader(make_loader(Keys(n), batch, shuffle=True, seed=7, workers=0, drop_last=True), d)

    for epoch in (0, 3):
        one = batches(loader(Dist()), epoch)
        ranks = [batches(loader(Dist(rank=r, world=world)), epoch) for r in range(world)]
        assert len(one) == n // batch and all(len(r) == len(one) for r in ranks)  # every rank steps equally
        for i, global_batch in enumerate(one):
            parts = [r[i] for r in ranks]
            assert all(len(p) == batch // world for p in parts)
            merged = [k for p in parts for k in p]
            assert len(set(merged)) == batch and sorted(merged) == sorted(global_batch)
            # rank r holds positions r::world of the global batch (the keys of the shuffled order, dealt out)
            for r, p in enumerate(parts):
                assert p == global_batch[r::world]
    # the one-process order itself comes from the epoch: different epochs, different batches
    assert batches(loader(Dist()), 0) != batches(loader(Dist()), 1)


def test_rank_sampler_deals_the_permutation_and_drops_the_uneven_tail():
    class Base:
        epoch = 0

        def __iter__(self):
            return iter(range(10, 17))  # 7 keys

        def __len__(self):
            return 7

    assert list(RankSampler(Base(), 0, 2)) == [10, 12, 14]
    assert list(RankSampler(Base(), 1, 2)) == [11, 13, 15]  # 16 is dropped so both ranks have 3
    assert len(RankSampler(Base(), 1, 2)) == 3
    with pytest.raises(InputError, match="0 <= rank < world"):
        RankSampler(Base(), 2, 2)


def test_global_batch_must_split_evenly():
    assert rank_batch_size(48, Dist(rank=1, world=4)) == 12
    with pytest.raises(InputError, match=r"train.batch_size.*found 10 over 4 processes.*multiple of the world size"):
        rank_batch_size(10, Dist(rank=0, world=4))


# ------------------------------------------------------------------ collectives on 2 gloo processes

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _collectives(rank: int, world: int, port: int, out: str) -> None:
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    from hmr_bench.errors import InputError
    from hmr_bench.train import ddp

    d, device = ddp.init_from_env("cpu")
    res = {"dist": [d.rank, d.world, d.active, d.is_main], "device": device}
    res["broadcast"] = ddp.broadcast({"from": d.rank}, d)
    res["any_none"] = ddp.any_rank(False, d)
    res["any_one"] = ddp.any_rank(d.rank == world - 1, d)
    res["gather"] = ddp.all_gather(d.rank * 10, d)
    res["shared"] = ddp.on_main(d, lambda: "rank0 result", share=True)
    res["unshared"] = ddp.on_main(d, lambda: "rank0 result")

    def first():  # who got here first
        mark = Path(out, "first.txt")
        seen = mark.read_text() if mark.exists() else None
        mark.write_text(str(d.rank))
        return seen

    res["main_first"] = ddp.main_first(d, first)
    try:
        ddp.on_main(d, lambda: (_ for _ in ()).throw(InputError("x.npz", found="bad", expected="good")))
        res["error"] = None
    except Exception as e:  # noqa: BLE001
        res["error"] = [type(e).__name__, str(e)]
    res["after_error"] = ddp.all_gather(d.rank, d)  # no rank is left behind
    ddp.shutdown(d)
    Path(out, f"rank{rank}.json").write_text(json.dumps(res))


def test_collectives_and_a_rank0_error_reach_every_rank(tmp_path):
    mp.spawn(_collectives, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["dist"] == [0, 2, True, True] and r1["dist"] == [1, 2, True, False]
    assert r0["device"] == r1["device"] == "cpu"
    assert r0["broadcast"] == r1["broadcast"] == {"from": 0}
    assert (r0["any_none"], r1["any_none"], r0["any_one"], r1["any_one"]) == (False, False, True, True)
    assert r0["gather"] == r1["gather"] == [0, 10]
    assert r0["shared"] == r1["shared"] == "rank0 result"
    assert (r0["unshared"], r1["unshared"]) == ("rank0 result", None)
    assert (r0["main_first"], r1["main_first"]) == (None, "0")  # rank 0 ran it first, then rank 1
    assert r0["error"] == ["InputError", "x.npz: found bad; expected good"]
    assert r1["error"] == ["RankFailedError", "rank 0 failed: InputError: x.npz: found bad; expected good"]
    assert r0["after_error"] == r1["after_error"] == [0, 1]


# ------------------------------------------------------------------ torchrun, 2 CPU processes

def test_torchrun_two_cpu_processes_run_a_table(tmp_path, synth_root):
    """Rank 0 alone writes the store: one finished run (world size 2) for the normal row; the row whose loss goes
    NaN fails on both ranks together, and the table goes on."""
    cache = make_cache(tmp_path / "cache", synth_root)
    env = cli_env(cache, HMR_BENCH_ABLATIONS=str(nan_table(tmp_path / "ablations")), OMP_NUM_THREADS="1")
    cmd = [PYTHON, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "hmr_bench.cli",
           "run", "nantest", "--profile", "smoke", "--device", "cpu", "--quiet", *set_args(tiny(train__epochs=2))]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stderr[-3000:]  # 1: a row failed (NaN); not a crash
    assert res.stdout.count("runs: 1 failed, 1 finished") == 1  # printed by rank 0 only
    store = ResultsStore(cache / "results.sqlite")
    runs = {r["variant"]: r for r in store.runs(table="nantest")}
    assert set(runs) == {"diverge", "ok"}
    ok, bad = runs["ok"], runs["diverge"]
    assert ok["status"] == "finished" and ok["env"]["world_size"] == 2
    assert bad["status"] == "failed" and bad["message"].startswith("non-finite loss: epoch 1, step 2: rank ")
    finals = {m["name"]: m["value"] for m in store.metrics(run_ids=[ok["run_id"]], split="test")}
    assert set(finals) == {"mpjpe", "pa_mpjpe", "pve", "pa_pve"} and all(np.isfinite(list(finals.values())))
    assert store.curve(ok["run_id"], "mpjpe")["epoch"].tolist() == [0, 1]
    assert len(store.samples(ok["run_id"], "test", "mpjpe")["index"]) == 16  # rank 0 tested the whole split once
    last = cache / "runs" / ok["config_hash"] / "last.pt"
    from hmr_bench.train.checkpoint import load_checkpoint

    ck = load_checkpoint(last)
    assert ck["epoch"] == 1 and len(ck["rng_ranks"]) == 2

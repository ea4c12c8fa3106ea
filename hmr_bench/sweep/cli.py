"""`hmr-bench sweep`: an optuna search over the consistency/contrastive weights, then the best weights against the
paper's defaults on test. `add_parser` / `cmd_sweep` are wired into `hmr_bench.cli`; `python -m hmr_bench.sweep`
(`sweep/__main__.py`) runs the same command on its own.

    hmr-bench sweep --profile cpu --trials 20                       # λx, λy, λs, λcam, λcont, official L_cam
    hmr-bench sweep --profile smoke --trials 3 --retrain-seeds 0 --set train.max_steps_per_epoch=2
    hmr-bench sweep --cam-form paper --search lambda_cam,lambda_cont --param train.lr=1e-5:1e-3:log
    hmr-bench sweep --metric mpjpe,pa_mpjpe --pruner none            # multi-objective
    hmr-bench sweep --storage postgresql+psycopg://u:pw@host/db ...  # the same command on several machines
"""

from __future__ import annotations

import argparse
import logging
import math


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Adds the `sweep` sub-command to an argparse sub-parsers object; returns its parser."""
    from hmr_bench.sweep.space import BUILTIN_KEYS, METRICS

    p = subparsers.add_parser(
        "sweep", help="optuna search over the loss weights (λx, λy, λs, λcam, λcont), then best vs defaults on test",
        description="Optuna search over the camera-consistency and contrastive loss weights, scored on the "
        "validation split (never test). Each trial is a normal run of the results store (cached by config hash, "
        "resumable). Run the same command in several processes or machines to share one study. Ranges: "
        "hmr_bench/sweep/space.py.")
    p.add_argument("--trials", type=int, default=20, help="finished trials the study should hold (default 20)")
    p.add_argument("--profile", default=None, help="smoke | cpu | paper (default: paper with a GPU, else cpu)")
    p.add_argument("--study", default=None, help="study name (default: weights-<cam form>-<profile>)")
    p.add_argument("--storage", default=None, help="optuna storage: SQLAlchemy URL or SQLite path (default: "
                   "<cache>/sweeps.sqlite; PostgreSQL to share a study between machines)")
    p.add_argument("--store", default=None, help="results store: SQLAlchemy URL or SQLite path (default: cache)")
    p.add_argument("--search", default=None, help="comma-separated built-in weights to search (default: all of "
                   + ", ".join(BUILTIN_KEYS) + ")")
    p.add_argument("--param", action="append", metavar="KEY=LOW:HIGH[:log]",
                   help="search a config key too (or change a built-in's range), e.g. train.lr=1e-5:1e-3:log")
    p.add_argument("--cam-form", choices=["official", "paper"], default=None,
                   help="L_cam form (official: the code behind the paper's numbers; paper: Eq. 15-16)")
    p.add_argument("--metric", default="mpjpe", help="validation metric(s) to minimise, comma-separated (two: "
                   "multi-objective); among " + ", ".join(METRICS))
    p.add_argument("--pruner", choices=["median", "none"], default=None,
                   help="median (default, single objective): once 5 trials are complete, stop a trial whose best "
                   "validation value so far is worse than their median at that epoch; checked from the first epoch "
                   "when trials train 1-2 epochs (cpu, smoke profiles), from the second with 3 or more, never after "
                   "the last. none: never stop a trial")
    p.add_argument("--seed", type=int, default=None, help="training seed of every trial (default: the profile's "
                   "first seed)")
    p.add_argument("--sampler-seed", type=int, default=0, help="seed of the TPE sampler (default 0)")
    p.add_argument("--retrain-seeds", default=None, help="comma-separated seeds for best vs defaults on test "
                   "(default: the profile's, cpu: 0,1,2)")
    p.add_argument("--no-retrain", action="store_true", help="search only")
    p.add_argument("--no-defaults-trial", action="store_true", help="do not start the study with the defaults")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="fixed config override, e.g. train.epochs=3")
    p.add_argument("--data-root", default=None, help="folder of real SPIN-format data (with --set data.source=real)")
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:1 (default: cuda when available)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-trial lines")
    p.set_defaults(func=cmd_sweep)
    return p


def cmd_sweep(args: argparse.Namespace) -> int:
    import optuna
    import torch

    from hmr_bench.config import parse_overrides
    from hmr_bench.errors import InputError
    from hmr_bench.experiment.runner import JobRunner
    from hmr_bench.profiles import DEFAULT_SEEDS
    from hmr_bench.store import ResultsStore
    from hmr_bench.sweep.page import sweep_page_data
    from hmr_bench.sweep.retrain import compare, retrain
    from hmr_bench.sweep.search import run_sweep
    from hmr_bench.sweep.space import build_spec, check_study_name
    from hmr_bench.sweep.study import open_storage

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("hmr_bench.sweep").setLevel(logging.WARNING if args.quiet else logging.INFO)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    gpu = torch.cuda.is_available()
    profile = args.profile or ("paper" if gpu else "cpu")
    device = args.device or ("cuda" if gpu else "cpu")
    if profile not in DEFAULT_SEEDS:
        from hmr_bench.profiles import profile_config

        profile_config(profile)  # InputError naming the profiles
    seed = DEFAULT_SEEDS[profile][0] if args.seed is None else args.seed
    spec = build_spec(profile, search=None if args.search is None else args.search.split(","), params=args.param,
                      metrics=tuple(m.strip() for m in args.metric.split(",")), cam_form=args.cam_form,
                      overrides=parse_overrides(args.set), seed=seed, sampler_seed=args.sampler_seed,
                      pruner=args.pruner)
    name = check_study_name(args.study or f"weights-{spec.cam_form}-{profile}")
    retrain_seeds = DEFAULT_SEEDS[profile] if args.retrain_seeds is None else _seeds(args.retrain_seeds)
    if args.trials < 1:
        raise InputError("--trials", found=args.trials, expected="a positive number of trials")
    storage = open_storage(args.storage)
    store = ResultsStore(args.store)
    result = run_sweep(spec, args.trials, study_name=name, storage=storage, store=store, data_root=args.data_root,
                       device=device, progress=not args.quiet, enqueue_defaults=not args.no_defaults_trial)
    print(f"study {name}: " + ", ".join(f"{n} {s.lower()}" for s, n in sorted(result.counts.items()))
          + f" (target {args.trials} finished; this process ran {len(result.ran)})")
    best = result.best
    if best is None:
        print("no complete trial")
        return 1
    data = sweep_page_data(name, storage, store)
    print(f"best trial {best.number}: " + ", ".join(f"{spec.metrics[i]} {v:.2f}" for i, v in enumerate(best.values))
          + " (validation)")
    print(_params_table(data, best.params))
    if args.no_retrain:
        return 0
    runner = JobRunner(store, profile, data_root=args.data_root, device=device, progress=not args.quiet)
    plan = retrain(optuna.load_study(study_name=name, storage=storage), runner, retrain_seeds)
    print()
    print(format_comparison(compare(store, plan)))
    return 0


def format_comparison(cmp: dict) -> str:
    """Text of `retrain.compare`: per test dataset and metric, defaults and best (mean ± CI over seeds), the paired
    difference and the verdict."""
    lines = [f"best (trial {cmp['best_trial']}) vs the paper's defaults on test, seeds {cmp['seeds']}"
             + (f" (missing: {cmp['missing_seeds']})" if cmp["missing_seeds"] else "")]
    if cmp.get("best_is_defaults"):
        lines.append("  the best trial IS the paper's defaults: no other weights did better on validation")
    for dataset, per in cmp["datasets"].items():
        for metric, r in per.items():
            d, b = r["diff"], r["bootstrap"]
            verdict = {True: "best beats the defaults beyond seed noise",
                       False: "best is worse than the defaults beyond seed noise",
                       None: "no difference beyond seed noise" if math.isfinite(d["low"])
                       else "no seed CI (one seed)"}[r["beats_defaults"]]
            boot = f"; test-sample bootstrap [{b['low']:+.2f}, {b['high']:+.2f}]" if b else ""
            lines.append(f"  {dataset} {metric}: defaults {_iv(r['mean']['defaults'])}, best {_iv(r['mean']['best'])}"
                         f", best − defaults {_iv(d, signed=True)}{boot} → {verdict}")
    lines.append(f"  note: {cmp['caveat']}")
    return "\n".join(lines)


def _iv(iv: dict, signed: bool = False) -> str:
    f = "+.2f" if signed else ".2f"
    if not math.isfinite(iv["low"]):
        return f"{iv['mean']:{f}}"
    return f"{iv['mean']:{f}} [{iv['low']:{f}}, {iv['high']:{f}}]"


def _params_table(data: dict, params: dict) -> str:
    rows = [f"  {data['labels'][k]:<12} {v:>11.4g}   (paper default {data['defaults'][k]:.4g})"
            if data["defaults"].get(k) is not None else f"  {data['labels'][k]:<12} {v:>11.4g}"
            for k, v in params.items()]
    return "\n".join(rows)


def _seeds(text: str) -> tuple[int, ...]:
    from hmr_bench.errors import InputError

    try:
        seeds = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise InputError("--retrain-seeds", found=repr(text), expected="comma-separated integers, e.g. 0,1,2") from None
    if len(set(seeds)) != len(seeds):
        raise InputError("--retrain-seeds", found=repr(text), expected="distinct seeds")
    return seeds

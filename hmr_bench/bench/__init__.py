"""Speed, FLOPs and scaling measurements (issue 8), importable and testable on tiny inputs.

    timing      warm-up, timed rounds between device synchronisations (`time_fn` → `Timing`)
    flops       parameters and MACs (`count_params`, `count_macs`: torch's FlopCounterMode, FLOPs / 2)
    inputs      benchmark configs, models and synthetic batches in the trainer's exact batch format
    inference   inference callables per scope (backbone / model / end-to-end) and their per-part times
    training    the training step (as the trainer does it), the backbone-alone fwd+bwd, the step's breakdown
    results     the speed-record format (one long row per figure, with provenance): written one file per run,
                read back as one pandas frame (`speed_frame`) by the report
    loader      the real DataLoader's training rate against the synthetic-batch step rate (crop_on cpu / device)
    targets     ``python -m hmr_bench.bench.targets``: the issue's target ratios measured in one run

The pytest-benchmark files under ``benchmarks/`` call these; ``nox -s bench`` runs them.
"""

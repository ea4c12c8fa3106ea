"""What a run's numbers stand on besides code, config and data, for the store's rows: the git commit of the code,
the body-model files (with their sha256) and, per test protocol, the ground truth it scores against.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from hmr_bench.config import RunConfig


def git_sha(short: bool = False, dirty: bool = False) -> str | None:
    """The commit of the checkout this package runs from (short: git's abbreviated sha; dirty: "+dirty" appended
    when tracked files have uncommitted changes), or None (no git, or not a checkout)."""
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", *(["--short"] if short else []), "HEAD"], capture_output=True,
                             text=True, timeout=5, cwd=here).stdout.strip()
        changed = dirty and sha and subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                                   capture_output=True, text=True, timeout=10, cwd=here).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (sha + ("+dirty" if changed else "")) or None


def run_provenance(cfg: RunConfig, warn: bool = False) -> dict:
    """What a run's numbers stand on besides code, config and data, for the store's ``env``: the body-model
    files with their sha256, and per test protocol its GT source, pelvis and GT body model
    (`eval.gt_choice.gt_lines`; warn: log a non-comparable protocol once, as the CLI shows it)."""
    from hmr_bench.body.source import body_provenance
    from hmr_bench.eval.gt_choice import gt_lines

    tests = cfg.data.test_sets if cfg.data.source == "real" else ("synth-test",)
    return {"body_model": body_provenance(cfg.body_model),
            "ground_truth": gt_lines(tests, cfg.data.eval_gt, cfg.body_model, warn=warn)}

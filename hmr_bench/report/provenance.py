"""Provenance shown on every page: where, when, with what code and data each run was made, and how the report
itself was built. Everything comes from the store's run rows (env, git_sha, config, dataset_key, wall time) and
from this process (the builder's versions)."""

from __future__ import annotations

import json
import logging
import platform
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from hmr_bench.errors import HmrBenchError

log = logging.getLogger(__name__)

LIBRARIES = ("torch", "numpy", "scipy", "smplx", "matplotlib", "jinja2", "sqlalchemy")


def utc(ts: float | None) -> str:
    """Unix seconds → '2025-01-31 14:02 UTC' ('' for None)."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def duration(seconds: float | None) -> str:
    """Seconds → '42 s', '12.5 min', '3.2 h' ('' for None)."""
    if seconds is None:
        return ""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def builder() -> dict:
    """How this report was built: date, hmr-bench version and git commit, python, platform, library versions."""
    from hmr_bench import __version__
    from hmr_bench.experiment.provenance import git_sha

    return {"built": utc(datetime.now(timezone.utc).timestamp()), "hmr-bench": __version__,
            "git commit": git_sha() or "unknown", "python": platform.python_version(), "platform": platform.platform(),
            **{lib: _version(lib) for lib in LIBRARIES}}


def up_to_date(run: dict) -> bool | None:
    """Whether the run's config hash is still what today's code gives its config (False: the result code, the
    config defaults or the data changed since; None: the config cannot be rebuilt)."""
    from hmr_bench.config import RunConfig

    try:
        cfg = RunConfig.from_dict(run["config"], source=f"run {run['run_id']} config")
    except HmrBenchError:
        return None
    world = (run.get("env") or {}).get("world_size") or 1
    key = run.get("dataset_key") or ""
    return cfg.hash(key if world == 1 else f"{key}|world={world}") == run["config_hash"]


def run_rows(runs: list[dict]) -> list[dict]:
    """One display row per run: variant, seed, status (+ message), config hash, git, host, device, torch, python,
    threads, wall time, finished date, dataset key, up to date."""
    rows = []
    for r in runs:
        env = r.get("env") or {}
        rows.append({
            "variant": r["variant"], "seed": r["seed"], "status": r["status"], "message": r.get("message") or "",
            "config_hash": r["config_hash"], "git": (r.get("git_sha") or "")[:10], "host": env.get("hostname", ""),
            "device": env.get("device") or "", "torch": env.get("torch") or "", "python": env.get("python") or "",
            "threads": env.get("threads"), "world": env.get("world_size") or 1,
            "wall": duration(r.get("wall_time")), "wall_s": r.get("wall_time"),
            "finished": utc(r.get("finished_at")), "dataset_key": r.get("dataset_key") or "",
            "up_to_date": up_to_date(r) if r["status"] == "finished" else None,
        })
    return rows


def dataset_card(key: str) -> str:
    """One line about a dataset key: SynthHMR's card (images per split, size, difficulty) when it is in this
    cache, else the key itself."""
    if not key:
        return "unknown dataset"
    if key.startswith("real:"):
        return f"real data ({key[5:]})"
    from hmr_bench.data.synth.generate import synth_root

    path = Path(synth_root()) / key / "card.json"
    try:
        card = json.loads(path.read_text())
    except (OSError, ValueError):
        return f"SynthHMR {key} (no dataset card in this cache)"
    cfg = card.get("config", {})
    splits = ", ".join(f"{s} {v.get('images', '?')}" for s, v in card.get("splits", {}).items())
    size = cfg.get("image_size")
    size = f"{size[0]}×{size[1]} px" if isinstance(size, (list, tuple)) and len(size) == 2 else "? px"
    actions = sorted(card.get("splits", {}).get("test", {}).get("actions", {}))
    return (f"SynthHMR {key}: {splits} images, {size}, difficulty {cfg.get('difficulty', '?')}"
            + (f"; test actions: {', '.join(actions)}" if actions else ""))


def _body_line(body: dict | None) -> str | None:
    """A run's body-model record (`experiment.provenance.run_provenance`) → 'SOURCE (gender FILE sha256 12 hex; …)'."""
    if not body:
        return None
    files = "; ".join(f"{g} {f['file']} sha256 {f['sha256'][:12]}" for g, f in (body.get("files") or {}).items())
    return f"{body.get('source', '?')} ({files})"


def summary(runs: list[dict], seeds) -> dict:
    """Provenance of a set of runs in a few lines: git commits, datasets (with their cards), hosts and devices,
    torch / python versions, body-model files (sha256), each test protocol's ground truth (source, pelvis, GT
    body model, and a note when not comparable with published numbers), seeds, total wall time, first and last
    finish date."""
    fin = [r for r in runs if r["status"] == "finished"]
    envs = [r.get("env") or {} for r in fin]

    def distinct(values) -> str:
        vals = sorted({str(v) for v in values if v not in (None, "")})
        return ", ".join(vals) if vals else "–"

    dates = [r["finished_at"] for r in fin if r.get("finished_at")]
    walls = [r["wall_time"] for r in fin if r.get("wall_time") is not None]
    return {
        "runs": f"{len(fin)} finished" + (f", {len(runs) - len(fin)} other (failed, running or superseded)"
                                           if len(runs) > len(fin) else ""),
        "git commits": distinct((r.get("git_sha") or "")[:10] for r in fin),
        "datasets": "; ".join(dataset_card(k) for k in sorted({r.get("dataset_key") or "" for r in fin})) or "–",
        "hardware": distinct(f"{e.get('hostname', '?')} ({e.get('device') or '?'}, {e.get('threads') or '?'} threads"
                             f", world {e.get('world_size') or 1})" for e in envs),
        "platform": distinct(e.get("platform") for e in envs),
        "torch": distinct(e.get("torch") for e in envs),
        "python": distinct(e.get("python") for e in envs),
        "body model": distinct(_body_line(e.get("body_model")) for e in envs),
        "ground truth": distinct(f"{name}: {line}" for e in envs
                                 for name, line in (e.get("ground_truth") or {}).items()),
        "seeds": ", ".join(str(s) for s in seeds),
        "wall time": f"{duration(sum(walls))} in total" if walls else "–",
        "finished": f"{utc(min(dates))} … {utc(max(dates))}" if dates else "–",
    }

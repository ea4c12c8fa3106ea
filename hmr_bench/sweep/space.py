"""What a sweep searches: the consistency/contrastive weights (spec §4.1, §4.2, §4.7) and any numeric config key.

Built-in parameters (optuna name → config key), each log-uniform over one decade either side of the default of
the chosen L_cam form (`loss.cam`: ``official`` = the code that produced the paper, ``paper`` = Eq. 15–16):

    name         key                 official form        paper form           default (official / paper)
    lambda_x     loss.lambda_x       [0.1, 10]            [0.01, 1]            1 / 0.1     x-translation residual
    lambda_y     loss.lambda_y       [0.1, 10]            [0.01, 1]            1 / 0.1     y-translation residual
    lambda_s     loss.lambda_s       [1e-5, 1e-3]         [1e-5, 1e-3]         1e-4        scale residual
    lambda_cam   loss.weights.cam    [0.1, 10]            [0.1, 10]            1           λcam of L_cam
    lambda_cont  loss.weights.cont   [0.01, 1]            [0.01, 1]            0.1         λcont of L_cont

(In the official form λx, λy, λs sit inside the squares, in the paper form outside: `losses.camera`.) In the
official form λcam and a common factor of (λx, λy, λs) are not separable — the search is over-parametrised on
purpose, so that each weight's own sensitivity is visible.

Any other numeric config key is added with ``key=low:high`` (uniform) or ``key=low:high:log``; an int field gives
an integer range. A built-in's key (or name) there replaces its range.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import typing
from dataclasses import dataclass, field
from typing import Any

from hmr_bench.config import RunConfig, apply_overrides, field_type, get_path, to_jsonable, valid_keys
from hmr_bench.errors import InputError
from hmr_bench.losses.camera import CAM_LOSS_DEFAULTS, CAM_VARIANTS
from hmr_bench.losses.total import LossWeights
from hmr_bench.profiles import PROFILES, profile_config

BUILTIN_KEYS = {"lambda_x": "loss.lambda_x", "lambda_y": "loss.lambda_y", "lambda_s": "loss.lambda_s",
                "lambda_cam": "loss.weights.cam", "lambda_cont": "loss.weights.cont"}
BUILTIN_RANGES = {  # cam form → name → (low, high), all log-uniform
    "official": {"lambda_x": (0.1, 10.0), "lambda_y": (0.1, 10.0), "lambda_s": (1e-5, 1e-3),
                 "lambda_cam": (0.1, 10.0), "lambda_cont": (0.01, 1.0)},
    "paper": {"lambda_x": (0.01, 1.0), "lambda_y": (0.01, 1.0), "lambda_s": (1e-5, 1e-3),
              "lambda_cam": (0.1, 10.0), "lambda_cont": (0.01, 1.0)},
}
METRICS = ("mpjpe", "pa_mpjpe", "pve", "pa_pve")  # validation means the trainer logs (all errors: minimised)
PRUNERS = ("median", "none")
_STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,57}$")  # the results-store table is "sweep:<name>"


@dataclass(frozen=True)
class Param:
    """One searched parameter: optuna `name`, config `key`, range [low, high], log scale, integer or float."""

    name: str
    key: str
    low: float
    high: float
    log: bool = True
    integer: bool = False

    def distribution(self):
        from optuna.distributions import FloatDistribution, IntDistribution

        if self.integer:
            return IntDistribution(int(self.low), int(self.high), log=self.log)
        return FloatDistribution(float(self.low), float(self.high), log=self.log)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SweepSpec:
    """Everything that defines a study (stored with it; a restart must give the same spec).

    profile: smoke | cpu | paper; params: the search space; metrics: validation metric(s) minimised (two or more:
    multi-objective); cam_form: `loss.cam`; overrides: fixed config changes (``--set``); seed: the training seed
    of every trial; sampler_seed: seeds the TPE sampler; pruner: median | none.
    """

    profile: str
    params: tuple[Param, ...]
    metrics: tuple[str, ...] = ("mpjpe",)
    cam_form: str = "official"
    overrides: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    sampler_seed: int = 0
    pruner: str = "median"

    def __post_init__(self):
        if not self.params:
            raise InputError("sweep", "params", found="an empty search space", expected="at least one parameter")
        for m in self.metrics:
            if m not in METRICS:
                raise InputError("--metric", found=repr(m), expected="one of " + ", ".join(METRICS),
                                 hint=_near(m, METRICS))
        if len(set(self.metrics)) != len(self.metrics) or not self.metrics:
            raise InputError("--metric", found=list(self.metrics), expected="one or more distinct metric names")
        if self.pruner not in PRUNERS:
            raise InputError("--pruner", found=repr(self.pruner), expected="one of " + ", ".join(PRUNERS))
        if self.pruner != "none" and len(self.metrics) > 1:
            raise InputError("--pruner", found=f"{self.pruner!r} with {len(self.metrics)} objectives",
                             expected="'none' (optuna cannot prune multi-objective trials)")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def param(self, name: str) -> Param:
        return {p.name: p for p in self.params}[name]

    def base_config(self) -> RunConfig:
        """The profile's config with the fixed overrides and the L_cam form; train.seed = `seed`."""
        cfg = apply_overrides(profile_config(self.profile), dict(self.overrides), source="--set")
        return apply_overrides(cfg, {"loss.cam": self.cam_form, "train.seed": self.seed}, source="sweep")

    def overrides_for(self, params: dict[str, float]) -> dict[str, Any]:
        """Config overrides of a trial: {config key: value} for optuna params {name: value}."""
        return {self.param(n).key: v for n, v in params.items()}

    def config(self, params: dict[str, float], seed: int | None = None) -> RunConfig:
        """The run config of `params` (a trial's, or `defaults()`), with training seed `seed` (None: `self.seed`)."""
        cfg = apply_overrides(self.base_config(), self.overrides_for(params), source="sweep parameters")
        return cfg if seed is None else apply_overrides(cfg, {"train.seed": seed}, source="sweep")

    def defaults(self) -> dict[str, float | None]:
        """The paper's default value of every searched parameter (for the chosen L_cam form); a user key's default is
        its value in `base_config()` (None when it has none)."""
        base = self.base_config()
        out = {}
        for p in self.params:
            value = builtin_default(p.name, self.cam_form) if p.name in BUILTIN_KEYS else get_path(base, p.key)
            out[p.name] = value
        return out

    def to_dict(self) -> dict:
        return {"profile": self.profile, "params": [p.to_dict() for p in self.params], "metrics": list(self.metrics),
                "cam_form": self.cam_form, "overrides": to_jsonable(dict(self.overrides)), "seed": self.seed,
                "sampler_seed": self.sampler_seed, "pruner": self.pruner}

    @classmethod
    def from_dict(cls, d: dict) -> SweepSpec:
        return cls(profile=d["profile"], params=tuple(Param(**p) for p in d["params"]), metrics=tuple(d["metrics"]),
                   cam_form=d["cam_form"], overrides=dict(d["overrides"]), seed=d["seed"],
                   sampler_seed=d["sampler_seed"], pruner=d["pruner"])


def builtin_default(name: str, cam_form: str) -> float:
    """Default of a built-in parameter: λx, λy, λs of the L_cam form (`CAM_LOSS_DEFAULTS`), λcam and λcont of
    `LossWeights` (spec §4.7: 1 and 0.1)."""
    if name in ("lambda_x", "lambda_y", "lambda_s"):
        return CAM_LOSS_DEFAULTS[cam_form][("lambda_x", "lambda_y", "lambda_s").index(name)]
    return getattr(LossWeights(), {"lambda_cam": "cam", "lambda_cont": "cont"}[name])


def parse_param(text: str) -> tuple[str, float, float, bool]:
    """``key=low:high`` or ``key=low:high:log`` → (key, low, high, log). Checks the form only (see `build_spec`)."""
    form = "key=low:high or key=low:high:log, e.g. loss.weights.cam=0.1:10:log"
    key, sep, rng = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InputError("--param", found=repr(text), expected=form)
    parts = rng.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2].strip() not in ("log", "linear")):
        raise InputError("--param", key, found=repr(rng), expected="low:high or low:high:log")
    try:
        low, high = float(parts[0]), float(parts[1])
    except ValueError:
        raise InputError("--param", key, found=repr(rng), expected="two numbers low:high, e.g. 0.1:10") from None
    log = len(parts) == 3 and parts[2].strip() == "log"
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise InputError("--param", key, found=f"low {low:g}, high {high:g}", expected="finite numbers with low < high")
    if log and low <= 0:
        raise InputError("--param", key, found=f"low {low:g} on a log scale", expected="low > 0 for a :log range")
    return key, low, high, log


def build_spec(profile: str, *, search: list[str] | None = None, params: list[str] | None = None,
               metrics: tuple[str, ...] = ("mpjpe",), cam_form: str | None = None,
               overrides: dict[str, Any] | None = None, seed: int = 0, sampler_seed: int = 0,
               pruner: str | None = None) -> SweepSpec:
    """A checked `SweepSpec`: built-ins named in `search` (None: all five) plus ``--param`` ranges; `cam_form` None
    takes `loss.cam` from the overrides (or ``official``); `pruner` None: median (single objective) or none."""
    from hmr_bench.body.source import resolve_body_source  # imports torch: only when a sweep is built

    if profile not in PROFILES:
        profile_config(profile)  # raises the InputError with the valid profiles
    overrides = dict(overrides or {})
    if "train.seed" in overrides:
        raise InputError("--set", "train.seed", found="a fixed training seed", expected="--seed (trials) and "
                         "--retrain-seeds (best vs defaults) instead")
    base_form = overrides.pop("loss.cam", None)
    if cam_form is not None and base_form is not None and cam_form != base_form:
        raise InputError("--set", "loss.cam", found=f"{base_form!r} beside --cam-form {cam_form!r}",
                         expected="one L_cam form (use --cam-form only)")
    cam_form = cam_form or base_form or "official"
    if cam_form not in CAM_VARIANTS:
        raise InputError("--cam-form", found=repr(cam_form), expected="one of " + ", ".join(CAM_VARIANTS))
    apply_overrides(profile_config(profile), overrides, source="--set")  # unknown keys / bad values now
    body = resolve_body_source(overrides.get("body_model"))  # or $HMR_BENCH_BODY_MODEL; a bad path fails now
    if body != "free" or "body_model" in overrides:
        overrides["body_model"] = body
    names = list(BUILTIN_KEYS) if search is None else [s for s in search if s]
    chosen: dict[str, Param] = {}
    for name in names:
        if name not in BUILTIN_KEYS:
            raise InputError("--search", found=repr(name), expected="names among " + ", ".join(BUILTIN_KEYS),
                             hint=_near(name, BUILTIN_KEYS) or "add other config keys with --param key=low:high:log")
        low, high = BUILTIN_RANGES[cam_form][name]
        chosen[name] = Param(name, BUILTIN_KEYS[name], low, high, log=True)
    by_key = {v: k for k, v in BUILTIN_KEYS.items()}
    for text in params or []:
        key, low, high, log = parse_param(text)
        key = BUILTIN_KEYS.get(key, key)
        integer = _numeric_field(key)
        if integer and (low != int(low) or high != int(high)):
            raise InputError("--param", key, found=f"{low:g}:{high:g}", expected="integer bounds (an int field)")
        name = by_key.get(key, key)
        chosen[name] = Param(name, key, int(low) if integer else low, int(high) if integer else high, log, integer)
    if not chosen:
        raise InputError("--search", found="no parameter", expected="at least one built-in name or one --param")
    fixed = sorted(set(overrides) & {p.key for p in chosen.values()})
    if fixed:
        raise InputError("--set", fixed[0], found="a key that is also searched",
                         expected="each key either fixed (--set) or searched (--search / --param)")
    base = apply_overrides(profile_config(profile), overrides | {"loss.cam": cam_form}, source="--set")
    for p in chosen.values():  # both ends must make a valid config (types, LossConfig checks)
        for end, value in (("low", p.low), ("high", p.high)):
            try:
                apply_overrides(base, {p.key: value}, source="--param")
            except InputError as e:
                raise InputError("--param", p.key, found=f"{end} end {value:g} makes an invalid config ({e})",
                                 expected="a range whose every value is valid for this key") from None
    if pruner is None:
        pruner = "median" if len(metrics) == 1 else "none"
    return SweepSpec(profile, tuple(chosen.values()), tuple(metrics), cam_form, overrides, seed, sampler_seed, pruner)


def check_study_name(name: str) -> str:
    if not isinstance(name, str) or not _STUDY_NAME.match(name):
        raise InputError("--study", found=repr(name), expected="1–58 characters among letters, digits, '.', '_', "
                         "'-', starting with a letter or digit")
    return name


def spec_differences(stored: dict, wanted: dict) -> list[str]:
    """Human-readable differences between two `SweepSpec.to_dict()`s (empty: the same study)."""
    out = []
    for k in sorted(set(stored) | set(wanted)):
        if stored.get(k) != wanted.get(k):
            out.append(f"{k}: study has {stored.get(k)!r}, this command {wanted.get(k)!r}")
    return out


# ------------------------------------------------------------------ helpers

def _numeric_field(key: str) -> bool:
    """True for an int config field, False for a float one; InputError for unknown or non-numeric keys."""
    keys = valid_keys()
    if key not in keys:
        near = difflib.get_close_matches(key, keys + list(BUILTIN_KEYS), n=1)
        raise InputError("--param", key, found="an unknown key", expected="a numeric config key (e.g. train.lr, "
                         "loss.weights.cam) or a built-in name (" + ", ".join(BUILTIN_KEYS) + ")",
                         hint=f"did you mean '{near[0]}'?" if near else None)
    hint = field_type(key)
    kinds = set(typing.get_args(hint)) or {hint}
    kinds.discard(type(None))
    if kinds == {float}:
        return False
    if kinds == {int}:
        return True
    raise InputError("--param", key, found=f"a field of type {hint}", expected="a numeric (float or int) config key")


def _near(name: str, choices) -> str | None:
    near = difflib.get_close_matches(name, list(choices), n=1)
    return f"did you mean '{near[0]}'?" if near else None


__all__ = ["BUILTIN_KEYS", "BUILTIN_RANGES", "METRICS", "PRUNERS", "Param", "SweepSpec", "build_spec",
           "builtin_default", "check_study_name", "parse_param", "spec_differences"]

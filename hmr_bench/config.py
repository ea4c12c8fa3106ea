"""The run configuration: one typed tree, variants as small dotted overrides, and a hash of what matters.

    cfg = RunConfig()                                   # defaults = the official method on SynthHMR
    cfg = apply_overrides(cfg, {"model.fusion": "none", "loss.weights.cam": 0.0})
    cfg.hash(dataset_key)                               # changes whenever the run's result could change
    cfg = RunConfig.from_dict(run["config"])            # a stored config back (validated like overrides)

Dotted keys are walked here only: `get_path` reads one from a config or a stored (nested dict) config, `flatten`
lists every key with its value, `apply_overrides` sets keys (validated), `field_type` names a key's type.
Unknown keys and bad values are errors that list the valid choices and suggest the nearest one.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from hmr_bench.errors import InputError, check_variant
from hmr_bench.losses.total import LOSS_VARIANTS, LossWeights  # each loss variant's valid names, the term weights

PACKAGE_DIR = Path(__file__).resolve().parent
# Code whose change can change a run's numbers (reports, store and CLI cannot). `experiment` counts as `train/` did
# when the runner lived there: it makes each job's config and evaluates the trivial baseline.
RESULT_CODE = ("geometry", "body", "data", "models", "losses", "train", "eval", "experiment", "config.py")


CROP_ON = ("cpu", "device")  # DataConfig.crop_on


@dataclass(frozen=True)
class DataConfig:
    source: str = "synth"  # "synth" (SynthHMR, rendered here) | "real" (SPIN-format files under data_root)
    synth_profile: str = "cpu"  # SynthHMR size preset: smoke | cpu | paper (scene.SYNTH_PROFILES)
    n_train: int | None = None  # None: the preset's
    n_val: int | None = None
    n_test: int | None = None
    image_size: int | None = None  # square side; None: the preset's
    difficulty: float | None = None
    train_sets: tuple[str, ...] = ("coco",)  # real data: names in hmr_bench.data.real.REAL_DATASETS (Table 2: COCO)
    val_set: str = "3dpw-train"  # real data: checkpoints are selected on this dataset, never on a test set
    test_sets: tuple[str, ...] = ("3dpw-test",)  # real data: evaluation protocols (hmr_bench.eval.protocols)
    eval_gt: str = "official"  # GT convention of every protocol: official | spin | mocap-if-no-mesh (eval.gt_choice)
    crop_size: tuple[int, int] = (48, 64)  # (W, H) of each RoI crop, 3:4 like the paper's 192x256
    num_rois: int = 5
    roi_variant: str = "fixed"  # fixed (spec 1.2) | random
    rotation: str = "official"  # official (each RoI about its own centre) | exact (about RoI 0's)
    augment: bool = True
    input: str = "rgb"  # rgb (RGB crops) | proxy (2D-keypoint heatmaps cut with the same affines, data.proxy)
    union_crop: tuple[int, int] | None = None  # (W, H) of the union image for the shared-backbone mode
    workers: int | None = None  # DataLoader processes (None: cores − 1); does not change results
    # where every sample's M RoI crops are cut (training, validation and test): "cpu" (cv2 in the DataLoader
    # workers) | "device" (the workers send the decoded image and its M affines; one batched grid_sample on the
    # trainer's device, data.device_crops)
    crop_on: str = "cpu"

    def __post_init__(self):
        check_variant(self.crop_on, CROP_ON, "config", "data.crop_on")  # with input: checked by data.samples


@dataclass(frozen=True)
class ModelConfig:
    kind: str = "multiroi"  # multiroi | hmr | cliff (models.common.MODELS)
    backbone: str = "cnn-small"
    fusion: str = "raf-official"
    head: str = "ief"  # ief (official) | shared-mesh (paper)
    projection: str = "official"  # official | paper | none
    pe_freqs: int = 32
    pe_flavour: str = "official"
    pe_precision: str = "float32"
    box_input: str = "all"  # all (official R50) | own | none | all-mixed (official HMR_msa as run, spec §8.17)
    fc1_dim: int = 2048
    shared_backbone: bool = False
    pretrained: str | None = None  # a backbone checkpoint file; never downloaded


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 6
    batch_size: int = 32  # samples (each with num_rois crops)
    lr: float = 3e-4
    weight_decay: float = 0.0
    seed: int = 0
    threads: int | None = None  # torch intra-op threads (None: all cores)
    channels_last: bool = False
    compile: bool = False
    amp: str = "off"  # off | bf16 (GPU) | fp16 (GPU)
    eval_batch_size: int = 64
    max_steps_per_epoch: int | None = None
    backbone: str = "train"  # train | frozen (features cached once per split, train.features; no augmentation)
    tail_blocks: int = 0  # frozen backbone: its last n conv blocks still train, on cached inputs (cnn-* only)
    tail_lr_scale: float = 1.0  # the trained tail's learning rate as a fraction of train.lr


@dataclass(frozen=True)
class LossConfig:
    """Which variant of each loss, and the weights. Defaults = the official code (what produced the paper).

    cam / cont: "official" | "paper" (§8 items 5, 6); keypoint_weighting: "official" | "spin" (§8 item 10);
    reprojection_frame: "crop" | "full" (§8 item 9); vertex_norm: "l1" | "l2" (§8 item 12);
    lambda_x/y/s: camera-loss weights, None = the cam variant's default (`camera.CAM_LOSS_DEFAULTS`);
    openpose_weight / gt_weight: only with keypoint_weighting="spin" (None = SPIN's 0 / 1);
    temperature: τ of the contrastive loss;
    vertex_stride: the vertex loss over every n-th mesh vertex (1 = all, the official loss; `body.sparse`).
    """

    weights: LossWeights = field(default_factory=LossWeights)
    cam: str = "official"
    cont: str = "official"
    keypoint_weighting: str = "official"
    reprojection_frame: str = "crop"
    vertex_norm: str = "l1"
    lambda_x: float | None = None
    lambda_y: float | None = None
    lambda_s: float | None = None
    openpose_weight: float | None = None
    gt_weight: float | None = None
    temperature: float = 0.5
    vertex_stride: int = 1

    def __post_init__(self):
        for name, valid in LOSS_VARIANTS.items():
            check_variant(getattr(self, name), valid, "LossConfig", name)
        if not isinstance(self.weights, LossWeights):
            raise InputError("LossConfig", "weights", found=type(self.weights).__name__, expected="LossWeights")
        if self.keypoint_weighting == "official" and (self.openpose_weight, self.gt_weight) != (None, None):
            raise InputError("LossConfig", "openpose_weight/gt_weight",
                             found=f"{self.openpose_weight}/{self.gt_weight}",
                             expected="None with keypoint_weighting='official' (the official trainer never "
                                      "applies them)", hint="use keypoint_weighting='spin'")
        if not self.temperature > 0:
            raise InputError("LossConfig", "temperature", found=self.temperature, expected="τ > 0")
        if not (isinstance(self.vertex_stride, int) and self.vertex_stride >= 1):
            raise InputError("LossConfig", "vertex_stride", found=repr(self.vertex_stride), expected="an integer ≥ 1")


@dataclass(frozen=True)
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    body_model: str = "free"
    profile: str = "cpu"

    def to_dict(self) -> dict:
        return to_jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, tree: dict, source: str = "config") -> RunConfig:
        """The config of a nested dict (`to_dict`'s form, e.g. a run's stored config): its keys applied to the
        defaults as overrides, so an unknown key or a bad value raises InputError naming `source`."""
        return apply_overrides(cls(), flatten(tree), source=source)

    def hash(self, dataset_key: str = "", code: str | None = None) -> str:
        """sha256 (16 hex) of everything that changes the result: the config (less labels and worker counts),
        the dataset key, and the code version (`code_version()`)."""
        d = self.to_dict()
        d.pop("profile", None)
        d["data"].pop("workers", None)
        payload = json.dumps({"config": d, "dataset": dataset_key, "code": code or code_version()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def to_jsonable(x):
    """`x` with every tuple turned into a list (dicts and lists walked), as JSON gives it back."""
    if isinstance(x, dict):
        return {k: to_jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_jsonable(v) for v in x]
    return x


_CODE_VERSION: str | None = None


def code_version() -> str:
    """Hash of the source files whose changes can change results (`RESULT_CODE`)."""
    global _CODE_VERSION
    if _CODE_VERSION is None:
        h = hashlib.sha256()
        for name in RESULT_CODE:
            p = PACKAGE_DIR / name
            for f in sorted([p] if p.is_file() else p.rglob("*.py")):
                h.update(str(f.relative_to(PACKAGE_DIR)).encode())
                h.update(f.read_bytes())
        _CODE_VERSION = h.hexdigest()[:16]
    return _CODE_VERSION


def _children(tree) -> dict | None:
    """The named children of a config node (a config dataclass or a dict), or None for a leaf."""
    if is_dataclass(tree) and not isinstance(tree, type):
        return {f.name: getattr(tree, f.name) for f in fields(tree)}
    return tree if isinstance(tree, dict) else None


def flatten(tree, prefix: str = "") -> dict[str, Any]:
    """{dotted key: value} of every leaf of a config tree (RunConfig, one of its parts, or a nested dict such as a
    stored config), in field order: {"data.source": "synth", ..., "loss.weights.cam": 1.0, ...}."""
    out = {}
    for name, value in _children(tree).items():
        if _children(value) is None:
            out[prefix + name] = value
        else:
            out.update(flatten(value, f"{prefix}{name}."))
    return out


def get_path(tree, key: str, default: Any = None) -> Any:
    """The value at dotted `key` ('model.fusion') of a config tree or nested dict; `default` where it has none."""
    for name in key.split("."):
        children = _children(tree)
        if children is None or name not in children:
            return default
        tree = children[name]
    return tree


def field_type(key: str) -> Any:
    """The annotation of the RunConfig field at dotted `key`, e.g. `float | None` for 'loss.lambda_x'."""
    parent, _, name = key.rpartition(".")
    node = get_path(RunConfig(), parent) if parent else RunConfig()
    return typing.get_type_hints(type(node))[name]


def valid_keys(obj: Any = None) -> list[str]:
    """Every dotted key of a config tree (default: RunConfig), e.g. 'model.fusion', 'loss.weights.cam'."""
    return list(flatten(RunConfig() if obj is None else obj))


def parse_value(text: str) -> Any:
    """A command-line value: JSON (numbers, true/false/null, lists) or a plain string ('none', 'raf-official')."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_overrides(pairs: list[str] | None, source: str = "--set") -> dict[str, Any]:
    """Command-line `KEY=VALUE` pairs → {dotted key: value} (`parse_value`); a pair without '=' raises InputError."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InputError(source, found=repr(pair), expected="key=value, e.g. model.fusion=none")
        out[key] = parse_value(value)
    return out


def apply_overrides(cfg: RunConfig, overrides: dict[str, Any], source: str = "overrides") -> RunConfig:
    """A copy of `cfg` with dotted keys replaced; unknown keys and wrongly typed values raise InputError."""
    keys = valid_keys(cfg)
    for key, value in overrides.items():
        if key not in keys:
            near = difflib.get_close_matches(key, keys, n=1)
            raise InputError(source, key, found="an unknown key",
                             expected="one of " + ", ".join(keys),
                             hint=f"did you mean '{near[0]}'?" if near else None)
        cfg = _replace_path(cfg, key.split("."), value, source, key)
    return cfg


def _replace_path(obj, path: list[str], value, source: str, key: str):
    name = path[0]
    if len(path) > 1:
        return dataclasses.replace(obj, **{name: _replace_path(getattr(obj, name), path[1:], value, source, key)})
    current = getattr(obj, name)
    value = _coerce(value, current, obj, name, source, key)
    _check_range(value, source, key)
    try:
        return dataclasses.replace(obj, **{name: value})
    except InputError:
        raise
    except (TypeError, ValueError) as e:
        raise InputError(source, key, found=repr(value), expected=str(e)) from e


def _at_least(lo: int):
    return lambda v: all(x >= lo for x in (v if isinstance(v, tuple) else (v,))), f"an integer ≥ {lo}"


# Counts, sizes and rates: (test, what is expected); None passes where the field allows it.
_RANGES = {
    **dict.fromkeys(("data.n_train", "data.n_val", "data.n_test", "data.image_size", "data.num_rois", "data.crop_size",
                     "data.union_crop", "model.fc1_dim", "train.epochs", "train.batch_size", "train.eval_batch_size",
                     "train.max_steps_per_epoch", "train.threads"), _at_least(1)),
    **dict.fromkeys(("data.workers", "model.pe_freqs"), _at_least(0)),
    "train.lr": (lambda v: 0 < v < math.inf, "a finite number > 0"),
    "train.weight_decay": (lambda v: 0 <= v < math.inf, "a finite number ≥ 0"),
    "data.difficulty": (lambda v: 0 <= v <= 1, "a number in [0, 1]"),
}


def _check_range(value, source: str, key: str) -> None:
    """Raises InputError when a count, size or rate is out of its range (a zero or negative count of epochs, ...)."""
    if value is None or key not in _RANGES:
        return
    ok, expected = _RANGES[key]
    if not ok(value):
        raise InputError(source, key, found=repr(value),
                         expected=f"each value {expected}" if isinstance(value, tuple) else expected)


def _coerce(value, current, obj, name: str, source: str, key: str):
    """Match the type of the field's default (tuples from lists, floats from ints); None stays None."""
    annotation = str({f.name: f.type for f in fields(obj)}[name])
    if value is None:
        if "None" in annotation:
            return None
        raise InputError(source, key, found="null", expected=f"a value of type {annotation}")
    if isinstance(current, bool) or annotation == "bool":
        if isinstance(value, bool):
            return value
    elif isinstance(current, (tuple, list)) or annotation.startswith("tuple"):
        if isinstance(value, (list, tuple)):
            return tuple(value)
    elif isinstance(current, float) or annotation.startswith("float"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(current, int) or annotation.startswith("int"):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(current, str) or annotation.startswith("str"):
        if isinstance(value, str):
            return value
    else:
        return value
    raise InputError(source, key, found=f"{value!r} ({type(value).__name__})", expected=f"type {annotation}")


__all__ = ["DataConfig", "LossConfig", "LossWeights", "ModelConfig", "RunConfig", "TrainConfig", "apply_overrides",
           "code_version", "field_type", "flatten", "get_path", "parse_overrides", "parse_value", "to_jsonable",
           "valid_keys"]

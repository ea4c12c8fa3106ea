"""The real datasets of the paper (spec §5–6): which SPIN/CLIFF ``.npz`` and image folder each name means.

Layout under a ``--data-root`` (SPIN's, flattened): each annotation file either directly in the root or in
``<root>/dataset_extras/`` (SPIN's DATASET_NPZ_PATH), and each dataset's images in ``<root>/<image_dir>/``
with the npz's ``imgname`` relative to it (SPIN's *_ROOT folders). Each dataset accepts the CLIFF/Multi-RoI
file name (what the paper used) or SPIN's own output names; the first present in this order is used:

    name               npz (CLIFF / Multi-RoI first, then SPIN's)                    image_dir     use
    h36m               h36m_mosh_train.npz | h36m_train.npz |                        h36m          train
                       h36m_single_train_openpose.npz
    coco               coco_2014_smpl_train.npz | coco_2014_train.npz                coco          train
    mpii               mpii_smpl_w3d_train.npz | mpii_train.npz                      mpii          train
    mpi-inf-3dhp       mpi_inf_3dhp_train_name_revised.npz | mpi_inf_3dhp_train.npz  mpi_inf_3dhp  train
    3dpw-train         3dpw_train_w2d_smpl3d_gender.npz                              3dpw          fine-tuning
    3dpw               3dpw_test_w2d_smpl3d_gender.npz | 3dpw_test.npz               3dpw          eval
    h36m-p1            h36m_mosh_val_p1.npz | h36m_valid_protocol1.npz               h36m          eval
    h36m-p2            h36m_mosh_val_p2.npz | h36m_valid_protocol2.npz               h36m          eval
    mpi-inf-3dhp-test  mpi_inf_3dhp_valid.npz | mpi_inf_3dhp_test.npz                mpi_inf_3dhp  eval

The files differ in content, not only in name: SPIN's H36M validation files hold mocap joints ``S`` and no
SMPL parameters (score them with ``data.eval_gt=spin``, `eval.gt_choice`), the Multi-RoI ``h36m_mosh_val_*``
files hold the MoSh SMPL fits. These files are not redistributable; hmr-bench never downloads them. The
authors' 3DPW files are annotated at half resolution (960×540, spec §1.1): with ``img_w``/``img_h`` in the npz
the loader rescales full-size frames itself; without them the frames must be stored at the annotation's
resolution.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from hmr_bench.errors import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RealDataset:
    npz: tuple[str, ...]  # accepted file names, preferred first (CLIFF / Multi-RoI, then SPIN's)
    image_dir: str
    use: str


REAL_DATASETS: dict[str, RealDataset] = {
    "h36m": RealDataset(("h36m_mosh_train.npz", "h36m_train.npz", "h36m_single_train_openpose.npz"), "h36m",
                        "train"),
    "coco": RealDataset(("coco_2014_smpl_train.npz", "coco_2014_train.npz"), "coco", "train"),
    "mpii": RealDataset(("mpii_smpl_w3d_train.npz", "mpii_train.npz"), "mpii", "train"),
    "mpi-inf-3dhp": RealDataset(("mpi_inf_3dhp_train_name_revised.npz", "mpi_inf_3dhp_train.npz"), "mpi_inf_3dhp",
                                "train"),
    "3dpw-train": RealDataset(("3dpw_train_w2d_smpl3d_gender.npz",), "3dpw", "fine-tuning"),
    "3dpw": RealDataset(("3dpw_test_w2d_smpl3d_gender.npz", "3dpw_test.npz"), "3dpw", "eval"),
    "h36m-p1": RealDataset(("h36m_mosh_val_p1.npz", "h36m_valid_protocol1.npz"), "h36m", "eval"),
    "h36m-p2": RealDataset(("h36m_mosh_val_p2.npz", "h36m_valid_protocol2.npz"), "h36m", "eval"),
    "mpi-inf-3dhp-test": RealDataset(("mpi_inf_3dhp_valid.npz", "mpi_inf_3dhp_test.npz"), "mpi_inf_3dhp", "eval"),
}
TRAIN_MIX = ("h36m", "coco", "mpii", "mpi-inf-3dhp")
NPZ_SUBDIRS = ("", "dataset_extras")


def _missing(name: str, root: Path) -> tuple[Path | None, Path, list[str]]:
    if name not in REAL_DATASETS:
        raise InputError("real dataset", "name", found=repr(name), expected=" | ".join(REAL_DATASETS))
    spec = REAL_DATASETS[name]
    found = [root / d / f for f in spec.npz for d in NPZ_SUBDIRS if (root / d / f).is_file()]
    npz = found[0] if found else None
    if len(found) > 1:
        log.warning("%s: using %s (also present: %s)", name, found[0], ", ".join(str(f) for f in found[1:]))
    images = root / spec.image_dir
    missing = []
    if npz is None:
        missing.append(f"{name}: annotations {' or '.join(spec.npz)} (looked in {root} and "
                       f"{root / 'dataset_extras'})")
    if not images.is_dir():
        missing.append(f"{name}: image folder {images}")
    return npz, images, missing


def resolve_real_datasets(names, data_root: str | os.PathLike) -> dict[str, tuple[Path, Path]]:
    """{name: (npz path, image root)} for each name; one `InputError` listing everything missing of every
    requested dataset."""
    root = Path(data_root).expanduser()
    if not root.is_dir():
        raise InputError("--data-root", found=f"no such folder {root}",
                         expected="a folder holding the SPIN/CLIFF dataset files (see hmr_bench.data.real)")
    out, missing = {}, []
    for name in dict.fromkeys(names):
        npz, images, miss = _missing(name, root)
        missing += miss
        out[name] = (npz, images)
    if missing:
        raise InputError(f"--data-root {root}", found="missing " + "; ".join(missing),
                         expected="the dataset files laid out as documented in hmr_bench.data.real")
    return out


def resolve_real_dataset(name: str, data_root: str | os.PathLike) -> tuple[Path, Path]:
    """(npz path, image root) of one known real dataset under `data_root`; `InputError` naming what is missing."""
    return resolve_real_datasets([name], data_root)[name]


def spin_mix_ratios(lengths: dict[str, int]) -> dict[str, float]:
    """SPIN-style mixing ratios (spec §9 default): 0.3 H36M, 0.6 COCO + MPII (split by size), 0.1 MPI-INF-3DHP.

    lengths: rows of each of the four training sets (keys `TRAIN_MIX`). Returns {name: ratio}, summing to 1.
    """
    missing = [n for n in TRAIN_MIX if n not in lengths]
    if missing:
        raise InputError("spin_mix_ratios", "lengths", found=f"no length for {', '.join(missing)}",
                         expected=f"lengths of {', '.join(TRAIN_MIX)}")
    wild = lengths["coco"] + lengths["mpii"]
    return {"h36m": 0.3, "coco": 0.6 * lengths["coco"] / wild, "mpii": 0.6 * lengths["mpii"] / wild,
            "mpi-inf-3dhp": 0.1}


def real_train_mix(data_root: str | os.PathLike, seed: int = 0, **dataset_kw):
    """The SPIN-style mixed training set of spec §5/§9 (`MixedDataset` of SpinDatasets, train=True).

    dataset_kw: passed to every `SpinDataset` (num_rois, crop_size, ...).
    """
    from hmr_bench.data.dataset import MixedDataset, SpinDataset

    paths = resolve_real_datasets(TRAIN_MIX, data_root)
    members = {n: SpinDataset(npz, img, train=True, name=n, **dataset_kw) for n, (npz, img) in paths.items()}
    ratios = spin_mix_ratios({n: len(d) for n, d in members.items()})
    return MixedDataset(list(members.values()), [ratios[n] for n in members], seed=seed)

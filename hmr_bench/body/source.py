"""Which body-model files a run uses: the user's choice, resolved once, validated, fingerprinted.

    source = resolve_body_source(explicit)   # --set body_model / --body-model, else $HMR_BENCH_BODY_MODEL, else "free"
    files = body_files(source)               # {"neutral": Path, "male": Path, "female": Path} (those present)
    body_provenance(source)                  # {"source": ..., "files": {gender: {"file": ..., "sha256": ...}}}
    bodies = gt_bodies(body, source)         # {"neutral": body, "male": ..., "female": ...} for the GT meshes

A source is "free" (the shipped neutral model), a converted ``.npz`` file (its neutral model only), or a folder
holding ``SMPL_NEUTRAL.npz`` and, for gendered ground truth, ``SMPL_MALE.npz`` / ``SMPL_FEMALE.npz`` (SPIN's
``data/smpl`` folder, each file converted once by ``hmr-bench body convert-smpl``). Predictions always use the
neutral model; the gendered ones only pose GT meshes (`eval.protocols`).
"""

from __future__ import annotations

import hashlib
import os
import weakref
from functools import lru_cache
from pathlib import Path

from hmr_bench.body.model import ENV_BODY_MODEL, FREE_MODEL_FILE, BodyModel, load_body_model, resolve_model_path
from hmr_bench.errors import InputError

GT_GENDERS = ("male", "female")
EXPECTED = "'free', a converted SMPL .npz, or a folder holding SMPL_NEUTRAL.npz (and SMPL_MALE/FEMALE.npz)"


def resolve_body_source(explicit: str | os.PathLike | None = None) -> str:
    """The body model a command uses: `explicit` if given, else ``$HMR_BENCH_BODY_MODEL``, else "free".

    The named model (and a folder's SMPL_MALE/FEMALE.npz) is loaded once here: a missing or malformed file fails
    at once, naming the path and where the name came from. A path comes back absolute, so one file has one name
    in every config hash.
    """
    env = os.environ.get(ENV_BODY_MODEL)
    if explicit not in (None, ""):
        origin, raw = "body_model", str(explicit)
    elif env:
        origin, raw = f"${ENV_BODY_MODEL}", env
    else:
        return "free"
    if raw == "free":
        return raw
    path = Path(raw).expanduser()
    try:
        load_body_model(path)
        for g, file in body_files(path).items():  # a folder's gendered files too (the right gender inside)
            if g != "neutral":
                load_body_model(file, gender=g)
    except InputError as e:
        raise InputError(origin, found=f"{raw!r}, which cannot be used ({e})", expected=EXPECTED) from None
    return str(path.resolve())


def body_files(source: str | os.PathLike) -> dict[str, Path]:
    """{gender: model file} of a source: its neutral model, plus SMPL_MALE/FEMALE.npz of a folder if present."""
    files = {"neutral": resolve_model_path(source)}
    if str(source) != "free" and Path(source).expanduser().is_dir():
        for g in GT_GENDERS:
            path = Path(source).expanduser() / f"SMPL_{g.upper()}.npz"
            if path.is_file():
                files[g] = path
    return files


@lru_cache(maxsize=16)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    st = Path(path).stat()
    return _sha256(str(Path(path).resolve()), st.st_mtime_ns, st.st_size)


def body_provenance(source: str | os.PathLike) -> dict:
    """What the store records of a run's body model: the source and every file used with its sha256."""
    return {"source": str(source),
            "files": {g: {"file": str(p.resolve()), "sha256": file_sha256(p)} for g, p in body_files(source).items()}}


def body_key(source: str | os.PathLike) -> str:
    """A suffix for a run's dataset key that changes with the content of a user's model files ("" for the free
    model, whose content the code version covers): a run is never served from a cache made with other files."""
    if str(source) == "free" or Path(source).resolve() == FREE_MODEL_FILE.resolve():
        return ""
    shas = "".join(f"{g}={v['sha256']}" for g, v in sorted(body_provenance(source)["files"].items()))
    return "|body=" + hashlib.sha256(shas.encode()).hexdigest()[:16]


def gt_genders(source: str | os.PathLike) -> tuple[str, ...]:
    """The genders a source has models for ("neutral" first)."""
    return tuple(body_files(source))


_GT_BODIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def gt_bodies(body: BodyModel, source: str | os.PathLike) -> dict[str, BodyModel]:
    """{"neutral": body, "male": ..., "female": ...}: the GT body models of a run whose neutral model is `body`
    (loaded from `source`); the gendered ones are loaded once per `body`, on its device and dtype."""
    cached = _GT_BODIES.get(body)
    if cached is None or cached[0] != str(source):
        ref = body.mean_shape
        others = {g: load_body_model(p, gender=g, dtype=ref.dtype).to(ref.device)
                  for g, p in body_files(source).items() if g != "neutral"}
        cached = (str(source), others)
        _GT_BODIES[body] = cached
    return {"neutral": body, **cached[1]}

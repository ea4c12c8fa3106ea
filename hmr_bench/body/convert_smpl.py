"""Convert an official SMPL pickle (chumpy objects inside) into hmr-bench's plain-numpy model file.

Model files are untrusted input. The pickle is read by `RestrictedUnpickler`, which admits only numpy array
data, scipy-sparse matrices and chumpy arrays — and builds none of them by calling their code: sparse and
chumpy objects become inert records whose arrays are read out afterwards. Any other global (``os.system``,
``builtins.eval``, …) is refused before anything runs. chumpy itself is never imported or needed.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np

from hmr_bench.body.model_file import write_model_file
from hmr_bench.errors import InputError

# numpy's own pickle support: the array reconstructor and the two types it needs (numpy 1 and 2 module names).
_NUMPY_GLOBALS = {
    (mod, name)
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray")
    for name in ("_reconstruct", "scalar")
} | {("numpy", "ndarray"), ("numpy", "dtype"),
     ("_codecs", "encode")}  # how protocol-2 pickles written by Python 3 store bytes (a pure transform)
# Plain containers that chumpy's pickled state uses; constructing them runs no user code.
_SAFE_BUILTINS = {"object": object, "set": set, "frozenset": frozenset, "slice": slice, "complex": complex}
_SPARSE_MODULES = ("scipy.sparse.csc", "scipy.sparse._csc", "scipy.sparse.csr", "scipy.sparse._csr",
                   "scipy.sparse.compressed", "scipy.sparse._compressed")
_SPARSE_CLASSES = {"csc_matrix": "csc", "csr_matrix": "csr", "csc_array": "csc", "csr_array": "csr"}


class _Record:
    """An inert stand-in for a chumpy or scipy-sparse object: it only keeps the pickled state."""

    kind = "record"
    qualname = ""

    def __init__(self, *args, **kwargs):
        self.args = args
        self.state = {}

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
            state = {**(state[0] or {}), **(state[1] or {})}
        self.state = state if isinstance(state, dict) else {"state": state}


def _record_class(kind: str, qualname: str) -> type:
    return type(f"_{kind}_{qualname}", (_Record,), {"kind": kind, "qualname": qualname})


def _safe_reconstructor(cls, base, state):
    """copyreg._reconstructor restricted to the inert records this unpickler made."""
    if not (isinstance(cls, type) and issubclass(cls, _Record)):
        raise pickle.UnpicklingError(f"refusing to reconstruct {cls!r}")
    return cls()


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy array globals and inert records for chumpy / scipy.sparse."""

    def find_class(self, module: str, name: str):
        if (module, name) in _NUMPY_GLOBALS:
            return super().find_class(module, name)
        if module in ("copyreg", "copy_reg") and name == "_reconstructor":
            return _safe_reconstructor
        if module in ("builtins", "__builtin__") and name in _SAFE_BUILTINS:
            return _SAFE_BUILTINS[name]
        if module in _SPARSE_MODULES and name in _SPARSE_CLASSES:
            return _record_class("sparse_" + _SPARSE_CLASSES[name], name)
        if module == "chumpy" or module.startswith("chumpy."):
            return _record_class("chumpy", f"{module}.{name}")
        raise pickle.UnpicklingError(
            f"refusing global '{module}.{name}': an SMPL model pickle holds only numpy, scipy.sparse and chumpy data")


def _to_array(value, source: str, key: str) -> np.ndarray:
    """Array data of a pickled value: ndarray, inert sparse record (densified) or chumpy record."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, _Record):
        st = value.state
        if value.kind.startswith("sparse_"):
            from scipy import sparse

            shape = st.get("_shape", st.get("shape"))
            if shape is None or not all(k in st for k in ("data", "indices", "indptr")):
                raise InputError(source, key, found=f"a sparse matrix without data/indices/indptr/shape ({sorted(st)})",
                                 expected="a scipy csc/csr matrix")
            build = sparse.csc_matrix if value.kind == "sparse_csc" else sparse.csr_matrix
            return np.asarray(build((st["data"], st["indices"], st["indptr"]), shape=tuple(shape)).todense())
        if "x" in st:  # chumpy.Ch keeps its value in x
            return _to_array(st["x"], source, key)
        raise InputError(source, key, found=f"a derived chumpy object {value.qualname} (state keys {sorted(st)})",
                         expected="a plain chumpy array (Ch with 'x')")
    if isinstance(value, (list, tuple, int, float)):
        return np.asarray(value)
    raise InputError(source, key, found=f"a {type(value).__name__}", expected="array data")


def read_smpl_pickle(path: str | Path) -> dict[str, np.ndarray]:
    """Reads an official SMPL ``.pkl`` safely; returns its array fields as numpy."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, found="no such file", expected="an official SMPL .pkl")
    try:
        with open(path, "rb") as fh:
            raw = RestrictedUnpickler(fh, encoding="latin1").load()
    except pickle.UnpicklingError as e:
        raise InputError(path, found=f"a pickle that is not plain model data ({e})",
                         expected="an official SMPL model pickle") from e
    except (EOFError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise InputError(path, found=f"an unreadable or truncated pickle ({type(e).__name__}: {e})",
                         expected="an official SMPL model pickle") from e
    if not isinstance(raw, dict):
        raise InputError(path, found=f"a pickled {type(raw).__name__}", expected="a dict of model arrays")
    return raw


def convert_smpl(pkl: str | Path, out: str | Path, *, gender: str | None = None,
                 h36m_regressor: str | Path | None = None, extra_regressor: str | Path | None = None,
                 mean_params: str | Path | None = None) -> Path:
    """Writes ``out`` (.npz) from an official SMPL pickle plus SPIN's optional side files.

    gender: 'neutral' | 'male' | 'female'; guessed from the file name (…NEUTRAL…, …_m_…, …MALE…) when None.
    h36m_regressor / extra_regressor: SPIN's ``J_regressor_h36m.npy`` (17, V) and ``J_regressor_extra.npy``
    (9, V); mean_params: SPIN's ``smpl_mean_params.npz`` (pose 144, shape 10, cam 3). Side files are read
    with ``allow_pickle=False``.
    """
    pkl = Path(pkl)
    raw = read_smpl_pickle(pkl)
    src = str(pkl)
    arrays: dict[str, np.ndarray] = {}
    for key, dtype in (("v_template", np.float32), ("shapedirs", np.float32), ("posedirs", np.float32),
                       ("J_regressor", np.float32), ("weights", np.float32), ("kintree_table", np.int64),
                       ("f", np.int64)):
        if key not in raw:
            raise InputError(src, key, found="no such key", expected="the fields of an official SMPL model")
        arrays[key] = _to_array(raw[key], src, key).astype(dtype)
    arrays["gender"] = np.array(gender or _guess_gender(pkl))
    if h36m_regressor is not None:
        arrays["J_regressor_h36m"] = _load_side_array(h36m_regressor).astype(np.float32)
    if extra_regressor is not None:
        arrays["J_regressor_extra"] = _load_side_array(extra_regressor).astype(np.float32)
    if mean_params is not None:
        mp = _load_side_npz(mean_params, ("pose", "shape", "cam"))
        arrays.update(mean_pose_6d=mp["pose"].astype(np.float32), mean_shape=mp["shape"].astype(np.float32),
                      mean_cam=mp["cam"].astype(np.float32))
    meta = {"source": pkl.name, "sha256": hashlib.sha256(pkl.read_bytes()).hexdigest(),
            "converted_by": "hmr-bench body convert-smpl"}
    arrays["meta_json"] = np.array(json.dumps(meta, sort_keys=True))
    return write_model_file(out, arrays)


def _guess_gender(pkl: Path) -> str:
    name = pkl.stem.lower()
    if "neutral" in name:
        return "neutral"
    if "female" in name or "_f_" in name:
        return "female"
    if "male" in name or "_m_" in name:
        return "male"
    raise InputError(pkl, "gender", found="no gender in the file name",
                     expected="a name containing neutral/male/female, or --gender")


def _load_side_array(path: str | Path) -> np.ndarray:
    path = Path(path)
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError as e:
        raise InputError(path, found="no such file", expected="a .npy array") from e
    except ValueError as e:
        raise InputError(path, found=f"unreadable data ({e})", expected="a plain numeric .npy array") from e


def _load_side_npz(path: str | Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in keys if k not in npz.files]
            if missing:
                raise InputError(path, missing[0], found="no such key", expected=f"keys {', '.join(keys)}")
            return {k: npz[k] for k in keys}
    except FileNotFoundError as e:
        raise InputError(path, found="no such file", expected="SPIN's smpl_mean_params.npz") from e
    except ValueError as e:
        raise InputError(path, found=f"unreadable data ({e})", expected="a plain numeric .npz") from e

"""Input validation shared by the cells: clear errors in the symbol table's terms."""

import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# The most numbers one array here may hold: 5e7 float64 are 400 MB. Sizes that come from
# outside (a command line, a state dict's key names, a sample length) are checked against it
# before anything is allocated, so a typo gives a clear error instead of minutes of swapping
# and a MemoryError.
MAX_ELEMENTS = 50_000_000


def check_size(value, name, maximum=None):
    """Return `value` as a positive int (at most `maximum`, if given), or raise naming `name`
    (e.g. 'input_size D')."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be a positive integer; got {value!r} of type {type(value).__name__}"
        )
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer; got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum:,}; got {value:,}")
    return int(value)


def check_elements(what, **sizes):
    """Raise a ValueError unless an array of the given sizes (name -> int) stays within
    MAX_ELEMENTS numbers; `what` names the array, e.g. 'x (T, B, D)'."""
    total = 1
    for size in sizes.values():
        total *= int(size)
    if total > MAX_ELEMENTS:
        spelled = " * ".join(f"{k}={v:,}" for k, v in sizes.items())
        raise ValueError(f"{what} would hold {spelled} = {total:,} numbers, more than this lab "
                         f"allocates ({MAX_ELEMENTS:,}); use smaller sizes")


def check_seed(seed):
    """Return `seed` if it is None or a non-negative integer (what numpy's default_rng takes)."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be None or a non-negative integer; got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be None or a non-negative integer; got {seed}")
    return int(seed)


def check_flag(value, name):
    """Return `value` as a bool, refusing anything but True and False."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def check_dtype(dtype):
    """Return the numpy dtype for a cell: float32 or float64 only."""
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"dtype must be np.float32 or np.float64; got {dtype!r}") from err
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be np.float32 or np.float64; got {dt}")
    return dt


def as_real_array(value, name, dtype, finite=True):
    """Convert `value` to a new array of `dtype`, refusing complex and non-numeric values (and, if
    `finite`, NaN and inf)."""
    try:
        arr = np.asarray(value)
    except Exception as err:  # ragged lists and the like
        raise TypeError(
            f"{name} must be a real numeric array; could not convert it: {err}"
        ) from err
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real; got a complex array ({arr.dtype})")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array; got dtype {arr.dtype}")
    with np.errstate(over="ignore"):  # a float64 beyond float32's range: reported just below
        out = np.array(arr, dtype=dtype, copy=True)
    if (
        out.dtype.itemsize < arr.dtype.itemsize
        and arr.dtype.kind == "f"
        and not np.isfinite(out).all()
    ):
        if np.isfinite(arr[~np.isfinite(out)]).any():
            raise ValueError(
                f"{name} has values too large for {out.dtype} (|value| > "
                f"{float(np.finfo(out.dtype).max):.3g})"
            )
    arr = out
    if finite:
        check_finite(arr, name)
    return arr


def check_finite(arr, name):
    """Raise a ValueError naming `name` and the first bad index if `arr` holds NaN or inf."""
    if not np.isfinite(arr).all():
        bad = tuple(int(k) for k in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{name} contains NaN or inf (first at index {bad})")


def check_shape(arr, shape, name, what):
    """Raise unless `arr.shape == shape`; `what` spells the shape in symbols, e.g. '(B, H)'."""
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {what} = {tuple(shape)}; got {arr.shape}")

"""Weights in and out of PyTorch and Keras layouts, mapped by gate name, importing neither.

PyTorch (nn.RNN, nn.LSTM, nn.GRU) keeps per layer weight_ih (G*H, D), weight_hh (G*H, H) and two
biases bias_ih, bias_hh (G*H,), gates stacked in the order i, f, g, o (LSTM) or r, z, n (GRU).
Keras (SimpleRNN, LSTM, GRU) keeps kernel (D, G*H), recurrent_kernel (H, G*H) and bias, gates in
the order i, f, c, o (LSTM) or z, r, h (GRU); a GRU with reset_after=True has a (2, G*H) bias
(input row, recurrent row). Two biases that are only ever added are merged into one b_*; the
GRU candidate's two biases stay apart (b_xg, b_hg) because r_t multiplies only b_hg.
"""

import re
from collections.abc import Mapping, Sequence

import numpy as np

from ._checks import FLOAT_DTYPES, check_elements, check_finite
from .cells import Cell

_FRAMEWORK_NAMES = {
    1: "nn.RNN / SimpleRNN (1 block)",
    3: "nn.GRU / GRU (3 gates)",
    4: "nn.LSTM / LSTM (4 gates)",
}


def _array(value, name):
    """A framework tensor or array-like as a numpy float array; float32 and float64 are kept."""
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape):
        # an array or tensor (perhaps a broadcast view that takes no memory yet): bound its size
        # before it is copied
        check_elements(name, **{f"axis {k}": n for k, n in enumerate(shape)})
    if hasattr(value, "detach"):  # a torch tensor, possibly requiring grad or on another device
        value = value.detach().cpu().numpy()
    try:
        arr = np.array(value, copy=True)
    except Exception as err:
        raise TypeError(
            f"{name} must be an array; could not convert {type(value).__name__}: {err}"
        ) from err
    if arr.dtype not in FLOAT_DTYPES:
        if arr.dtype.kind in "iub":
            arr = arr.astype(np.float64)
        else:
            raise TypeError(f"{name} must hold float32 or float64 numbers; got dtype {arr.dtype}")
    check_finite(arr, name)
    return arr


def _shape_error(cls, name, shape, expected, H, axis=0):
    """A ValueError for a weight of the wrong shape, guessing which layer it came from."""
    G = len(cls.torch_order or cls.keras_order)
    msg = (
        f"{name} must have shape {expected} ({G} gate block{'s' * (G > 1)} of H={H}) for "
        f"{cls.__name__}; got {tuple(shape)}."
    )
    found = shape[axis] // H if len(shape) > axis and shape[axis] % H == 0 else None
    if found in _FRAMEWORK_NAMES and found != G:
        msg += f" It holds {found} blocks of H: is it from {_FRAMEWORK_NAMES[found]}?"
    return ValueError(msg)


def _split(arr, H, order, axis=0):
    """Blocks of H along `axis`, keyed by our gate letter."""
    return {L: np.take(arr, range(k * H, (k + 1) * H), axis=axis) for k, L in enumerate(order)}


def _build(cls, D, H, dtype, W_x, W_h, b_x, b_h, reset_after=None):
    """A `cls` cell with per-gate blocks W_x[L] (H, D), W_h[L] (H, H) and two bias dicts."""
    kwargs = {} if reset_after is None else {"reset_after": reset_after}
    cell = cls(D, H, dtype=dtype, seed=0, **kwargs)
    for L in W_x:
        cell.params["W_x" + L] = W_x[L]
        cell.params["W_h" + L] = W_h[L]
        if reset_after and L == "g":
            cell.params["b_xg"] = b_x[L]
            cell.params["b_hg"] = b_h[L]
        else:
            cell.params["b_" + L] = b_x[L] + b_h[L]
    return cell


def _no_twin(cls, framework):
    return TypeError(
        f"{cls.__name__} has no {framework} twin: no {framework} layer computes this cell "
        f"({framework} has no peephole, coupled-gate or other LSTM variant). Build it directly, "
        f"e.g. {cls.__name__}(input_size=D, hidden_size=H)."
    )


def _gru_flag(cls, kwargs, value, framework):
    """Check a caller's reset_after against what the framework's layout implies."""
    if not cls.takes_reset_after:
        if kwargs:
            raise TypeError(
                f"unexpected arguments {sorted(kwargs)} for {cls.__name__}.from_{framework}"
            )
        return None
    if set(kwargs) - {"reset_after"}:
        raise TypeError(f"unexpected arguments {sorted(set(kwargs) - {'reset_after'})}")
    asked = kwargs.get("reset_after", value)
    if value is not None and asked != value:
        raise ValueError(
            f"these {framework} weights are a reset_after={value} GRU; got reset_after={asked}"
        )
    return asked


# -- PyTorch -------------------------------------------------------------------------------------


def from_torch(cls, state_dict, **kwargs):
    """Build a `cls` cell from an nn.RNN / nn.LSTM / nn.GRU layer-0 state dict (see module doc)."""
    order = cls.torch_order
    if order is None:
        raise _no_twin(cls, "PyTorch")
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            "state_dict must be a mapping like module.state_dict(); "
            f"got {type(state_dict).__name__}"
        )
    keys = set(state_dict)
    if "weight_hr_l0" in keys:
        raise ValueError(
            "this state dict has weight_hr_l0: an LSTM with proj_size > 0 projects h_t to a "
            "smaller size, which these cells do not model; use proj_size=0"
        )
    deeper = sorted(
        k
        for k in keys
        if re.fullmatch(r"(weight|bias)_(ih|hh|hr)_l\d+(_reverse)?", str(k))
        and not str(k).endswith("_l0")
    )
    if deeper:
        raise ValueError(
            f"this state dict has keys of more layers or directions ({', '.join(deeper)}); "
            f"load it with ll.from_torch(state_dict, kind=...) for a network"
        )
    expected = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}
    if keys - expected:
        raise ValueError(
            f"unexpected keys {sorted(keys - expected)}; a layer-0 state dict has "
            f"{sorted(expected)}"
        )
    missing = {"weight_ih_l0", "weight_hh_l0"} - keys
    biases = keys & {"bias_ih_l0", "bias_hh_l0"}
    if missing or len(biases) == 1:
        lost = sorted(missing | ({"bias_ih_l0", "bias_hh_l0"} - biases if biases else set()))
        raise ValueError(
            f"state_dict is missing {', '.join(lost)} (needs weight_ih_l0, weight_hh_l0 and "
            f"either both biases or, for bias=False, neither)"
        )
    reset_after = _gru_flag(cls, kwargs, True, "PyTorch")
    W_ih = _array(state_dict["weight_ih_l0"], "weight_ih_l0")
    W_hh = _array(state_dict["weight_hh_l0"], "weight_hh_l0")  # Params casts it to W_ih's dtype
    if W_hh.ndim != 2 or W_hh.shape[1] == 0:
        raise ValueError(f"weight_hh_l0 must have shape (G*H, H); got {W_hh.shape}")
    G, H = len(order), W_hh.shape[1]
    if W_hh.shape != (G * H, H):
        raise _shape_error(cls, "weight_hh_l0", W_hh.shape, f"({G}H, H) = {(G * H, H)}", H)
    if W_ih.ndim != 2 or W_ih.shape[0] != G * H or W_ih.shape[1] == 0:
        raise _shape_error(cls, "weight_ih_l0", W_ih.shape, f"({G}H, D) = ({G * H}, D)", H)
    b = {}
    for key in ("bias_ih_l0", "bias_hh_l0"):
        b[key] = (
            _array(state_dict[key], key).astype(W_ih.dtype)
            if biases
            else np.zeros(G * H, W_ih.dtype)
        )
        if b[key].shape != (G * H,):
            raise _shape_error(cls, key, b[key].shape, f"({G}H,) = ({G * H},)", H)
    return _build(
        cls,
        W_ih.shape[1],
        H,
        W_ih.dtype,
        _split(W_ih, H, order),
        _split(W_hh, H, order),
        _split(b["bias_ih_l0"], H, order),
        _split(b["bias_hh_l0"], H, order),
        reset_after,
    )


def to_torch(cell):
    """The cell's weights as a PyTorch layer-0 state dict of numpy arrays (merged bias: bias_ih)."""
    order = cell.torch_order
    if order is None:
        raise _no_twin(type(cell), "PyTorch")
    if cell.takes_reset_after and not cell.reset_after:
        raise ValueError(
            "nn.GRU computes the reset_after=True form; a reset_after=False GRUCell has no "
            "PyTorch twin (Keras's GRU(reset_after=False) is one: use to_keras)"
        )
    p = cell.params
    b_hh = {L: np.zeros(cell.hidden_size, cell.dtype) for L in order}
    b_ih = {L: p.get("b_" + L, p.get("b_x" + L)) for L in order}
    if "b_hg" in p:  # the candidate's second bias stays apart (r_t multiplies it)
        b_hh["g"] = p["b_hg"]
    return {
        "weight_ih_l0": np.concatenate([p["W_x" + L] for L in order]),
        "weight_hh_l0": np.concatenate([p["W_h" + L] for L in order]),
        "bias_ih_l0": np.concatenate([b_ih[L] for L in order]),
        "bias_hh_l0": np.concatenate([b_hh[L] for L in order]),
    }


# -- Keras ---------------------------------------------------------------------------------------


def from_keras(cls, weights, **kwargs):
    """Build a `cls` cell from a Keras SimpleRNN / LSTM / GRU layer's get_weights() list."""
    order = cls.keras_order
    if order is None:
        raise _no_twin(cls, "Keras")
    if isinstance(weights, (str, bytes, Mapping)) or not isinstance(weights, Sequence):
        raise TypeError(
            f"weights must be the list layer.get_weights() returns ([kernel, recurrent_kernel, "
            f"bias]); got {type(weights).__name__}"
        )
    if len(weights) not in (2, 3):
        raise ValueError(
            f"weights must hold [kernel, recurrent_kernel] and optionally bias; got {len(weights)} "
            f"arrays"
        )
    kernel = _array(weights[0], "kernel")
    recurrent = _array(weights[1], "recurrent_kernel")  # Params casts it to kernel's dtype
    if recurrent.ndim != 2 or recurrent.shape[0] == 0:
        raise ValueError(f"recurrent_kernel must have shape (H, G*H); got {recurrent.shape}")
    G, H = len(order), recurrent.shape[0]
    if recurrent.shape != (H, G * H):
        raise _shape_error(
            cls, "recurrent_kernel", recurrent.shape, f"(H, {G}H) = {(H, G * H)}", H, axis=1
        )
    if kernel.ndim != 2 or kernel.shape[1] != G * H or kernel.shape[0] == 0:
        raise _shape_error(cls, "kernel", kernel.shape, f"(D, {G}H) = (D, {G * H})", H, axis=1)
    zeros = np.zeros(G * H, kernel.dtype)
    reset_after = None
    if len(weights) == 3:
        bias = _array(weights[2], "bias").astype(kernel.dtype)
        if cls.takes_reset_after and bias.shape == (2, G * H):
            reset_after, b_in, b_rec = True, bias[0], bias[1]
        elif bias.shape == (G * H,):
            reset_after, b_in, b_rec = (False if cls.takes_reset_after else None), bias, zeros
        else:
            shapes = f"({G * H},) or (2, {G * H})" if cls.takes_reset_after else f"({G * H},)"
            raise ValueError(f"bias must have shape {shapes} for {cls.__name__}; got {bias.shape}")
    else:
        b_in = b_rec = zeros
        if cls.takes_reset_after:
            kwargs.setdefault("reset_after", True)  # Keras's default
    reset_after = _gru_flag(cls, kwargs, reset_after, "Keras")
    return _build(
        cls,
        kernel.shape[0],
        H,
        kernel.dtype,
        _transposed(_split(kernel, H, order, axis=1)),
        _transposed(_split(recurrent, H, order, axis=1)),
        _split(b_in, H, order),
        _split(b_rec, H, order),
        reset_after,
    )


def _transposed(blocks):
    """Keras keeps x @ kernel; the symbol table keeps W x, so each block is transposed."""
    return {L: w.T for L, w in blocks.items()}


def to_keras(cell):
    """The weights as the list Keras's set_weights() takes: [kernel, recurrent_kernel, bias]."""
    order = cell.keras_order
    if order is None:
        raise _no_twin(type(cell), "Keras")
    p = cell.params
    kernel = np.concatenate([p["W_x" + L].T for L in order], axis=1)
    recurrent = np.concatenate([p["W_h" + L].T for L in order], axis=1)
    if "b_hg" in p:
        b_in = np.concatenate([p["b_xg"] if L == "g" else p["b_" + L] for L in order])
        b_rec = np.concatenate([p["b_hg"] if L == "g" else np.zeros_like(p["b_hg"]) for L in order])
        bias = np.stack([b_in, b_rec])
    else:
        bias = np.concatenate([p["b_" + L] for L in order])
    return [kernel, recurrent, bias]


# -- the cells' interop methods ------------------------------------------------------------------
# The cells know no framework: this module, one layer above them, gives every cell class its
# from_/to_ methods, each of which reads the class's declared gate orders.


def _cell_from_torch(cls, state_dict, **kwargs):
    """A cell from a PyTorch layer-0 state dict (weight_ih_l0, weight_hh_l0, bias_*_l0)."""
    return from_torch(cls, state_dict, **kwargs)


def _cell_to_torch(self):
    """This cell's weights as a PyTorch layer-0 state dict of numpy arrays."""
    return to_torch(self)


def _cell_from_keras(cls, weights, **kwargs):
    """A cell from the list a Keras layer's get_weights() returns."""
    return from_keras(cls, weights, **kwargs)


def _cell_to_keras(self):
    """This cell's weights as the list a Keras layer's set_weights() takes."""
    return to_keras(self)


Cell.from_torch = classmethod(_cell_from_torch)
Cell.to_torch = _cell_to_torch
Cell.from_keras = classmethod(_cell_from_keras)
Cell.to_keras = _cell_to_keras

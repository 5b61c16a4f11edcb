"""The gated recurrent unit (Cho et al. 2014), in both of its candidate forms."""

from dataclasses import dataclass

import numpy as np

from .._checks import check_flag
from ..trace import State
from .base import (
    Cell,
    Diagram,
    Record,
    affine,
    diag_times,
    dsigmoid,
    dtanh,
    eye,
    inputs,
    prev,
    prev_rows,
    project,
    row_view,
    rows,
    sigmoid,
    sigmoid_from_tanh,
    split,
    times_prev,
)

__all__ = ["GRUCell", "GRURecord", "gru_mix"]


@dataclass
class GRURecord(Record):
    """The GRU's record: besides x, h, h0 and the gates, acts (T, 3H, B), the fused gate values
    the gates are views of, and side (T, H, B): r_t * h_{t-1}, or W_hg h_{t-1} + b_hg with
    reset_after=True, what the candidate's recurrent weights multiplied."""

    acts: np.ndarray
    side: np.ndarray


class GRUCell(Cell):
    r"""The gated recurrent unit (Cho et al. 2014).

    .. math::
        r_t &= \sigma(W_{xr} x_t + W_{hr} h_{t-1} + b_r)              \quad\text{reset gate} \\
        z_t &= \sigma(W_{xz} x_t + W_{hz} h_{t-1} + b_z)              \quad\text{update gate} \\
        g_t &= \tanh(W_{xg} x_t + W_{hg} (r_t \odot h_{t-1}) + b_g)   \quad\text{candidate} \\
        h_t &= (1 - z_t) \odot g_t + z_t \odot h_{t-1}

    with ``reset_after=False`` (the source documents' and Cho et al.'s form: reset before the
    matrix product). With ``reset_after=True`` (PyTorch, cuDNN and Keras's default) the reset
    gate scales the recurrent term after the product and the candidate has two biases:

    .. math::
        g_t = \tanh(W_{xg} x_t + b_{xg} + r_t \odot (W_{hg} h_{t-1} + b_{hg}))

    where x_t (D,) is the input, h_t (H,) the hidden state (a GRU has no separate cell state),
    each W_x* (H, D), W_h* (H, H), b_* (H,). Fused layout (r | z | g). PyTorch orders its gates
    r, z, n and Keras z, r, h; interop maps them by name (PyTorch and Keras keep two biases per
    gate; the two add up for r and z).

    Weights are drawn U(-1/sqrt(H), 1/sqrt(H)) from `seed`; biases are zero.

    >>> cell = GRUCell(input_size=3, hidden_size=4, seed=0)
    >>> cell.gate_names, cell.num_params
    (('r', 'z', 'g'), 96)
    >>> GRUCell(3, 4, reset_after=True).num_params    # one more bias vector, b_hg
    100
    """

    kind = "gru"
    gate_names = ("r", "z", "g")
    takes_reset_after = True
    fused_letters = ("r", "z", "g")
    sigmoid_letters = ("r", "z")
    torch_order = ("r", "z", "g")
    keras_order = ("z", "r", "g")
    color = "#009E73"
    diagram = Diagram("gru", ("reset", "update", "candidate", "output"))

    def __init__(self, input_size, hidden_size, *, seed=None, dtype=np.float64, reset_after=False):
        self.reset_after = check_flag(reset_after, "reset_after")
        super().__init__(input_size, hidden_size, seed=seed, dtype=dtype)

    def __repr__(self):
        return super().__repr__()[:-1] + f", reset_after={self.reset_after})"

    def signature(self):
        return super().signature() + (self.reset_after,)

    def _extra_arrays(self, H):
        return {"b_hg": np.zeros(H, self.dtype)} if self.reset_after else {}

    def named(self, fused):
        out = super().named(fused)
        if self.reset_after:
            out = {("b_xg" if k == "b_g" else k): v for k, v in out.items()}
            out["b_hg"] = fused["b_hg"]
        return out

    def step(self, x_t, h_prev=None, c_prev=None):
        """One step of the equations above; returns (State(h_t, None), {'r','z','g': values})."""
        x_t, h_prev, _ = self._check_step(x_t, h_prev, c_prev)
        p = self.params
        r = sigmoid(affine(p, "r", x_t, h_prev))
        z = sigmoid(affine(p, "z", x_t, h_prev))
        if self.reset_after:
            g = np.tanh(x_t @ p["W_xg"].T + p["b_xg"] + r * (h_prev @ p["W_hg"].T + p["b_hg"]))
        else:
            g = np.tanh(affine(p, "g", x_t, r * h_prev))
        h = (1 - z) * g + z * h_prev
        return State(h, None), {"r": r, "z": z, "g": g}

    def _run(self, x3, h0, c0, W):
        H = self.hidden_size
        Wx, Wh, b = self._halved(W)                      # r, z rows halved: see _halved
        acts = project(x3, Wx, b)                       # (T, 3H, B): W_x* x_t + b_* (b_xg for g)
        T, _, B = acts.shape
        h = np.empty((T, H, B), self.dtype)
        side = np.empty((T, H, B), self.dtype)           # r_t * h_{t-1}, or W_hg h_{t-1} + b_hg
        tmp = np.empty((H, B), self.dtype)               # scratch
        half = np.full((2 * H, B), 0.5, self.dtype)
        h_prev = h0
        steps = zip(acts, acts.reshape(T, 3, H, B), h, side, strict=True)
        if self.reset_after:
            hp = np.empty((3 * H, B), self.dtype)        # scratch for W_h* h_{t-1}
            side[...] = W["b_hg"][:, None]               # b_hg; each step adds W_hg h_{t-1}
            for a, (r, z, g), h_t, side_t in steps:
                np.dot(Wh, h_prev, out=hp)               # W_h* h_{t-1}, all three gates
                rz = a[:2 * H]
                rz += hp[:2 * H]                         # W_xr x_t + W_hr h_{t-1} + b_r; z alike
                np.tanh(rz, out=rz)
                sigmoid_from_tanh(rz, half)             # r_t, z_t
                side_t += hp[2 * H:]                     # W_hg h_{t-1} + b_hg
                np.multiply(r, side_t, out=tmp)
                g += tmp                                 # + r_t * (W_hg h_{t-1} + b_hg)
                np.tanh(g, out=g)                        # g_t
                gru_mix(h_t, g, z, h_prev)              # h_t
                h_prev = h_t
        else:
            Wh_rz, Wh_g = Wh[:2 * H], Wh[2 * H:]
            hp = np.empty((2 * H, B), self.dtype)        # scratch for W_hr h_{t-1}, W_hz h_{t-1}
            for a, (r, z, g), h_t, side_t in steps:
                np.dot(Wh_rz, h_prev, out=hp)
                rz = a[:2 * H]
                rz += hp                                 # W_xr x_t + W_hr h_{t-1} + b_r; z alike
                np.tanh(rz, out=rz)
                sigmoid_from_tanh(rz, half)             # r_t, z_t
                np.multiply(r, h_prev, out=side_t)       # r_t * h_{t-1}
                np.dot(Wh_g, side_t, out=tmp)
                g += tmp                                 # W_xg x_t + W_hg (r_t * h_{t-1}) + b_g
                np.tanh(g, out=g)                        # g_t
                gru_mix(h_t, g, z, h_prev)              # h_t
                h_prev = h_t
        return GRURecord(x=x3, h=h, h0=h0, gates=self._gate_views(acts), acts=acts, side=side)

    def _back(self, s, dh, W):
        H = self.hidden_size
        r, z, g = (s.gates[L] for L in self.fused_letters)
        h, h0, side = s.h, s.h0, s.side
        da = np.empty_like(s.acts)
        T, _, B = da.shape
        da_r, da_z, da_g = split(da, self.fused_letters, H, axis=1).values()
        # factors, for every t at once, that the loop multiplies by dh_t (da_r: by da_g)
        prev(h, h0, out=da_z)
        da_z -= g
        da_z *= dsigmoid(z)                             # da_z = dh_t (h_{t-1} - g_t) z'
        dtanh(g, out=da_g)
        da_g *= 1.0 - z                                  # da_g = dh_t (1 - z_t) g'
        dsigmoid(r, out=da_r)
        WhT = W["Wh"].T
        tmp = np.empty((H, B), self.dtype)
        dh_next = np.zeros((H, B), self.dtype)
        steps = zip(da[::-1], da.reshape(T, 3, H, B)[::-1], dh[::-1], r[::-1], z[::-1],
                    strict=True)
        if self.reset_after:
            da_r *= side                                 # da_r = da_g (W_hg h_{t-1} + b_hg) r'
            rec = np.empty((3 * H, B), self.dtype)       # the gradient of W_h* h_{t-1} (+ b_hg)
            for da_t, (da_r_t, da_z_t, da_g_t), dh_t, r_t, z_t in steps:
                dh_t += dh_next                          # dL/dh_t: from the loss at t and step t+1
                da_z_t *= dh_t                           # z_t
                da_g_t *= dh_t                           # g_t
                da_r_t *= da_g_t                         # r_t (through the candidate)
                np.copyto(rec[:2 * H], da_t[:2 * H])
                np.multiply(da_g_t, r_t, out=rec[2 * H:])  # d(W_hg h_{t-1} + b_hg) = da_g * r_t
                np.multiply(dh_t, z_t, out=dh_next)      # the z_t * h_{t-1} path
                np.dot(WhT, rec, out=tmp)
                dh_next += tmp                           # through every W_h*
            h_prev = prev_rows(h, h0)                   # (T*B, H)
            d_side = da_g * r                            # d(W_hg h_{t-1} + b_hg), every t
            d = {"b_hg": d_side.sum(axis=(0, 2))}
            d["Wh"] = np.concatenate([rows(da[:, :2 * H]).T @ h_prev,   # sum_t da h_{t-1}^T
                                      rows(d_side).T @ h_prev])
        else:
            times_prev(da_r, h, h0)                     # da_r = d(r_t h_{t-1}) * h_{t-1} * r'
            Wh_rzT, Wh_gT = W["Wh"][:2 * H].T, W["Wh"][2 * H:].T
            d_rh = np.empty((H, B), self.dtype)
            for da_t, (da_r_t, da_z_t, da_g_t), dh_t, r_t, z_t in steps:
                dh_t += dh_next                          # dL/dh_t: from the loss at t and step t+1
                da_z_t *= dh_t                           # z_t
                da_g_t *= dh_t                           # g_t
                np.dot(Wh_gT, da_g_t, out=d_rh)          # back through W_hg to r_t * h_{t-1}
                da_r_t *= d_rh                           # r_t
                np.multiply(dh_t, z_t, out=dh_next)      # the z_t * h_{t-1} path
                np.multiply(d_rh, r_t, out=tmp)
                dh_next += tmp                           # the r_t * h_{t-1} path
                np.dot(Wh_rzT, da_t[:2 * H], out=tmp)
                dh_next += tmp                           # through W_hr, W_hz
            # W_hr, W_hz read h_{t-1}; W_hg reads r_t * h_{t-1}
            d = {"Wh": np.concatenate([rows(da[:, :2 * H]).T @ prev_rows(h, h0),
                                       rows(da_g).T @ rows(side)])}
        d["h0"] = dh_next
        return d, da

    def _preacts(self, s, W):
        x, h_prev, _ = inputs(s)
        H = self.hidden_size
        a = x @ W["Wx"].T + W["b"]
        a[..., :2 * H] += h_prev @ W["Wh"][:2 * H].T
        r, side = row_view(s.gates["r"]), row_view(s.side)
        if self.reset_after:
            a[..., 2 * H:] += r * side
        else:
            a[..., 2 * H:] += side @ W["Wh"][2 * H:].T
        return split(a, self.fused_letters, H)

    def _step_jacobians(self, s, P):
        _, h_prev, _ = inputs(s)
        r, z, g = (row_view(s.gates[L]) for L in "rzg")
        dr = diag_times(r * (1.0 - r), P["W_hr"])       # dr_t/dh_{t-1}
        dz = diag_times(z * (1.0 - z), P["W_hz"])       # dz_t/dh_{t-1}
        W_hg = P["W_hg"]
        if self.reset_after:
            # g_t = tanh(W_xg x + b_xg + r * (W_hg h + b_hg))
            n = h_prev @ W_hg.T + P["b_hg"]
            dpre = W_hg * r[..., :, None] + diag_times(n, dr)
        else:
            # g_t = tanh(W_xg x + W_hg (r * h) + b_g);  d(r * h)/dh = diag(r) + diag(h) dr
            dpre = W_hg * r[..., None, :] + W_hg @ diag_times(h_prev, dr)
        dg = diag_times(1.0 - g**2, dpre)
        # h_t = (1 - z) g + z h_{t-1}
        return diag_times(1.0 - z, dg) + diag_times(h_prev - g, dz) + eye(z)


def gru_mix(out, g, z, h_prev):
    """h_t = (1 - z_t) * g_t + z_t * h_{t-1}, written as g_t + z_t * (h_{t-1} - g_t) into `out`."""
    np.subtract(h_prev, g, out=out)
    out *= z
    out += g

"""Training: a linear readout on any cell, losses, SGD and Adam, gradient clipping, the fit loop.

The model puts the symbol table's readout on top of a cell's hidden states,

    y_t = W_hy h_t + b_y           W_hy (K, H), b_y (K,),

either at the last step only (many-to-one) or at every step (many-to-many). Its
``forward``/``backward`` follow the cells' contract, so ``lstm_lab.gradcheck`` checks it
end to end. The losses return (loss, dloss/dy), the optimisers update the model's live
parameter arrays in place, and ``fit`` ties them to a task from ``lstm_lab.tasks`` with a
progress bar (an ipywidgets bar inside a Jupyter kernel, a text bar on stderr elsewhere).
"""

import contextlib
import math
import sys
import time
from collections.abc import Mapping

import numpy as np

from ._atomic import commit, interrupts_deferred
from ._checks import as_real_array, check_size

__all__ = [
    "SequenceModel",
    "ModelTrace",
    "ModelParams",
    "mse",
    "softmax_cross_entropy",
    "accuracy",
    "SGD",
    "Adam",
    "clip_grad_norm",
    "global_norm",
    "fit",
    "History",
    "Progress",
    "constant_schedule",
    "step_schedule",
    "blas_threads",
]

STATE_KEYS = ("x", "h0", "c0")


# ----------------------------------------------------------------------------- the model


class ModelParams(Mapping):
    """A model's parameters by name: the cell's live arrays, then W_hy and b_y.

    Assigning to a key copies the value into the existing array (shape checked, finite),
    so an optimiser, a slider or ``gradcheck`` always works on what the model computes with.
    """

    def __init__(self, cell_params, readout):
        self._cell = cell_params
        self._readout = readout

    def __getitem__(self, name):
        if name in self._readout:
            return self._readout[name]
        return self._cell[name]

    def __iter__(self):
        yield from self._cell
        yield from self._readout

    def __len__(self):
        return len(self._cell) + len(self._readout)

    def __setitem__(self, name, value):
        if name in self._readout:
            target = self._readout[name]
            value = as_real_array(value, name, target.dtype)
            if value.shape != target.shape:
                words = "(K, H)" if name == "W_hy" else "(K,)"
                raise ValueError(
                    f"{name} must have shape {words} = {target.shape}; got {value.shape}"
                )
            target[...] = value
        else:
            self._cell[name] = value

    def __repr__(self):
        return "ModelParams(" + ", ".join(f"{k}: {v.shape}" for k, v in self.items()) + ")"


class ModelTrace:
    """One forward pass of a ``SequenceModel``.

    cell   : the cell's trace (h, c, gates, ... as in ``lstm_lab.trace.Trace``)
    output : y, (K,) / (B, K) many-to-one or (T, K) / (T, B, K) many-to-many
    h, x, h0, c0, final, batched : those of the cell trace
    """

    def __init__(self, cell_trace, output, many_to_one):
        self.cell = cell_trace
        self.output = output
        self.many_to_one = many_to_one

    def __getattr__(self, name):
        if name in ("h", "c", "x", "h0", "c0", "final", "batched", "gates", "kind"):
            return getattr(self.cell, name)
        raise AttributeError(name)

    def __len__(self):
        return len(self.cell)

    def __repr__(self):
        return f"ModelTrace(output {self.output.shape}, cell={self.cell!r})"


class SequenceModel:
    """A recurrent cell with a linear readout y = W_hy h + b_y.

    Parameters
    ----------
    cell : any lstm_lab cell (its params stay live inside the model).
    output_size : K, the number of outputs (regression targets or class logits).
    many_to_one : True reads only the last hidden state h_T; False reads every h_t.
    seed : seeds W_hy ~ U(-1/sqrt(H), 1/sqrt(H)); b_y starts at zero.

    Examples
    --------
    >>> import lstm_lab as ll
    >>> model = SequenceModel(ll.LSTMCell(2, 8, seed=0), 1)
    >>> model
    SequenceModel(LSTMCell(input_size=2, hidden_size=8, dtype=float64, num_params=352), K=1,
                  many_to_one=True, num_params=361)
    >>> trace = model.forward(np.zeros((5, 3, 2)))
    >>> trace.output.shape
    (3, 1)
    >>> errors = ll.gradcheck(model, np.random.default_rng(0).normal(size=(4, 2, 2)))
    >>> max(errors.values()) < 1e-6
    True
    """

    def __init__(self, cell, output_size, many_to_one=True, seed=0):
        for attr in ("params", "forward", "backward", "hidden_size"):
            if not hasattr(cell, attr):
                raise TypeError(
                    f"cell must be an lstm_lab cell (with .{attr}); got {type(cell).__name__}"
                )
        self.cell = cell
        self.output_size = K = check_size(output_size, "output_size K")
        self.many_to_one = bool(many_to_one)
        H = cell.hidden_size
        rng = np.random.default_rng(seed)
        k = 1.0 / math.sqrt(H)
        self._readout = {
            "W_hy": rng.uniform(-k, k, size=(K, H)).astype(cell.dtype),
            "b_y": np.zeros(K, dtype=cell.dtype),
        }
        self.params = ModelParams(cell.params, self._readout)

    @property
    def num_params(self):
        return int(sum(a.size for a in self.params.values()))

    def __repr__(self):
        return (
            f"SequenceModel({self.cell!r}, K={self.output_size}, many_to_one={self.many_to_one}, "
            f"num_params={self.num_params})"
        )

    def forward(self, x, h0=None, c0=None):
        """Run the cell over x (T, D) or (T, B, D) and read out y. Returns a ``ModelTrace``."""
        if c0 is None:
            trace = self.cell.forward(x, h0=h0)
        else:
            trace = self.cell.forward(x, h0=h0, c0=c0)
        h = trace.h[-1] if self.many_to_one else trace.h
        y = h @ self._readout["W_hy"].T + self._readout["b_y"]
        return ModelTrace(trace, y, self.many_to_one)

    def predict(self, x, h0=None, c0=None):
        """Just the output y of ``forward``."""
        return self.forward(x, h0, c0).output

    def backward(self, trace, dy):
        """Gradients of a loss L given dy = dL/dy (shaped like trace.output).

        Returns a dict with every key of ``params`` plus 'x', 'h0' (and 'c0').
        """
        if not isinstance(trace, ModelTrace):
            raise TypeError(
                f"trace must be a ModelTrace from this model's forward; got {type(trace).__name__}"
            )
        dy = as_real_array(dy, "dy", trace.output.dtype)
        if dy.shape != trace.output.shape:
            raise ValueError(
                f"dy must have the shape of trace.output, {trace.output.shape}; got {dy.shape}"
            )
        W = self._readout["W_hy"]
        h = trace.cell.h
        dh = np.zeros_like(h)
        if self.many_to_one:
            # y = W_hy h_T + b_y: only h_T feeds the readout
            dh[-1] = dy @ W
            dW = dy.reshape(-1, self.output_size).T @ h[-1].reshape(-1, W.shape[1])
            db = dy.reshape(-1, self.output_size).sum(axis=0)
        else:
            # y_t = W_hy h_t + b_y at every step
            dh[...] = dy @ W
            dW = dy.reshape(-1, self.output_size).T @ h.reshape(-1, W.shape[1])
            db = dy.reshape(-1, self.output_size).sum(axis=0)
        grads = self.cell.backward(trace.cell, dh)
        grads["W_hy"] = dW
        grads["b_y"] = db
        return grads


# ----------------------------------------------------------------------------- losses


def mse(y, target):
    """Mean squared error over every element, and its gradient.

    Returns (loss, dloss/dy) with loss = mean((y - target)^2).

    >>> loss, dy = mse(np.array([[1.0], [3.0]]), np.array([[0.0], [1.0]]))
    >>> float(loss), dy.ravel().tolist()
    (2.5, [1.0, 2.0])
    """
    y = np.asarray(y)
    if y.dtype.kind not in "biuf" or np.asarray(target).dtype.kind not in "biuf":
        raise TypeError(f"y and target must be real numbers; got dtypes {y.dtype} and "
                        f"{np.asarray(target).dtype}")
    dtype = y.dtype if y.dtype.kind == "f" else np.dtype(np.float64)  # never round the target
    y = y.astype(dtype, copy=False)
    target = np.asarray(target, dtype=dtype)
    if y.shape != target.shape:
        raise ValueError(f"target must have the shape of y, {y.shape}; got {target.shape}")
    diff = y - target
    return float(np.mean(diff * diff)), (2.0 / diff.size) * diff


def _check_labels(logits, labels):
    logits = np.asarray(logits)
    labels = np.asarray(labels)
    if labels.shape != logits.shape[:-1]:
        raise ValueError(
            f"labels must have shape {logits.shape[:-1]} (logits without the class axis K); "
            f"got {labels.shape}"
        )
    if labels.dtype.kind not in "iu":
        raise TypeError(f"labels must be integer class indices; got dtype {labels.dtype}")
    K = logits.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= K):
        raise ValueError(
            f"labels must lie in 0..K-1 with K={K}; "
            f"got values from {labels.min()} to {labels.max()}"
        )
    return logits, labels


def softmax_cross_entropy(logits, labels):
    """Mean softmax cross-entropy (nats) over all positions and its gradient; stable for any logits.

    logits (..., K), labels (...) integer classes. Returns (loss, dloss/dlogits) with
    loss = mean(logsumexp(logits) - logits[label]) and gradient (softmax - onehot) / N.

    >>> loss, d = softmax_cross_entropy(np.array([[0.0, 0.0], [1000.0, 0.0]]), np.array([0, 0]))
    >>> round(loss, 6), d.round(3).tolist()
    (0.346574, [[-0.25, 0.25], [0.0, 0.0]])
    """
    logits, labels = _check_labels(logits, labels)
    shifted = logits - logits.max(axis=-1, keepdims=True)  # exp never overflows
    exp = np.exp(shifted)
    total = exp.sum(axis=-1, keepdims=True)
    log_p = shifted - np.log(total)
    picked = np.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]
    n = max(labels.size, 1)
    grad = exp / total
    np.put_along_axis(
        grad, labels[..., None], np.take_along_axis(grad, labels[..., None], axis=-1) - 1.0, axis=-1
    )
    return float(-picked.mean()), grad / n


def accuracy(logits, labels):
    """Fraction of positions whose largest logit is the label.

    >>> accuracy(np.array([[2.0, 1.0], [0.0, 3.0]]), np.array([0, 0]))
    0.5
    """
    logits, labels = _check_labels(logits, labels)
    return float(np.mean(logits.argmax(axis=-1) == labels))


# ----------------------------------------------------------------------------- optimisers


def _param_keys(params, grads):
    missing = [k for k in params if k not in grads]
    if missing:
        raise KeyError(f"grads has no entry for parameter(s) {', '.join(missing)}")
    return list(params)


def _checked_grads(params, grads):
    """grads[k] for every parameter k as an array of its shape, all finite; raises before
    anything is changed otherwise."""
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads must be a dict name -> array; got {type(grads).__name__}")
    out = {}
    for k in _param_keys(params, grads):
        g = np.asarray(grads[k])
        if g.dtype.kind not in "biuf":
            raise TypeError(f"grads[{k!r}] must be a real numeric array; got dtype {g.dtype}")
        if g.shape != params[k].shape:
            raise ValueError(f"grads[{k!r}] must have the shape of params[{k!r}], "
                             f"{params[k].shape}; got {g.shape} (nothing is broadcast)")
        if not np.isfinite(g).all():
            raise FloatingPointError(f"grads[{k!r}] contains NaN or inf; training diverged "
                                     "(no parameter was changed)")
        out[k] = g
    return out


def _all_finite(arrays, what):
    for k, a in arrays.items():
        if not np.isfinite(a).all():
            raise FloatingPointError(f"this step would make {what} {k!r} inf or NaN; training "
                                     "diverged (no parameter was changed)")


def global_norm(grads, keys=None):
    """sqrt of the sum of squares of every parameter gradient (the state keys x, h0, c0 left out).

    >>> global_norm({'W': np.array([3.0]), 'b': np.array([4.0]), 'x': np.ones(9)})
    5.0
    """
    keys = [k for k in grads if k not in STATE_KEYS] if keys is None else keys
    return math.sqrt(sum(float(np.vdot(grads[k], grads[k])) for k in keys))


def clip_grad_norm(grads, max_norm, keys=None):
    """Rescale the parameter gradients in place so their global norm is at most max_norm.

    Pascanu, Mikolov & Bengio 2013: when ||g|| > max_norm, g <- g * max_norm / ||g||; the
    direction is kept, only the step length is capped. Returns the norm before clipping.
    A non-finite norm raises FloatingPointError with every gradient left as it was.

    >>> g = {'W': np.array([3.0]), 'b': np.array([4.0])}
    >>> clip_grad_norm(g, 1.0), g['W'].round(12).tolist(), g['b'].round(12).tolist()
    (5.0, [0.6], [0.8])
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be > 0; got {max_norm}")
    keys = [k for k in grads if k not in STATE_KEYS] if keys is None else keys
    norm = global_norm(grads, keys)
    if not math.isfinite(norm):
        raise FloatingPointError(f"the gradient norm is {norm}; training diverged")
    if norm > max_norm:
        scale = max_norm / norm
        commit((grads[k] * scale, grads[k]) for k in keys)  # all of them or, if stopped, none
    return norm


class _Optimizer:
    def __init__(self, params, lr):
        if not isinstance(params, Mapping):
            raise TypeError(
                "params must be a Mapping name -> array (model.params); "
                f"got {type(params).__name__}"
            )
        if not lr > 0:
            raise ValueError(f"lr must be > 0; got {lr}")
        self.params = params
        self.lr = float(lr)
        self.t = 0

    def __repr__(self):
        return f"{type(self).__name__}(lr={self.lr:g}, steps taken={self.t})"

    def _commit(self, new_params, state):
        """Write the new parameters and optimiser state (name -> dict of arrays) and count the
        step, with Stop held off until all of it is written."""
        pairs = [(new_params[k], self.params[k]) for k in new_params]
        pairs += [(new[k], getattr(self, name)[k]) for name, new in state.items() for k in new]
        with interrupts_deferred():
            commit(pairs)
            self.t += 1


class SGD(_Optimizer):
    """Stochastic gradient descent, optionally with momentum: v <- mu v + g; p <- p - lr v.

    >>> p = {'w': np.array([1.0])}
    >>> opt = SGD(p, lr=0.1)
    >>> opt.step({'w': np.array([2.0])}); p['w'].tolist()
    [0.8]
    """

    def __init__(self, params, lr=0.1, momentum=0.0):
        super().__init__(params, lr)
        self.momentum = float(momentum)
        self._v = {k: np.zeros_like(v) for k, v in params.items()} if momentum else None

    def step(self, grads):
        """Update every parameter in place from grads (a dict with at least every params key).

        All or nothing: grads are checked first (shapes, finite), the new values computed aside,
        and then written together; a bad gradient or a step that would overflow raises with
        every parameter and the momentum as they were.
        """
        grads = _checked_grads(self.params, grads)
        new_p, new_v = {}, {}
        with np.errstate(all="ignore"):  # an overflow is reported just below
            for k, g in grads.items():
                p = self.params[k]
                if self._v is not None:
                    g = new_v[k] = (self.momentum * self._v[k] + g).astype(p.dtype)
                new_p[k] = (p - self.lr * g).astype(p.dtype)
        _all_finite(new_p, "parameter")
        _all_finite(new_v, "the momentum of")
        self._commit(new_p, {"_v": new_v})


class Adam(_Optimizer):
    """Adam (Kingma & Ba 2015): per-parameter steps from running means of g and g^2, bias-corrected.

    >>> p = {'w': np.array([1.0])}
    >>> opt = Adam(p, lr=0.1)
    >>> opt.step({'w': np.array([5.0])}); p['w'].round(6).tolist()   # the first step is ~lr long
    [0.9]
    """

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(params, lr)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self._m = {k: np.zeros_like(v) for k, v in params.items()}
        self._v = {k: np.zeros_like(v) for k, v in params.items()}

    def step(self, grads):
        """Update every parameter in place from grads (a dict with at least every params key).

        All or nothing, as ``SGD.step``: the parameters and both running means change together
        or not at all.
        """
        grads = _checked_grads(self.params, grads)
        t = self.t + 1
        b1, b2 = self.beta1, self.beta2
        # fold both bias corrections into the step size
        step = self.lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        eps = self.eps * math.sqrt(1.0 - b2**t)
        new_p, new_m, new_v = {}, {}, {}
        with np.errstate(all="ignore"):  # an overflow is reported just below
            for k, g in grads.items():
                p = self.params[k]
                m = new_m[k] = (b1 * self._m[k] + (1.0 - b1) * g).astype(p.dtype)
                v = new_v[k] = (b2 * self._v[k] + (1.0 - b2) * (g * g)).astype(p.dtype)
                new_p[k] = (p - step * m / (np.sqrt(v) + eps)).astype(p.dtype)
        for what, arrays in (("parameter", new_p), ("the first moment of", new_m),
                             ("the second moment of", new_v)):
            _all_finite(arrays, what)
        self._commit(new_p, {"_m": new_m, "_v": new_v})


def constant_schedule(step, steps):
    """Learning-rate factor 1 throughout."""
    return 1.0


def step_schedule(step, steps):
    """Learning-rate factor 1, then 0.1 for the last quarter of the steps (to settle in a minimum).

    >>> [step_schedule(s, 100) for s in (0, 74, 75, 99)]
    [1.0, 1.0, 0.1, 0.1]
    """
    return 1.0 if step < 0.75 * steps else 0.1


# ----------------------------------------------------------------------------- progress


def _in_kernel():
    """True inside a Jupyter kernel (IPython with a kernel attached), without importing IPython."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class Progress:
    """A progress bar: ipywidgets in a Jupyter kernel, text on stderr elsewhere, or nothing.

    ``mode`` is 'auto' (widget in a kernel, else text), 'widget', 'text' or 'off'.
    ``update(step, message)`` is cheap to call every step: the display refreshes at most
    every ``interval`` seconds (and on ``close``).
    """

    def __init__(self, total, description="", mode="auto", interval=0.25, stream=None):
        self.total = max(int(total), 1)
        self.description = description
        self.mode = ("widget" if _in_kernel() else "text") if mode == "auto" else mode
        if self.mode not in ("widget", "text", "off"):
            raise ValueError(f"mode must be 'auto', 'widget', 'text' or 'off'; got {mode!r}")
        self.interval = interval
        self.stream = sys.stderr if stream is None else stream
        self._last = -math.inf
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._printed_tenth = -1
        self.step = 0
        self.message = ""
        if self.mode == "widget":
            import ipywidgets
            from IPython.display import display

            self._bar = ipywidgets.IntProgress(
                value=0, min=0, max=self.total, description=description
            )
            self._label = ipywidgets.HTML(value="")
            display(ipywidgets.HBox([self._bar, self._label]))

    def __repr__(self):
        return f"Progress({self.step}/{self.total}, mode={self.mode!r})"

    def update(self, step, message=""):
        self.step, self.message = int(step), message
        now = time.perf_counter()
        if now - self._last >= self.interval:
            self._last = now
            self._draw()

    def _draw(self, final=False):
        if self.mode == "widget":
            self._bar.value = min(self.step, self.total)
            self._label.value = self.message
        elif self.mode == "text":
            frac = min(self.step / self.total, 1.0)
            if self._tty:
                filled = int(30 * frac)
                bar = "#" * filled + "-" * (30 - filled)
                self.stream.write(
                    f"\r{self.description} [{bar}] {self.step}/{self.total} {self.message}   "
                )
                if final:
                    self.stream.write("\n")
            else:  # a log file or a pipe: one line per tenth of the way
                tenth = int(10 * frac)
                if tenth > self._printed_tenth or final:
                    self._printed_tenth = tenth
                    self.stream.write(
                        f"{self.description} {self.step}/{self.total} {self.message}\n"
                    )
            self.stream.flush()

    def close(self, message=None):
        if message is not None:
            self.message = message
        self._draw(final=True)


# ----------------------------------------------------------------------------- the loop


def blas_threads(n=1):
    """A context that limits the BLAS library to n threads (None: leave it alone).

    A training step here is a few hundred small matrix products. Extra BLAS threads buy
    nothing on them, and on a machine whose cores are busy they wait for each other:
    measured on a 2-core machine under load, an LSTM step took 30 to 50 times longer with
    OpenBLAS's default 2 threads than with 1. ``fit`` and the experiments command train
    inside ``blas_threads(1)``.
    """
    if n is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=int(n), user_api="blas")


class History:
    """What ``fit`` recorded.

    loss     : training loss at every step taken, a list of floats
    evals    : list of (step, metric value) on the held-out batch
    grad_norms : global gradient norm at every step, before clipping
    steps    : steps taken; seconds : wall time; reached : True if it stopped at the target
    diverged : True if the loss, the gradient, the step or the held-out metric became inf or
               NaN; training stopped there, keeping the weights of the last finite step
    message  : one line saying how the run ended ("" while it runs)
    """

    def __init__(self, metric):
        self.metric = metric
        self.message = ""
        self.loss = []
        self.evals = []
        self.grad_norms = []
        self.steps = 0
        self.seconds = 0.0
        self.reached = False
        self.diverged = False

    @property
    def final(self):
        """The last held-out metric value (None before any evaluation)."""
        return self.evals[-1][1] if self.evals else None

    def __repr__(self):
        last = "none" if self.final is None else f"{self.final:.4g}"
        state = ", diverged" if self.diverged else ""
        return (
            f"History(steps={self.steps}, {self.metric} last={last}, "
            f"reached={self.reached}{state}, "
            f"seconds={self.seconds:.1f})"
        )


def fit(
    model,
    task,
    steps,
    *,
    batch_size=32,
    lr=1e-2,
    optimizer="adam",
    clip=1.0,
    schedule=None,
    target=None,
    eval_every=100,
    eval_batch=256,
    seed=0,
    progress="auto",
    description=None,
    threads=1,
    callback=None,
):
    """Train ``model`` on fresh batches from ``task`` (``lstm_lab.tasks``); return a ``History``.

    Every step draws a new batch from a generator seeded with ``seed``, so a run is
    reproducible; a fixed held-out batch (seeded separately) is scored with the task's
    metric every ``eval_every`` steps and at the end. Training stops early when that score
    reaches ``target`` (below it; above it for accuracy).

    Parameters
    ----------
    model : a SequenceModel (or anything with params, forward, backward).
    task : a task object (sample, loss, evaluate, metric, reached).
    steps : int, the most steps to take.
    batch_size, lr : batch size B and learning rate.
    optimizer : 'adam', 'sgd', or an optimiser built on model.params.
    clip : max global gradient norm (None: no clipping).
    schedule : callable (step, steps) -> learning-rate factor; default constant.
    progress : 'auto', 'widget', 'text' or 'off' (see ``Progress``).
    threads : BLAS threads while training (see ``blas_threads``); None leaves them alone.
    callback : called as ``callback(hist)`` before the first step and after every completed
        step (its update written, its evaluation done), with the History so far: a live plot,
        a progress label. If it returns True, training stops there (``hist.message`` says so).

    Examples
    --------
    >>> import lstm_lab as ll
    >>> from lstm_lab.tasks import AddingTask
    >>> model = SequenceModel(ll.GRUCell(2, 8, seed=0), 1)
    >>> hist = fit(model, AddingTask(T=5), steps=20, progress="off")
    >>> len(hist.loss), hist.steps, hist.evals[-1][0]
    (20, 20, 20)
    """
    steps = check_size(steps, "steps")
    batch_size = check_size(batch_size, "batch_size")
    if isinstance(optimizer, str):
        kinds = {"adam": Adam, "sgd": SGD}
        if optimizer not in kinds:
            raise ValueError(
                f"optimizer must be 'adam', 'sgd' or an optimiser object; got {optimizer!r}"
            )
        optimizer = kinds[optimizer](model.params, lr=lr)
    base_lr = optimizer.lr
    schedule = constant_schedule if schedule is None else schedule
    dtype = next(iter(model.params.values())).dtype
    train_rng = np.random.default_rng([seed, 0])
    x_val, y_val = task.sample(eval_batch, np.random.default_rng([seed, 1]), dtype=dtype)
    hist = History(task.metric)

    def diverge(step, reason, kept):
        hist.diverged = True
        hist.message = (f"diverged at step {step}: {reason}; kept the last finite weights "
                        f"(those after step {kept})")

    def evaluate(step):
        with np.errstate(all="ignore"):  # an overflow shows as inf, reported below
            value = task.evaluate(model.predict(x_val), y_val)
        hist.evals.append((step, value))
        if not math.isfinite(value):
            diverge(step, f"the held-out {task.metric} is {value}", step)
        return value

    def train_step(step):
        optimizer.lr = base_lr * schedule(step - 1, steps)
        x, y = task.sample(batch_size, train_rng, dtype=dtype)
        with np.errstate(all="ignore"):  # an overflow shows as inf, reported below
            trace = model.forward(x)
            loss, dy = task.loss(trace.output, y)
            grads, norm = None, math.inf
            if math.isfinite(loss) and np.isfinite(dy).all():
                try:
                    grads = model.backward(trace, dy)
                    norm = global_norm(grads)
                except ValueError as err:
                    # an overflow half-way through backward (dh = dy W_hy with huge weights),
                    # which the cell refuses to propagate: the gradient is not finite
                    if "NaN or inf" not in str(err):
                        raise
        hist.loss.append(loss)
        hist.grad_norms.append(norm)
        hist.steps = step
        for what, value in (("loss", loss), ("gradient norm", norm)):
            if not math.isfinite(value):
                diverge(step, f"the {what} is {value}", step - 1)  # nothing to step with
                return loss
        if clip and norm > clip:
            clip_grad_norm(grads, clip)
        try:
            optimizer.step(grads)
        except FloatingPointError:  # the step itself would overflow; nothing was changed
            diverge(step, "the update would make a weight inf or NaN", step - 1)
        return loss

    bar = Progress(steps, description or f"{task.name}", mode=progress)
    start = time.perf_counter()
    try:
        with blas_threads(threads):
            first = steps + 1 if callback is not None and callback(hist) else 1
            for step in range(first, steps + 1):
                loss = train_step(step)
                if hist.diverged:
                    break
                if step % eval_every == 0 or step == steps:
                    value = evaluate(step)
                    if hist.diverged:
                        break
                    if target is not None and task.reached(value, target):
                        hist.reached = True
                last = hist.final
                bar.update(
                    step,
                    f"loss {loss:.4f}" + ("" if last is None else f", {task.metric} {last:.4f}"),
                )
                if callback is not None and callback(hist) and not hist.reached:
                    hist.message = f"stopped by the callback after {step} steps"
                    break
                if hist.reached:
                    break
    finally:
        hist.seconds = time.perf_counter() - start
        optimizer.lr = base_lr
        if not hist.message:
            hist.message = (f"{task.metric} {hist.final:.4f} after {hist.steps} steps"
                            if hist.final is not None else f"stopped after {hist.steps} steps")
        bar.step = hist.steps
        bar.close(hist.message)
    return hist

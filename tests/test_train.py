"""Tests for lstm_lab.train: readout model gradients, losses, optimisers, clipping, the fit loop."""

import io
import math

import numpy as np
import pytest

import lstm_lab as ll
from lstm_lab import train
from lstm_lab.tasks import AddingTask, CopyTask, LongRangeTask

KINDS = ["rnn", "lstm", "peephole", "coupled", "gru", "gru_after"]


def make_cell(kind, D, H, seed=0):
    if kind == "gru_after":
        return ll.GRUCell(D, H, seed=seed, reset_after=True)
    return ll.CELLS[kind](D, H, seed=seed)


def randomize(params, rng, scale=0.5):
    """Give every parameter (biases, peepholes too) random values: no derivative is trivially 0."""
    for name in params:
        params[name] = rng.normal(scale=scale, size=params[name].shape)


def numeric_grad(f, arr, eps=1e-6):
    """Central differences of the scalar f() w.r.t. every entry of arr (changed in place)."""
    g = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        old = arr[idx]
        arr[idx] = old + eps
        up = f()
        arr[idx] = old - eps
        down = f()
        arr[idx] = old
        g[idx] = (up - down) / (2 * eps)
    return g


# ----------------------------------------------------------------------------- losses


def test_mse_matches_finite_differences():
    rng = np.random.default_rng(0)
    y, t = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    loss, dy = train.mse(y, t)
    assert loss == pytest.approx(np.mean((y - t) ** 2), rel=1e-14)
    np.testing.assert_allclose(
        dy, numeric_grad(lambda: train.mse(y, t)[0], y), rtol=1e-7, atol=1e-10
    )


@pytest.mark.parametrize("shape", [(7, 4), (3, 5, 6)])
def test_cross_entropy_matches_finite_differences(shape):
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=2.0, size=shape)
    labels = rng.integers(0, shape[-1], size=shape[:-1])
    loss, d = train.softmax_cross_entropy(logits, labels)
    # reference: -mean log softmax at the label
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    ref = -np.mean(np.log(np.take_along_axis(p, labels[..., None], -1)))
    assert loss == pytest.approx(ref, rel=1e-12)
    num = numeric_grad(lambda: train.softmax_cross_entropy(logits, labels)[0], logits)
    np.testing.assert_allclose(d, num, rtol=1e-6, atol=1e-10)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e6, -1e6, 0.0], [-1e6, 1e6, 5e5]])
    loss, d = train.softmax_cross_entropy(logits, np.array([0, 2]))
    assert loss == pytest.approx(0.5 * 5e5, rel=1e-12)  # first row right, second off by 5e5
    assert np.all(np.isfinite(d))
    np.testing.assert_allclose(d[1], [0.0, 0.5, -0.5], atol=1e-15)


@pytest.mark.parametrize(
    "labels, err, match",
    [
        (np.array([0, 1, 2]), ValueError, "labels must have shape"),
        (np.array([0, 3]), ValueError, "0..K-1"),
        (np.array([0.0, 1.0]), TypeError, "integer"),
    ],
)
def test_label_errors(labels, err, match):
    with pytest.raises(err, match=match):
        train.softmax_cross_entropy(np.zeros((2, 3)), labels)


def test_mse_shape_error():
    with pytest.raises(ValueError, match="target must have the shape"):
        train.mse(np.zeros((4, 1)), np.zeros(4))


# ----------------------------------------------------------------------------- the readout model


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("many_to_one", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_model_gradcheck(kind, many_to_one, batched):
    """Exact gradients end to end: readout plus cell, through the generic gradcheck protocol."""
    rng = np.random.default_rng(2)
    model = train.SequenceModel(make_cell(kind, 2, 3), 2, many_to_one=many_to_one, seed=1)
    randomize(model.params, rng)
    x = rng.normal(size=(4, 2, 2) if batched else (4, 2))
    H = 3
    h0 = rng.normal(size=(2, H) if batched else (H,))
    if model.cell.has_cell_state:
        errors = ll.gradcheck(model, x, h0=h0, c0=rng.normal(size=h0.shape))
    else:
        errors = ll.gradcheck(model, x, h0=h0)
    expected = set(model.params) | {"x", "h0"} | ({"c0"} if model.cell.has_cell_state else set())
    assert set(errors) == expected
    for name, err in errors.items():
        assert err < 1e-7, (name, err)


@pytest.mark.parametrize("task", [AddingTask(T=6), CopyTask(T=2), LongRangeTask(T=9)])
def test_loss_through_model_matches_finite_differences(task):
    """d(task loss)/d(weights) via the losses' gradients and backward, vs finite differences."""
    rng = np.random.default_rng(3)
    model = train.SequenceModel(
        ll.LSTMCell(task.input_size, 3, seed=0),
        task.output_size,
        many_to_one=task.many_to_one,
        seed=0,
    )
    randomize(model.params, rng, 0.3)
    x, y = task.sample(3, rng=4)

    def loss():
        return task.loss(model.forward(x).output, y)[0]

    trace = model.forward(x)
    grads = model.backward(trace, task.loss(trace.output, y)[1])
    for name in ("W_hy", "b_y", "W_hf", "b_i"):
        num = numeric_grad(loss, model.params[name])
        np.testing.assert_allclose(grads[name], num, rtol=1e-5, atol=1e-9, err_msg=name)


def test_model_output_is_the_readout_of_h():
    rng = np.random.default_rng(5)
    cell = ll.GRUCell(3, 4, seed=0)
    x = rng.normal(size=(6, 2, 3))
    one = train.SequenceModel(cell, 2, many_to_one=True, seed=0)
    many = train.SequenceModel(cell, 2, many_to_one=False, seed=0)
    h = cell.forward(x).h
    W, b = one.params["W_hy"], one.params["b_y"]
    np.testing.assert_allclose(one.forward(x).output, h[-1] @ W.T + b, rtol=1e-14)
    np.testing.assert_allclose(many.forward(x).output, h @ W.T + b, rtol=1e-14)
    assert one.forward(x[:, 0]).output.shape == (2,)
    assert many.forward(x[:, 0]).output.shape == (6, 2)


def test_model_params_are_live():
    cell = ll.LSTMCell(2, 3, seed=0)
    model = train.SequenceModel(cell, 1)
    assert list(model.params) == list(cell.params) + ["W_hy", "b_y"]
    assert model.num_params == cell.num_params + 3 + 1
    x = np.ones((3, 2))
    before = model.predict(x).copy()
    model.params["b_y"] = [2.0]
    np.testing.assert_allclose(model.predict(x), before + 2.0, rtol=1e-14)
    model.params["b_f"] = np.full(3, 5.0)  # goes to the cell's own array
    np.testing.assert_array_equal(cell.params["b_f"], 5.0)
    model.params["W_hy"][0, 0] += 1.0  # writing into the array counts too
    assert model.predict(x)[0] != pytest.approx(before[0] + 2.0)
    with pytest.raises(ValueError, match=r"W_hy must have shape \(K, H\)"):
        model.params["W_hy"] = np.zeros((3, 1))
    with pytest.raises(ValueError, match="NaN"):
        model.params["b_y"] = [np.nan]
    assert "W_hy: (1, 3)" in repr(model.params)


def test_model_errors():
    model = train.SequenceModel(ll.RNNCell(2, 3), 2)
    trace = model.forward(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="dy must have the shape of trace.output"):
        model.backward(trace, np.zeros((4, 2)))
    with pytest.raises(TypeError, match="ModelTrace"):
        model.backward(trace.cell, np.zeros(2))
    with pytest.raises(TypeError, match="lstm_lab cell"):
        train.SequenceModel("lstm", 2)
    with pytest.raises(ValueError, match="output_size K"):
        train.SequenceModel(ll.RNNCell(2, 3), 0)


def test_model_float32():
    model = train.SequenceModel(ll.LSTMCell(2, 3, dtype=np.float32), 1)
    trace = model.forward(np.ones((4, 5, 2), dtype=np.float32))
    assert trace.output.dtype == np.float32
    grads = model.backward(trace, np.ones((5, 1), dtype=np.float32))
    assert grads["W_hy"].dtype == np.float32 and grads["W_hf"].dtype == np.float32


# ---------------------------------------------------------------------- clipping and optimisers


def test_clip_grad_norm():
    rng = np.random.default_rng(6)
    grads = {"W": rng.normal(size=(3, 3)), "b": rng.normal(size=3), "x": np.full((4, 2), 100.0)}
    original = {k: v.copy() for k, v in grads.items()}
    total = math.sqrt(np.sum(original["W"] ** 2) + np.sum(original["b"] ** 2))
    norm = train.clip_grad_norm(grads, 0.5)
    assert norm == pytest.approx(total, rel=1e-14)  # the state gradient x is not counted
    assert train.global_norm(grads) == pytest.approx(0.5, rel=1e-12)
    np.testing.assert_allclose(
        grads["W"], original["W"] * 0.5 / total, rtol=1e-14
    )  # same direction
    np.testing.assert_array_equal(grads["x"], original["x"])
    # below the threshold nothing changes
    small = {"W": np.array([0.1, 0.2])}
    train.clip_grad_norm(small, 1.0)
    np.testing.assert_array_equal(small["W"], [0.1, 0.2])
    with pytest.raises(ValueError, match="max_norm"):
        train.clip_grad_norm(small, 0.0)
    with pytest.raises(FloatingPointError, match="diverged"):
        train.clip_grad_norm({"W": np.array([np.inf])}, 1.0)


def test_adam_matches_the_textbook_update():
    rng = np.random.default_rng(7)
    p = {"w": rng.normal(size=4)}
    ref = p["w"].copy()
    opt = train.Adam(p, lr=0.05, beta1=0.8, beta2=0.95, eps=1e-3)
    m = v = np.zeros(4)
    for t in range(1, 6):
        g = rng.normal(size=4)
        opt.step({"w": g.copy()})
        m = 0.8 * m + 0.2 * g
        v = 0.95 * v + 0.05 * g * g
        m_hat, v_hat = m / (1 - 0.8**t), v / (1 - 0.95**t)
        ref = ref - 0.05 * m_hat / (np.sqrt(v_hat) + 1e-3)
        np.testing.assert_allclose(p["w"], ref, rtol=1e-12, err_msg=f"step {t}")
    assert repr(opt) == "Adam(lr=0.05, steps taken=5)"


def test_sgd_with_momentum():
    p = {"w": np.array([1.0, -1.0])}
    opt = train.SGD(p, lr=0.1, momentum=0.9)
    opt.step({"w": np.array([1.0, 2.0])})
    opt.step({"w": np.array([1.0, 2.0])})
    # v1 = g, v2 = 0.9 g + g; w = w0 - 0.1 (v1 + v2)
    np.testing.assert_allclose(p["w"], [1.0 - 0.1 * 2.9, -1.0 - 0.1 * 5.8], rtol=1e-14)


def test_optimizers_minimise_a_quadratic():
    for opt_cls, lr in ((train.SGD, 0.1), (train.Adam, 0.05)):
        p = {"w": np.array([3.0, -2.0])}
        opt = opt_cls(p, lr=lr)
        for _ in range(500):
            opt.step({"w": 2 * p["w"]})  # gradient of |w|^2
        assert np.linalg.norm(p["w"]) < 1e-3, opt_cls.__name__


def test_optimizer_errors():
    with pytest.raises(ValueError, match="lr must be > 0"):
        train.Adam({"w": np.zeros(1)}, lr=0)
    with pytest.raises(TypeError, match="Mapping"):
        train.SGD([np.zeros(1)])
    with pytest.raises(KeyError, match="w"):
        train.SGD({"w": np.zeros(1)}).step({"v": np.zeros(1)})


# ----------------------------------------------------------------------------- fit


def test_fit_learns_and_is_reproducible():
    task = AddingTask(T=8)

    def run():
        model = train.SequenceModel(ll.GRUCell(2, 8, seed=0), 1, seed=0)
        return train.fit(
            model, task, 300, batch_size=16, lr=1e-2, eval_every=100, seed=3, progress="off"
        )

    a, b = run(), run()
    assert a.loss == b.loss  # same seed, same run
    assert len(a.loss) == 300 and [s for s, _ in a.evals] == [100, 200, 300]
    assert a.final < 0.5 * task.baseline(), a.evals  # it learned something
    assert "History(steps=300" in repr(a)


def test_fit_stops_at_target():
    model = train.SequenceModel(ll.RNNCell(2, 4, seed=0), 1)
    hist = train.fit(model, AddingTask(T=5), 1000, eval_every=10, target=10.0, progress="off")
    assert hist.reached and hist.steps == 10 and len(hist.loss) == 10


def test_fit_clipping_caps_the_step():
    model = train.SequenceModel(ll.RNNCell(2, 4, seed=0), 1)
    before = {k: v.copy() for k, v in model.params.items()}
    train.fit(
        model,
        AddingTask(T=5),
        1,
        optimizer=train.SGD(model.params, lr=1.0),
        clip=1e-3,
        progress="off",
    )
    moved = math.sqrt(sum(np.sum((model.params[k] - before[k]) ** 2) for k in before))
    assert moved == pytest.approx(1e-3, rel=1e-9)


def test_fit_text_progress_goes_to_the_stream(capsys):
    stream = io.StringIO()
    model = train.SequenceModel(ll.RNNCell(2, 4, seed=0), 1)
    bar = train.Progress(20, "demo", mode="text", stream=stream)
    for step in range(1, 21):
        bar.update(step, "loss 1.0")
    bar.close("done")
    text = stream.getvalue()
    assert "demo 20/20 done" in text and "demo" in text.splitlines()[0]
    train.fit(model, AddingTask(T=5), 5, progress="text")
    out, err = capsys.readouterr()
    assert out == "" and "5/5" in err and "test_mse" in err


def test_progress_off_and_not_in_kernel(capsys):
    assert not train._in_kernel()
    model = train.SequenceModel(ll.RNNCell(2, 4, seed=0), 1)
    train.fit(model, AddingTask(T=5), 5, progress="off")
    assert capsys.readouterr() == ("", "")
    with pytest.raises(ValueError, match="mode must be"):
        train.Progress(3, mode="fancy")


def test_progress_widget_mode(capsys):
    widgets = pytest.importorskip("ipywidgets")
    bar = train.Progress(10, "w", mode="widget", interval=0.0)
    bar.update(4, "loss 0.5")
    assert (
        isinstance(bar._bar, widgets.IntProgress)
        and bar._bar.value == 4
        and bar._label.value == "loss 0.5"
    )
    bar.close("done")
    assert bar._label.value == "done"
    capsys.readouterr()


def test_model_on_stacked_and_bidirectional_networks():
    """The readout sits on any module with the cells' contract, networks included."""
    from lstm_lab.networks import Bidirectional, Stacked

    x = np.random.default_rng(8).normal(size=(4, 2, 2))
    stacked = Stacked([ll.LSTMCell(2, 3, seed=0), ll.RNNCell(3, 4, seed=1)])
    both = Bidirectional(ll.LSTMCell(2, 3, seed=0), ll.GRUCell(2, 3, seed=1))
    for net, many_to_one, H in ((stacked, False, 4), (both, True, 6)):
        model = train.SequenceModel(net, 2, many_to_one=many_to_one)
        assert model.params["W_hy"].shape == (2, H)
        errors = ll.gradcheck(model, x)
        for name, err in errors.items():
            assert err < 1e-7, (type(net).__name__, name, err)

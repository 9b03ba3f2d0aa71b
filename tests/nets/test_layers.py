"""Every layer's backward pass against central finite differences (float64), and shape errors."""

import numpy as np
import pytest

from nnsweep.nets.activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from nnsweep.nets.architectures import cnn
from nnsweep.nets.architectures import mlp as mlp_description
from nnsweep.nets.conv import Conv2D, lecun_c3_table
from nnsweep.nets.layers import Dense, Dropout, Flatten, Reshape, ShapeError, weight_grad
from nnsweep.nets.network import Network
from nnsweep.nets.pooling import MaxPool2D, MeanPool2D
from tests.conftest import numerical_gradient, sample_indices

RTOL, ATOL = 1e-5, 1e-8


def check_layer(layer, input_shape, batch=3, seed=0, positive=False):
    """Compare analytic gradients of L = sum(R * layer(x)) with finite differences."""
    rng = np.random.default_rng(seed)
    out_shape = layer.build(input_shape, rng, np.float64)
    x = rng.standard_normal((batch,) + tuple(input_shape))
    if positive:
        x = np.abs(x) + 0.1
    R = rng.standard_normal((batch,) + tuple(out_shape))
    loss = lambda: float(np.sum(R * layer.forward(x, training=True)))
    layer.forward(x, training=True)
    dx = layer.backward(R.copy())
    for name, p in layer.params.items():
        for idx in sample_indices(p.shape, 20, rng):
            num = numerical_gradient(loss, p, idx)
            np.testing.assert_allclose(layer.grads[name][idx], num, rtol=RTOL, atol=ATOL, err_msg=f"{name}{idx}")
    for idx in sample_indices(x.shape, 20, rng):
        num = numerical_gradient(loss, x, idx)
        np.testing.assert_allclose(dx[idx], num, rtol=RTOL, atol=ATOL, err_msg=f"x{idx}")


@pytest.mark.parametrize("bias", [True, False])
def test_dense_gradients(bias):
    check_layer(Dense(7, bias=bias, bias_init="standard_normal"), (5,))


@pytest.mark.parametrize("bias", [True, False])
def test_dense_gradients_in_halves(bias, monkeypatch):
    """A large layer's products go in two halves of its inputs and units (odd sizes here, so the
    halves differ)."""
    monkeypatch.setattr("nnsweep.nets.layers.HALVES_FROM", 0)
    monkeypatch.setattr("nnsweep.nets.layers.HALF_FROM", 1)
    layer = Dense(7, bias=bias, bias_init="standard_normal")
    layer.in_halves = True  # as a convolutional network sets it
    calls = []
    monkeypatch.setattr("nnsweep.nets.layers.each_block", lambda blocks, work: calls.append([work(b) for b in blocks]))
    check_layer(layer, (5,))
    assert calls and all(len(halves) == 2 for halves in calls)


def test_only_a_convolutional_networks_dense_layers_go_in_halves():
    mlp = Network(mlp_description([16]), np.random.default_rng(0))
    conv = Network(cnn(channels=[2], image=(8, 8, 1), dense=[16]), np.random.default_rng(0))
    assert not any(getattr(layer, "in_halves", False) for layer in mlp.layers)
    assert all(layer.in_halves for layer in conv.layers if isinstance(layer, Dense))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(784, 100), (17, 10), (1, 10), (10, 1), (1, 1)])
def test_one_examples_weight_gradient_is_matmuls_values(dtype, shape):
    """With one example the weight gradient is an outer product, which layers.weight_grad hands to
    BLAS: the values matmul gives (a zero's sign aside: layers.weight_grad says why), for either
    dtype, layers one unit wide, an input that is a strided view, and mixed dtypes. Among them: 0 x
    -y, -0 x y, a product that underflows, inf x -0 (NaN), NaN."""
    rng = np.random.default_rng(0)
    n_in, units = shape
    tiny = np.finfo(dtype).tiny
    x = rng.normal(size=(1, n_in)).astype(dtype)
    x[0, :6] = [0.0, -0.0, np.inf, tiny, 3.0, -tiny][: min(6, n_in)]
    dy = rng.normal(size=(1, units)).astype(dtype)
    dy[0, :5] = [-1.0, np.nan, -0.0, np.finfo(dtype).max / 4, tiny][: min(5, units)]
    strided = np.repeat(x, 2, axis=1)[:, ::2]
    for inputs in ((x, dy), (strided, dy), (x.astype(np.float64), dy)):
        with np.errstate(all="ignore"):
            expected = np.matmul(inputs[0].T, inputs[1]).astype(dtype)
            out = np.full(shape, 7.0, dtype=dtype)  # a stale gradient: overwritten, not added to
            weight_grad(*inputs, out)
        np.testing.assert_array_equal(out, expected)  # NaN where NaN; -0 equals +0
        assert np.isnan(out).sum() == np.isnan(expected).sum()
        nonzero = expected != 0
        assert out[nonzero].tobytes() == expected[nonzero].tobytes()
    if shape == (784, 100):  # the cases are in it
        assert not expected[[0, 1, 5], [0, 3, 4]].any() and np.isnan(expected[2, 2]) and np.isnan(expected[:, 1]).all()


@pytest.mark.parametrize("layer", [Sigmoid(), Tanh(), Softmax()], ids=repr)
def test_activation_gradients(layer):
    check_layer(layer, (6,))


def test_sigmoid_gradient_on_an_array_large_enough_for_its_tanh_form():
    check_layer(Sigmoid(), (40, 40, 3))  # 4,800 floats a sample: hidden_sigmoid's tanh branch


def test_relu_gradient_away_from_the_kink():
    check_layer(ReLU(), (6,), positive=True)
    layer = ReLU()
    layer.build((3,), None, np.float64)
    out = layer.forward(np.array([[-2.0, 0.0, 3.0]]))
    np.testing.assert_array_equal(out, [[0.0, 0.0, 3.0]])
    np.testing.assert_array_equal(layer.backward(np.ones((1, 3))), [[0.0, 0.0, 1.0]])


def test_leaky_relu_gradient_on_both_sides_and_its_values():
    check_layer(LeakyReLU(), (6,))  # standard normal inputs: both signs, the kink never hit
    layer = LeakyReLU(0.1)
    out = layer.forward(np.array([[-2.0, 0.0, 3.0]]))
    np.testing.assert_allclose(out, [[-0.2, 0.0, 3.0]])
    np.testing.assert_allclose(layer.backward(np.ones((1, 3))), [[0.1, 0.1, 1.0]])


@pytest.mark.parametrize("layer_of_gain", [lambda g: Dense(7, gain=g), lambda g: Conv2D(3, 3, gain=g)])
def test_init_gain_multiplies_the_first_weights_and_is_recorded_only_when_not_1(layer_of_gain):
    shapes = {"Dense": (5,), "Conv2D": (6, 6, 2)}
    plain, scaled = layer_of_gain(1.0), layer_of_gain(3.0)
    shape = shapes[type(plain).__name__]
    plain.build(shape, np.random.default_rng(4), np.float32)
    scaled.build(shape, np.random.default_rng(4), np.float32)
    np.testing.assert_allclose(scaled.params["W"], 3.0 * plain.params["W"], rtol=1e-6)
    assert "gain" not in plain.hyperparameters() and scaled.hyperparameters()["gain"] == 3.0


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 2), (1, 3), (2, 0), (2, 1)])
@pytest.mark.parametrize("channels", [1, 3, 5])
@pytest.mark.parametrize("chunked", [False, True], ids=["one product", "chunked"])
def test_conv2d_gradients(stride, padding, channels, chunked, monkeypatch):
    """4 filters: 5 channels take the input gradient as a convolution (stride 1, padding <= 2),
    1 and 3 channels (and padding 3, stride 2) one product per kernel offset."""
    if chunked:  # weight-gradient products of 10 output pixels, window matrices of one image
        monkeypatch.setattr("nnsweep.nets.conv.PIXEL_CHUNK", 10)
        monkeypatch.setattr("nnsweep.nets.conv.CHUNK_BYTES", 1)
        monkeypatch.setattr("nnsweep.nets.conv.WHOLE_BYTES", 0)
    layer = Conv2D(4, 3, stride=stride, padding=padding)
    layer.needs_input_grad = True
    check_layer(layer, (7, 7, channels))


def direct_convolution(x, W, b, stride, padding, dy):
    """The layer's output and gradients by loops over every pixel and offset: the definition."""
    n, h, w, c = x.shape
    f, _, k, _ = W.shape
    xp = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    ho, wo = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    out, dW, dxp = np.zeros((n, ho, wo, f)), np.zeros_like(W), np.zeros_like(xp)
    for r in range(ho):
        for q in range(wo):
            window = xp[:, r * stride : r * stride + k, q * stride : q * stride + k, :]  # (n, k, k, c)
            out[:, r, q] = np.einsum("nijc,fcij->nf", window, W) + b
            dW += np.einsum("nijc,nf->fcij", window, dy[:, r, q])
            dxp[:, r * stride : r * stride + k, q * stride : q * stride + k, :] += np.einsum(
                "nf,fcij->nijc", dy[:, r, q], W
            )
    return out, dW, dy.sum(axis=(0, 1, 2)), dxp[:, padding : padding + h, padding : padding + w]


@pytest.mark.parametrize("layout", ["C", "Fortran"])
@pytest.mark.parametrize("images_a_chunk", [1, 2, None], ids=["an image a chunk", "2 a chunk, last short", "whole"])
@pytest.mark.parametrize(
    "filters,channels,kernel,stride,padding",
    [
        (2, 3, 3, 1, 1),
        (4, 3, 3, 1, 1),
        (3, 3, 5, 1, 0),
        (2, 2, 3, 1, 2),
        (2, 4, 3, 1, 4),
        (2, 3, 3, 2, 1),
        (3, 1, 3, 1, 1),
    ],
)
def test_conv2d_matches_a_direct_convolution(
    filters, channels, kernel, stride, padding, images_a_chunk, layout, monkeypatch
):
    """Forward values and all three gradients equal the definition's: in chunks of one or two
    images of a batch of 3 (the last chunk short) or whole (the matrix kept for the backward
    pass), by either input-gradient scheme (filters <= channels at stride 1 and padding <= k-1
    take the convolution of the output gradient; the others one product per offset), for inputs
    and output gradients in C or Fortran order (the window view needs C order)."""
    rng = np.random.default_rng(3)
    layer = Conv2D(filters, kernel, stride=stride, padding=padding)
    layer.needs_input_grad = True
    out_shape = layer.build((7, 6, channels), rng, np.float64)
    if images_a_chunk:
        bytes_per_image = out_shape[0] * out_shape[1] * kernel * kernel * channels * 8
        monkeypatch.setattr("nnsweep.nets.conv.CHUNK_BYTES", images_a_chunk * bytes_per_image)
        monkeypatch.setattr("nnsweep.nets.conv.WHOLE_BYTES", 0)
    layer.params["b"][:] = rng.standard_normal(filters)
    x = rng.standard_normal((3, 7, 6, channels))
    dy = rng.standard_normal((3, *out_shape))
    if layout == "Fortran":
        x, dy = np.asfortranarray(x), np.asfortranarray(dy)
    out = layer.forward(x, training=True)
    assert (layer._cols_t is None) == (images_a_chunk is not None and channels > 1)  # 1 channel: kept
    dx = layer.backward(dy)
    expected = direct_convolution(x, layer.params["W"], layer.params["b"], stride, padding, dy)
    for got, want in zip((out, layer.grads["W"], layer.grads["b"], dx), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_conv2d_input_gradient_of_one_filter_with_a_stride_0_channel_axis():
    """One filter, padding k-1: the output gradient needs no padding, and one given as
    ``dy3[..., None]`` has a channel axis of stride 0 that NumPy still calls contiguous."""
    rng = np.random.default_rng(4)
    layer = Conv2D(1, 3, padding=2)
    layer.needs_input_grad = True
    out_shape = layer.build((5, 5, 2), rng, np.float64)
    x = rng.standard_normal((2, 5, 5, 2))
    dy = rng.standard_normal((2, *out_shape[:2]))[..., None]
    assert dy.strides[-1] == 0 and dy.flags.c_contiguous
    layer.forward(x, training=True)
    dx = layer.backward(dy)
    expected = direct_convolution(x, layer.params["W"], layer.params["b"], 1, 2, np.ascontiguousarray(dy))
    np.testing.assert_allclose(dx, expected[3], rtol=1e-12, atol=1e-12)


def test_conv2d_refuses_an_input_of_another_shape_than_it_was_built_for():
    layer = Conv2D(4, 3, padding=1)
    layer.build((8, 8, 3), np.random.default_rng(0), np.float32)
    for shape in [(2, 10, 10, 3), (2, 6, 6, 3), (2, 8, 8, 2)]:
        with pytest.raises(ShapeError, match=r"built for inputs \(8, 8, 3\)"):
            layer.forward(np.zeros(shape, np.float32))


def test_lecun_table_gradients_and_absent_connections_stay_zero():
    layer = Conv2D(16, 3, connections="lecun")
    layer.needs_input_grad = True
    check_layer(layer, (6, 6, 6))
    table = lecun_c3_table()
    assert table.sum() == 60  # the paper's 60 connections (Table I)
    assert np.all(layer.params["W"][~table] == 0)
    assert np.all(layer.grads["W"][~table] == 0)


@pytest.mark.parametrize("pool", [MeanPool2D(2), MaxPool2D(2), MeanPool2D(3), MaxPool2D(3)], ids=repr)
def test_pool_gradients(pool):
    check_layer(pool, (6, 6, 3))


def test_pool_values():
    x = np.arange(16, dtype=np.float64).reshape(1, 4, 4, 1)
    mean, mx = MeanPool2D(2), MaxPool2D(2)
    mean.build((4, 4, 1), None, np.float64), mx.build((4, 4, 1), None, np.float64)
    np.testing.assert_array_equal(mean.forward(x)[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_array_equal(mx.forward(x)[0, :, :, 0], [[5, 7], [13, 15]])


def test_reshape_and_flatten_round_trip():
    check_layer(Reshape([2, 3, 1]), (6,))
    check_layer(Flatten(), (2, 3, 2))


def test_dropout_is_inverted_and_seeded():
    layer = Dropout(0.5)
    layer.build((1000,), None, np.float32)
    layer.rng = np.random.default_rng(0)
    x = np.ones((4, 1000), np.float32)
    out = layer.forward(x, training=True)
    assert set(np.unique(out)) == {0.0, 2.0}
    assert abs(out.mean() - 1.0) < 0.05  # expectation preserved
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), out)  # same mask
    np.testing.assert_array_equal(layer.forward(x, training=False), x)  # identity at test time
    layer.rng = np.random.default_rng(0)
    np.testing.assert_array_equal(layer.forward(x, training=True), out)
    # the mask is drawn in float32 (half the time of float64 draws), in a float64 network too
    for dtype in (np.float32, np.float64):
        layer.build((1000,), None, dtype)
        layer.rng = np.random.default_rng(7)
        kept = np.random.default_rng(7).random(x.shape, dtype=np.float32) < 0.5
        got = layer.forward(x.astype(dtype), training=True)
        assert got.dtype == dtype and np.array_equal(got, np.where(kept, 2.0, 0.0))


@pytest.mark.parametrize(
    "make,shape,message",
    [
        (lambda: Dense(5), (4, 4), "flatten"),
        (lambda: Conv2D(4, 5), (784,), "reshape"),
        (lambda: Conv2D(4, 9), (5, 5, 1), "larger"),
        (lambda: MeanPool2D(2), (5, 5, 1), "divisible"),
        (lambda: Conv2D(10, 3, connections="lecun"), (8, 8, 6), "6 input maps to 16"),
        (lambda: Reshape([5, 5]), (24,), "cannot reshape"),
    ],
)
def test_shape_errors_name_the_problem(make, shape, message):
    with pytest.raises(ShapeError, match=message):
        make().build(shape, np.random.default_rng(0), np.float32)


def test_bad_layer_options_fail_on_construction():
    with pytest.raises(ShapeError):
        Dense(0)
    with pytest.raises(ShapeError):
        Dropout(1.0)
    with pytest.raises(ValueError, match="unknown initialiser"):
        Dense(3, init="gaussian")


@pytest.mark.parametrize("stride,padding,shape", [(1, 0, (7, 7, 1)), (2, 1, (9, 8, 3)), (3, 2, (5, 5, 6))])
def test_conv2d_plans_its_shapes_without_building(stride, padding, shape):
    layer = Conv2D(4, 3, stride=stride, padding=padding)
    planned_out, planned_params = layer.output_shape(shape), layer.param_shapes(shape)
    out = layer.build(shape, np.random.default_rng(0), np.float32)
    assert planned_out == out
    assert planned_params == {name: p.shape for name, p in layer.params.items()}
    with pytest.raises(ShapeError, match="6 input maps to 16"):
        Conv2D(16, 3, connections="lecun").param_shapes((8, 8, 5))  # refused before anything exists


def test_normal_fan_out_draws_rashids_book_weights():
    """His book's code: normal(0, pow(hnodes, -0.5)) for 784 -> 100, pow(onodes, -0.5) for 100 -> 10."""
    from nnsweep.nets.init import normal_fan_out

    rng = np.random.default_rng(0)
    assert normal_fan_out(rng, (784, 100), 784, 100, np.float64).std() == pytest.approx(0.1, rel=0.01)
    assert normal_fan_out(rng, (100, 1000), 100, 1000, np.float64).std() == pytest.approx(1000**-0.5, rel=0.01)

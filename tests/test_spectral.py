"""`spectral` against numpy's SVD of the explicit convolution matrix."""

import re

import keras
import numpy as np
import pytest

from keras_procrustes.ops import spectral
from numpy_reference import circular_conv1d_matrix
from numpy_reference import operator_singular_values


@pytest.mark.parametrize(
    "kernel_shape, spatial_shape",
    [
        ((3, 3, 2, 3), (5, 6)),  # odd and even widths
        ((3, 3, 3, 2), (4, 4)),  # c_in > c_out
        ((1, 1, 3, 5), (4, 3)),
        ((2, 3, 2, 2), (5, 5)),  # non-square kernel
        ((3, 3, 3, 8), (7, 7)),  # a small stem
    ],
)
def test_conv_singular_values_match_dense_matrix(kernel_shape, spatial_shape):
    kernel = np.random.default_rng(0).normal(size=kernel_shape)
    expected = operator_singular_values(kernel, *spatial_shape)
    got = np.asarray(
        spectral.conv_singular_values(kernel.astype("float32"), spatial_shape)
    )
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_spectrum_round_trip_recovers_kernel():
    kernel = np.random.default_rng(1).normal(size=(3, 3, 4, 5)).astype("float32")
    real, imag = spectral.kernel_spectrum(kernel, (8, 7))
    assert tuple(real.shape) == (8, 4, 4, 5)
    back = spectral.kernel_from_spectrum(real, imag, (8, 7), (3, 3))
    np.testing.assert_allclose(np.asarray(back), kernel, atol=1e-5)


def test_spectrum_matches_numpy_fft():
    kernel = np.random.default_rng(2).normal(size=(3, 3, 2, 3)).astype("float32")
    padded = np.zeros((6, 6, 2, 3))
    padded[:3, :3] = kernel
    expected = np.fft.fft2(padded, axes=(0, 1))[:, :4]
    real, imag = spectral.kernel_spectrum(kernel, (6, 6))
    np.testing.assert_allclose(np.asarray(real), expected.real, atol=1e-5)
    np.testing.assert_allclose(np.asarray(imag), expected.imag, atol=1e-5)


def test_numpy_1d_matrix_is_what_conv1d_computes_on_a_wrapped_input():
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(3, 2, 4)).astype("float32")
    x = rng.normal(size=(1, 7, 2)).astype("float32")
    conv = keras.layers.Conv1D(4, 3, use_bias=False)
    conv.build((None, 9, 2))
    conv.kernel.assign(kernel)
    wrapped = np.concatenate([x, x[:, :2]], axis=1)  # circular padding
    got = keras.ops.convert_to_numpy(conv(wrapped))[0]
    expected = (circular_conv1d_matrix(kernel, 7) @ x[0].ravel()).reshape(7, 4)
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize(
    "kernel_shape, length",
    [
        ((3, 2, 4), 7),  # odd length
        ((3, 4, 2), 8),  # even length, c_in > c_out
        ((1, 3, 5), 5),
        ((5, 3, 3), 6),
    ],
)
def test_conv1d_singular_values_match_dense_matrix(kernel_shape, length):
    kernel = np.random.default_rng(4).normal(size=kernel_shape)
    expected = np.linalg.svd(
        circular_conv1d_matrix(kernel, length), compute_uv=False
    )[: length * min(kernel_shape[1:])]
    got = np.asarray(
        spectral.conv_singular_values(kernel.astype("float32"), (length,))
    )
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("spatial_shape", [None, ()])
def test_dense_singular_values_are_the_matrix_ones(spatial_shape):
    kernel = np.random.default_rng(5).normal(size=(6, 4))
    got = spectral.conv_singular_values(kernel.astype("float32"), spatial_shape)
    expected = np.linalg.svd(kernel, compute_uv=False)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-5)


def test_as_conv2d_views_conv1d_and_dense_kernels():
    kernel_2d, fft_shape = spectral.as_conv2d(np.ones((3, 4, 8), "float32"), 16)
    assert (tuple(kernel_2d.shape), fft_shape) == ((1, 3, 4, 8), (1, 16))
    kernel_2d, fft_shape = spectral.as_conv2d(np.ones((4, 8), "float32"))
    assert (tuple(kernel_2d.shape), fft_shape) == ((1, 1, 4, 8), (1, 1))
    kernel_2d, fft_shape = spectral.as_conv2d(np.ones((1, 1, 4, 8), "float32"))
    assert fft_shape == (1, 1)


@pytest.mark.parametrize(
    "shape, spatial_shape, message",
    [
        ((3, 3, 4), (8, 8), r"Conv1D kernel .*\(length,\).*spatial_shape=\(8, 8\)"),
        ((4, 8), 8, r"Dense kernel.*spatial_shape=8"),
        ((3, 3, 2, 2), None, r"Conv2D kernel.*spatial_shape=None"),
        ((3, 2, 2), (2,), r"spatial_shape=\(2,\) is smaller"),
        ((3, 2, 2), ("8",), r"spatial_shape=\('8',\)"),
    ],
)
def test_spatial_shape_that_does_not_fit_is_named(shape, spatial_shape, message):
    with pytest.raises(ValueError, match=message):
        spectral.conv_singular_values(np.ones(shape, "float32"), spatial_shape)


@pytest.mark.parametrize("shape", [(8,), (3, 3, 3, 4, 8)])
def test_kernel_of_other_rank_is_refused(shape):
    with pytest.raises(ValueError, match=re.escape(f"shape={shape}")):
        spectral.conv_singular_values(np.ones(shape, "float32"), (8, 8))
def test_fft_smaller_than_kernel_is_refused():
    with pytest.raises(ValueError, match=r"spatial_shape=\(2, 8\)"):
        spectral.conv_singular_values(np.ones((3, 3, 2, 2), "float32"), (2, 8))

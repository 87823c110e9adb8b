"""`spectral` against numpy's SVD of the explicit convolution matrix."""

import numpy as np
import pytest

from keras_procrustes import spectral
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


def test_rank_3_kernel_is_refused():
    with pytest.raises(ValueError, match=r"shape=\(3, 3, 4\)"):
        spectral.conv_singular_values(np.ones((3, 3, 4), "float32"), (8, 8))


def test_fft_smaller_than_kernel_is_refused():
    with pytest.raises(ValueError, match=r"spatial_shape=\(2, 8\)"):
        spectral.conv_singular_values(np.ones((3, 3, 2, 2), "float32"), (2, 8))

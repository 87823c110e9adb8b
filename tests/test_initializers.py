"""`FourierOrthogonal`: the operator of the drawn kernel, checked with numpy.

Its `.keras` round trip: the `NormPreservingTransition` case of
`tests/test_layers.py` (tests/harness.py's run_layer_test).
"""

import keras
import numpy as np
import pytest

from keras_procrustes.initializers import FourierOrthogonal
from numpy_reference import operator_singular_values


def test_1x1_kernel_is_exactly_norm_preserving():
    kernel = FourierOrthogonal(seed=1)((1, 1, 4, 8))
    values = operator_singular_values(keras.ops.convert_to_numpy(kernel).astype("float64"), 4, 4)
    np.testing.assert_allclose(values, np.sqrt(2.0), atol=1e-5)


def test_dense_kernel_has_orthonormal_rows_times_gain():
    kernel = keras.ops.convert_to_numpy(FourierOrthogonal(gain=0.5, seed=2)((3, 6)))
    np.testing.assert_allclose(kernel @ kernel.T, 0.25 * 2.0 * np.eye(3), atol=1e-5)


def test_3x3_kernel_is_near_the_target_and_nearer_with_alternations():
    def spread(alternations):
        kernel = FourierOrthogonal((6, 6), alternations=alternations, seed=3)((3, 3, 2, 6))
        values = operator_singular_values(
            keras.ops.convert_to_numpy(kernel).astype("float64"), 6, 6) / np.sqrt(3.0)
        return values.min(), values.max()

    low, high = spread(1)  # a 3x3 crop of a 6x6 spectrum: a coarse start
    assert 0.25 < low < 1.0 < high < 1.5
    low8, high8 = spread(8)
    assert 0.75 < low8 < 1.0 < high8 < 1.15
    assert high8 - low8 < 0.6 * (high - low)


def test_seeds_and_refusals():
    first = keras.ops.convert_to_numpy(FourierOrthogonal(seed=4)((1, 1, 3, 3)))
    same = keras.ops.convert_to_numpy(FourierOrthogonal(seed=4)((1, 1, 3, 3)))
    other = keras.ops.convert_to_numpy(FourierOrthogonal(seed=5)((1, 1, 3, 3)))
    np.testing.assert_array_equal(first, same)
    assert not np.allclose(first, other)
    with pytest.raises(ValueError, match="spatial_shape=None"):
        FourierOrthogonal()((3, 3, 2, 2))
    with pytest.raises(ValueError, match="alternations=0"):
        FourierOrthogonal(alternations=0)

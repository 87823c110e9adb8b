"""The projection, checked on the dense operator with numpy."""

import numpy as np
import pytest

from keras_procrustes.ops import projection
from numpy_reference import circular_conv1d_matrix
from numpy_reference import operator_singular_values
from numpy_reference import project_conv1d
from numpy_reference import project_conv2d

ENGINES = [("svd", 10), ("newton_schulz", 30)]


def _tap_energy_share(kernel):
    """Largest share of the kernel's energy held by one spatial tap."""
    kernel = np.asarray(kernel, "float64")
    energy = (kernel**2).reshape(kernel.shape[0] * kernel.shape[1], -1).sum(1)
    return energy.max() / energy.sum()


def _log_deviation(kernel, n, target):
    values = operator_singular_values(np.asarray(kernel, "float64"), n, n)
    return np.abs(np.log(values / target)).max()


@pytest.mark.parametrize("engine, iterations", ENGINES)
@pytest.mark.parametrize("c_in, c_out", [(4, 8), (6, 3)])
def test_one_projection_of_1x1_kernel_is_exact(engine, iterations, c_in, c_out):
    kernel = np.random.default_rng(0).normal(size=(1, 1, c_in, c_out))
    projected = projection.project_kernel(
        kernel.astype("float32"), (4, 4), engine=engine, iterations=iterations
    )
    values = operator_singular_values(np.asarray(projected, "float64"), 4, 4)
    np.testing.assert_allclose(values, np.sqrt(max(c_out / c_in, 1)), atol=1e-4)


@pytest.mark.parametrize(
    "kernel_shape, expected",
    [
        ((1, 1, 3, 64), np.sqrt(64 / 3)),  # the paper's stem
        ((1, 1, 64, 128), np.sqrt(2.0)),  # the paper's transitions
        ((1, 1, 128, 64), 1.0),  # contracting: every value stays 1
        ((16, 16), 1.0),
        ((5, 8, 2), 1.0),
        ((8, 2), 1.0),
    ],
)
def test_default_target(kernel_shape, expected):
    assert projection.default_target(kernel_shape) == pytest.approx(expected)


@pytest.mark.parametrize("engine, iterations", ENGINES)
@pytest.mark.parametrize("c_in, c_out", [(4, 8), (8, 4), (5, 5)])
def test_dense_kernel_projects_to_its_scaled_polar_factor(
    engine, iterations, c_in, c_out
):
    kernel = np.random.default_rng(6).normal(size=(c_in, c_out))
    u, _, vh = np.linalg.svd(kernel, full_matrices=False)
    projected = projection.project_kernel(
        kernel.astype("float32"), target=1.5, engine=engine, iterations=iterations
    )
    assert tuple(projected.shape) == (c_in, c_out)
    np.testing.assert_allclose(np.asarray(projected), 1.5 * u @ vh, atol=1e-4)


@pytest.mark.parametrize("kernel_shape, length", [((3, 2, 4), 7), ((3, 4, 2), 8)])
def test_conv1d_projection_matches_numpy(kernel_shape, length):
    kernel = np.random.default_rng(7).normal(size=kernel_shape)
    target = projection.default_target(kernel_shape)
    got = projection.project_kernel(kernel.astype("float32"), (length,))
    assert tuple(got.shape) == kernel_shape
    expected = project_conv1d(kernel, length, target)
    np.testing.assert_allclose(np.asarray(got), expected, atol=1e-4)


def test_conv1d_k1_projection_is_exact_on_the_operator():
    kernel = np.random.default_rng(8).normal(size=(1, 3, 6))
    projected = projection.project_kernel(kernel.astype("float32"), (5,))
    values = np.linalg.svd(
        circular_conv1d_matrix(np.asarray(projected, "float64"), 5),
        compute_uv=False,
    )[: 5 * 3]
    np.testing.assert_allclose(values, np.sqrt(2.0), atol=1e-4)


def test_repeated_conv1d_projection_converges():
    kernel = np.random.default_rng(9).normal(size=(3, 2, 4)).astype("float32")
    target = np.sqrt(2.0)

    def log_deviation(k):
        matrix = circular_conv1d_matrix(np.asarray(k, "float64"), 8)
        values = np.linalg.svd(matrix, compute_uv=False)[: 8 * 2]
        return np.abs(np.log(values / target)).max()

    deviations = [log_deviation(kernel)]
    projected = kernel
    for _ in range(3):
        for _ in range(10):
            projected = projection.project_kernel(projected, (8,))
        deviations.append(log_deviation(projected))
    assert all(b < a for a, b in zip(deviations, deviations[1:]))
    assert deviations[-1] < 0.05 * deviations[0]


def test_repeated_3x3_projection_converges_without_collapse():
    kernel = np.random.default_rng(1).normal(size=(3, 3, 3, 8)).astype("float32")
    target = np.sqrt(8 / 3)
    deviations = [_log_deviation(kernel, 8, target)]
    projected = kernel
    for _ in range(3):
        for _ in range(10):
            projected = projection.project_kernel(projected, (8, 8))
        deviations.append(_log_deviation(projected, 8, target))
    # Each round of ten projections moves every singular value closer.
    assert all(b < a for a, b in zip(deviations, deviations[1:]))
    assert deviations[-1] < 0.05 * deviations[0]
    # The energy stays spread over the 9 taps (uniform would be 1/9).
    assert _tap_energy_share(projected) < 0.35


def test_authors_conjugate_bug_collapses_3x3_kernel_onto_one_tap():
    kernel = np.random.default_rng(1).normal(size=(3, 3, 3, 8)).astype("float32")
    projected = kernel
    for _ in range(3):
        projected = projection.project_kernel(projected, (8, 8), conjugate_bug=True)
    assert _tap_energy_share(projected) > 0.95
    assert _tap_energy_share(np.asarray(projected)[::-1, ::-1]) > 0.95


@pytest.mark.parametrize("engine, iterations, tolerance", [
    ("svd", 10, 1e-4), ("newton_schulz", 30, 1e-3)])
def test_each_engine_projects_a_3x3_kernel_as_numpy_does(engine, iterations, tolerance):
    kernel = np.random.default_rng(2).normal(size=(3, 3, 3, 8))
    reference = project_conv2d(kernel, 8, 8, np.sqrt(8 / 3))
    got = projection.project_kernel(
        kernel.astype("float32"), (8, 8), engine=engine, iterations=iterations)
    np.testing.assert_allclose(np.asarray(got), reference, atol=tolerance)


@pytest.mark.parametrize("engine, iterations", ENGINES)
@pytest.mark.parametrize("scale", [1e-30, 1e18, 1e20, 1e30, 1e37])
def test_projection_does_not_depend_on_the_kernel_scale(engine, iterations, scale):
    # Squares of the entries (or of their FFT) leave float32's range at these
    # scales; the polar factor does not depend on the scale. At 1e37 a float32
    # SVD of the 8x8 kernel returned zeros.
    rng = np.random.default_rng(8)
    square = rng.normal(size=(1, 1, 8, 8))
    projected = projection.project_kernel(
        (square * scale).astype("float32"), (2, 2), target=1.0,
        engine=engine, iterations=iterations,
    )
    u, _, vh = np.linalg.svd(square[0, 0])
    np.testing.assert_allclose(np.asarray(projected)[0, 0], u @ vh, atol=1e-4)
    wide = rng.normal(size=(1, 1, 32, 32))
    projected = projection.project_kernel(
        (wide * scale).astype("float32"), (2, 2), target=1.0,
        engine=engine, iterations=iterations,
    )
    values = operator_singular_values(np.asarray(projected, "float64"), 2, 2)
    np.testing.assert_allclose(values, 1.0, atol=1e-4)
    kernel = rng.normal(size=(3, 3, 2, 4))
    projected = projection.project_kernel(
        (kernel * scale).astype("float32"), (5, 5), target=1.0,
        engine=engine, iterations=iterations,
    )
    reference = project_conv2d(kernel, 5, 5, 1.0)
    np.testing.assert_allclose(np.asarray(projected), reference, atol=1e-4)


@pytest.mark.parametrize("engine, iterations", ENGINES)
@pytest.mark.parametrize("size", [1, 3])
def test_zero_kernel_projects_to_zero_without_nan(engine, iterations, size):
    kernel = np.zeros((size, size, 4, 8), "float32")
    projected = np.asarray(
        projection.project_kernel(kernel, (6, 6), engine=engine, iterations=iterations)
    )
    assert np.all(np.isfinite(projected))
    assert np.all(projected == 0)


@pytest.mark.parametrize(
    "engine, iterations, null_tolerance",
    # Newton-Schulz multiplies float32 round-off in the null space by up to
    # 1.5 per iteration; the SVD engine zeroes it.
    [("svd", 10, 1e-5), ("newton_schulz", 30, 0.05)],
)
def test_rank_deficient_1x1_kernel_keeps_its_rank(engine, iterations, null_tolerance):
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(6, 2)) @ rng.normal(size=(2, 8))  # rank 2
    kernel = matrix.reshape(1, 1, 6, 8).astype("float32")
    projected = projection.project_kernel(
        kernel, (3, 3), target=2.0, engine=engine, iterations=iterations
    )
    values = np.linalg.svd(np.asarray(projected, "float64")[0, 0], compute_uv=False)
    assert np.all(np.isfinite(values))
    np.testing.assert_allclose(values[:2], 2.0, atol=1e-3)
    np.testing.assert_allclose(values[2:], 0.0, atol=null_tolerance)


def test_projection_keeps_dtype_and_shape():
    kernel = np.random.default_rng(4).normal(size=(3, 3, 2, 4)).astype("float16")
    projected = projection.project_kernel(kernel, (5, 5))
    assert tuple(projected.shape) == (3, 3, 2, 4)
    assert "float16" in str(projected.dtype)


def test_conjugate_bug_mode_equals_the_authors_algorithm():
    # benchmarks/projection.py rewrites the authors' algorithm independently
    # (all frequencies, real 2c form, coupled Newton-Schulz on K^T K, the
    # complex matrix rebuilt as K11 - i K12). Our named reproduction mode
    # must give the same kernel; our default must not.
    from projection import authors_projection  # benchmarks/, on pytest's pythonpath

    kernel = np.random.default_rng(5).normal(size=(3, 3, 3, 8)).astype("float32")
    target = np.sqrt(8 / 3)
    authors = np.asarray(authors_projection(kernel, (8, 8), target))
    reproduced = np.asarray(projection.project_kernel(kernel, (8, 8), conjugate_bug=True))
    correct = np.asarray(projection.project_kernel(kernel, (8, 8)))
    np.testing.assert_allclose(reproduced, authors, atol=1e-4)
    assert np.abs(correct - authors).max() > 0.1


def _stem_spread(alternations):
    """(min, max) singular value over the target of a projected 3x3 kernel."""
    kernel = np.random.default_rng(5).normal(size=(3, 3, 2, 6)).astype("float32")
    target = np.sqrt(3.0)
    projected = projection.project_kernel(kernel, (6, 6), alternations=alternations)
    values = operator_singular_values(np.asarray(projected, "float64"), 6, 6) / target
    return values.min(), values.max()


def test_alternations_narrow_the_spread_of_a_3x3_kernel():
    spreads = [_stem_spread(n) for n in (1, 2, 4, 8)]
    widths = [high - low for low, high in spreads]
    assert all(b < a for a, b in zip(widths, widths[1:])), widths
    assert widths[-1] < 0.5 * widths[0]


def test_one_alternation_is_the_single_projection():
    kernel = np.random.default_rng(6).normal(size=(3, 3, 2, 4)).astype("float32")
    once = projection.project_kernel(kernel, (5, 5))
    np.testing.assert_array_equal(
        np.asarray(projection.project_kernel(kernel, (5, 5), alternations=1)), np.asarray(once))
    # Two alternations are one projection applied to the first's result.
    again = projection.project_kernel(np.asarray(once), (5, 5))
    np.testing.assert_allclose(
        np.asarray(projection.project_kernel(kernel, (5, 5), alternations=2)),
        np.asarray(again), atol=1e-5)


def test_alternations_leave_a_1x1_kernel_unchanged():
    kernel = np.random.default_rng(7).normal(size=(1, 1, 4, 8)).astype("float32")
    once = np.asarray(projection.project_kernel(kernel, (4, 4)))
    many = np.asarray(projection.project_kernel(kernel, (4, 4), alternations=4))
    np.testing.assert_array_equal(many, once)
    values = operator_singular_values(many.astype("float64"), 4, 4)
    np.testing.assert_allclose(values, np.sqrt(2.0), atol=1e-5)

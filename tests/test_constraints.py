"""`ProcrustesProjection` as a Keras constraint."""

import keras
import numpy as np
import pytest

from keras_procrustes import spectral
from keras_procrustes.constraints import ProcrustesProjection
from keras_procrustes.constraints import projection_draw


def test_direct_call_projects_to_default_target():
    kernel = np.random.default_rng(0).normal(size=(1, 1, 4, 8)).astype("float32")
    constraint = ProcrustesProjection((4, 4))
    values = np.asarray(spectral.conv_singular_values(constraint(kernel), (4, 4)))
    np.testing.assert_allclose(values, np.sqrt(2.0), atol=1e-5)


def test_target_and_target_scale():
    kernel = np.random.default_rng(1).normal(size=(1, 1, 4, 8)).astype("float32")
    scaled = ProcrustesProjection((4, 4), target_scale=0.5)(kernel)
    fixed = ProcrustesProjection((4, 4), target=3.0)(kernel)
    for projected, target in [(scaled, 0.5 * np.sqrt(2.0)), (fixed, 3.0)]:
        values = np.asarray(spectral.conv_singular_values(projected, (4, 4)))
        np.testing.assert_allclose(values, target, atol=1e-5)


def test_draw_projects_the_asked_fraction_of_steps():
    steps = keras.ops.arange(4096)
    for seed in (0, 7):
        draws = np.asarray(projection_draw(steps, seed))
        assert len(np.unique(draws)) == 4096  # every residue once
        for probability in (0.1, 0.5, 0.9):
            window = draws[:400] < probability
            assert abs(window.mean() - probability) < 0.01
    shifted = np.asarray(projection_draw(steps, 1))
    assert not np.array_equal(shifted, np.asarray(projection_draw(steps, 0)))


def _fit_conv(probability, steps=3):
    """A 1x1 conv under the constraint, trained `steps` SGD steps.

    A 1x1 projection is exact, so a projected kernel is a fixed point.

    Returns:
        `(layer, constraint)`.
    """
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8 * steps, 6, 6, 4)).astype("float32")
    y = rng.normal(size=(8 * steps, 6, 6, 8)).astype("float32")
    constraint = ProcrustesProjection((6, 6), probability=probability)
    conv = keras.layers.Conv2D(8, 1, use_bias=False, kernel_constraint=constraint)
    model = keras.Sequential([keras.Input((6, 6, 4)), conv])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    return conv, constraint


def _distance_to_projection(conv, constraint):
    """Relative distance between the kernel and its projection."""
    kernel = keras.ops.convert_to_numpy(conv.kernel)
    again = keras.ops.convert_to_numpy(constraint.project(kernel))
    return np.linalg.norm(again - kernel) / np.linalg.norm(kernel)


def test_probability_one_projects_after_every_step():
    conv, constraint = _fit_conv(1.0)
    assert _distance_to_projection(conv, constraint) < 1e-5


def test_probability_zero_never_projects_in_fit():
    conv, constraint = _fit_conv(0.0)
    assert _distance_to_projection(conv, constraint) > 0.05


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 5])
def test_half_probability_follows_the_step_draw(steps):
    conv, constraint = _fit_conv(0.5, steps=steps)
    last_step_projected = float(projection_draw(steps - 1, 0)) < 0.5
    projected = _distance_to_projection(conv, constraint) < 1e-5
    assert projected == last_step_projected


def test_config_round_trip():
    constraint = ProcrustesProjection(
        (8, 6), target_scale=0.9, probability=0.25, engine="newton_schulz",
        iterations=7, seed=3, conjugate_bug=True,
    )
    restored = keras.constraints.deserialize(keras.constraints.serialize(constraint))
    assert isinstance(restored, ProcrustesProjection)
    assert restored.get_config() == constraint.get_config()
    assert restored.spatial_shape == (8, 6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"probability": 1.5}, "probability=1.5"),
        ({"engine": "qr"}, "engine='qr'"),
        ({"iterations": 0}, "iterations=0"),
        ({"target": -1.0}, "target=-1.0"),
        ({"target_scale": 0}, "target_scale=0"),
        ({"spatial_shape": (0, 4)}, r"spatial_shape=\(0, 4\)"),
    ],
)
def test_bad_options_name_the_value(kwargs, message):
    kwargs = {"spatial_shape": (8, 8), **kwargs}
    with pytest.raises(ValueError, match=message):
        ProcrustesProjection(**kwargs)


def test_kernel_larger_than_fft_size_is_refused():
    with pytest.raises(ValueError, match=r"spatial_shape=\(2, 2\)"):
        ProcrustesProjection((2, 2))(np.ones((3, 3, 2, 2), "float32"))


def test_rank_2_weight_is_refused():
    with pytest.raises(ValueError, match=r"shape=\(4, 8\)"):
        ProcrustesProjection((2, 2))(np.ones((4, 8), "float32"))

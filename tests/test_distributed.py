"""The constraint under `tf.distribute.MirroredStrategy` (TensorFlow only)."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_procrustes.constraints import projection_draw

pytestmark = [
    pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                       reason="MirroredStrategy is TensorFlow's"),
    pytest.mark.multiprocess,
]

SCRIPT = os.path.join(os.path.dirname(__file__), "children", "mirrored_fit.py")


def _run(probability, steps):
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(
        [sys.executable, SCRIPT, str(probability), str(steps)],
        capture_output=True, text=True, timeout=600, env=env, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("steps", [4, 5])
def test_replicas_hold_identical_kernels_projected_as_drawn(steps):
    # With probability 0.5 the replicas must agree on every draw. The last
    # step's draw is 0.85 after 4 steps (no projection) and 0.47 after 5.
    report = _run(0.5, steps)
    assert report["replicas"] == 2
    last_projects = float(projection_draw(steps - 1, 0)) < 0.5
    for name in ("transition1", "transition2"):
        layer = report[name]
        assert layer["replica_difference"] == 0.0
        on_target = (
            abs(layer["min_singular_value"] - np.sqrt(2)) < 1e-4
            and abs(layer["max_singular_value"] - np.sqrt(2)) < 1e-4
        )
        assert on_target == last_projects
    assert report["stem_conv"]["replica_difference"] == 0.0

"""The skips CI allows: each a stated backend limit, with its count per backend.

`tests/conftest.py` checks a run under `CI=true` against `SKIPS`: a skip
for a reason not listed for the backend (a missing data set, extra, mount
or network, or a new limit) fails the session, and so does a whole-suite run
whose count for a reason differs. A new skip is a decision: add its reason
and count here.
"""

_TENSORFLOW = "checked on TensorFlow"
_SOCKETS = "plain sockets, the same on every backend: run in the TensorFlow pass (CI's time)"
_CROSS = "starts every backend itself; run in the TensorFlow pass"
_WHEEL = "a fresh venv and an install from the registry: run once, on the TensorFlow pass"
_IMPORTS = "imports every module, whatever the backend: once, on TensorFlow"
_COMMANDS = "the commands end to end on TensorFlow"
_ORACLES = "oracle logic checked on TensorFlow"
_TUNER_JOB = "keras-tuner's distributed search checked on TensorFlow"
_MIRRORED = "MirroredStrategy is TensorFlow's"
_JAX_JOB = "a job of processes is JAX's"
_JAX_PASS = ("backend-neutral (the suite starts its own JAX and torch processes): runs in the "
             "KERAS_BACKEND=jax pass only")
_QUICK_START = "the quick start trains on TensorFlow, the [train] extra's backend"
_TUNE_ON_JAX_TORCH = "the tune command end to end on JAX and torch (on TensorFlow above)"
_TUNE_STOPPED = "the tune command stopped, killed and resumed on TensorFlow"
_COUNTS = "counted in the TensorFlow pass"
_SITE = "runs in the TensorFlow pass: the site does not depend on the backend"
_SOURCE = "reads the source: the same on every backend, run in the TensorFlow pass"
_FLOCK = "an flock, the same on every backend: run in the TensorFlow pass"
_COMMAND_CHILD = "one backend's pass starts the command (its child runs TensorFlow)"

# Per backend: reason -> the number of tests a whole-suite run skips for it.
SKIPS = {
    "tensorflow": {
        "JAX's CPU devices": 1,
        "TF_CONFIG ignored on JAX and torch": 1,
        _JAX_JOB: 9,
        _JAX_PASS: 5,
        "counts jax.vjp residuals": 1,
        "float64 works on this backend": 1,
        "keras.distribution on JAX": 6,
        "on TensorFlow the whole case, resume included, runs below": 1,
        "torch trains on one device": 1,
        _TUNE_ON_JAX_TORCH: 1,
    },
    "jax": {
        "ResNet50V2 by hand on TensorFlow and torch (JAX: the two-block model)": 1,
        "JAX computes float64 with JAX_ENABLE_X64=1 only": 2,
        "Keras computes float64 as float32 on JAX": 4,
        "Keras' LiteRT export runs on TensorFlow and PyTorch only": 2,
        "JAX resumes in tests/test_multiprocess.py": 4,
        "MirroredStrategy": 1,
        _MIRRORED: 2,
        "TensorFlow's TF_CONFIG": 1,
        _WHEEL: 1,
        _TENSORFLOW: 2,
        _QUICK_START: 1,
        _IMPORTS: 1,
        _TUNER_JOB: 2,
        _ORACLES: 3,
        _SOCKETS: 9,
        _CROSS: 15,
        _COMMANDS: 5,
        _TUNE_STOPPED: 1,
        "torch trains on one device": 1,
        _COUNTS: 21,  # tests/test_hub.py 14, tests/test_presets.py 7
        _SITE: 9,
        _SOURCE: 2,
        _COMMAND_CHILD: 2,
        _FLOCK: 1,
    },
    "torch": {
        "JAX's CPU devices": 1,
        "Keras runs torch eagerly (no traced optimizer step)": 1,
        "Keras' LiteRT export from PyTorch needs litert-torch (not in the [export] extra)": 2,
        "Keras' SavedModel export from PyTorch needs torch_xla": 2,
        "MirroredStrategy": 1,
        _MIRRORED: 2,
        "TensorFlow's TF_CONFIG": 1,
        _WHEEL: 1,
        _JAX_JOB: 9,
        _JAX_PASS: 5,
        _TENSORFLOW: 2,
        "counts jax.vjp residuals": 1,
        "float64 works on this backend": 1,
        _IMPORTS: 1,
        _TUNER_JOB: 2,
        "keras.distribution on JAX": 6,
        _ORACLES: 3,
        _SOCKETS: 9,
        _CROSS: 15,
        _COMMANDS: 5,
        _QUICK_START: 1,
        _TUNE_STOPPED: 1,
        _COUNTS: 21,  # tests/test_hub.py 14, tests/test_presets.py 7
        _SITE: 9,
        _SOURCE: 2,
        _COMMAND_CHILD: 2,
        _FLOCK: 1,
    },
}


def compare(backend, skipped, whole_suite):
    """What differs between a run's skips and the table.

    Args:
        backend: the Keras backend of the run.
        skipped: a mapping of reason -> tests skipped for it.
        whole_suite: whether every test was selected (counts are compared
            only then).

    Returns:
        One line per difference; empty when the run's skips are allowed.
    """
    allowed = SKIPS[backend]
    lines = [f"not a stated limit on {backend}: {count} skipped for {reason!r}"
             for reason, count in sorted(skipped.items()) if reason not in allowed]
    if whole_suite:
        lines += [f"on {backend}, {skipped.get(reason, 0)} skipped for {reason!r}, "
                  f"tests/skip_table.py says {count}"
                  for reason, count in sorted(allowed.items())
                  if skipped.get(reason, 0) != count]
    return lines

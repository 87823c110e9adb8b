"""A run folder's manifest, `keras_procrustes_run.json`: what the run is and what state it is in.

`claim` makes a folder a run folder by writing it; `mark` and `finish`
record the run's status (`STATUSES`); `read_manifest` and
`recorded_options` read it back for a rerun.
"""

import os
import time

from keras_procrustes.models import names
from keras_procrustes.training.errors import RunStateError
from keras_procrustes.training.run import atomic
from keras_procrustes.training.run import backup as backups
from keras_procrustes.training.run import history
from keras_procrustes.training.run import names as run_names
from keras_procrustes.training.run.names import HISTORY
from keras_procrustes.training.run.names import MANIFEST

# A manifest's status: "running" while a process trains, "interrupted" after a
# Ctrl-C (both resume), "finished".
STATUSES = ("running", "interrupted", "finished")


# Manifests record canonical model names (`procresnet166`,
# `resnet164_baseline`) under `"model_names": 2`; a manifest without it names
# its model with the old names (`resnet164`: the baseline; `names.old_meaning`).
MODEL_NAMES = 2


def read_manifest(path):
    """The manifest of a run folder, or `None` when `path` is not one.

    Args:
        path: a folder.

    Returns:
        The manifest (a dict) or `None`.

    Raises:
        RunStateError: for a manifest that can't be read or is not valid.
    """
    manifest_path = os.path.join(path, MANIFEST)
    if not os.path.exists(manifest_path):
        return None
    manifest = atomic.read_json(manifest_path, "the run manifest")
    if not isinstance(manifest, dict) or manifest.get("status") not in STATUSES:
        raise RunStateError(f"the run manifest {manifest_path} is not valid")
    return manifest


def recorded_options(manifest):
    """A manifest's run options, its model under its canonical name."""
    recorded = dict(manifest.get("options", {}))
    model = recorded.get("model")
    if manifest.get("model_names") != MODEL_NAMES and isinstance(model, str):
        recorded["model"] = names.legacy_canonical_name(model)
    return recorded


def claim(run, options, details):
    """Makes the run folder, writes its manifest, and trims a resumed history.

    Args:
        run: the `RunPlan`.
        options: the run-defining options.
        details: more facts to record (backend, replicas, global batch).
    """
    os.makedirs(run.path, exist_ok=True)
    manifest = read_manifest(run.path) or {"created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    manifest.update(status="running", kind="train", options=options, model_names=MODEL_NAMES,
                    **details)
    atomic.write_json(os.path.join(run.path, MANIFEST), manifest)
    history.trim(os.path.join(run.path, HISTORY), run.first_epoch)


def mark(run_dir, status):
    """Writes `status` (one of `STATUSES`) into the run's manifest."""
    manifest = read_manifest(run_dir)
    manifest["status"] = status
    atomic.write_json(os.path.join(run_dir, MANIFEST), manifest)


def finish(run_dir, metrics):
    """Writes `metrics.json`, marks the run finished, deletes its backup."""
    atomic.write_json(os.path.join(run_dir, run_names.METRICS), metrics)
    mark(run_dir, "finished")
    backups.remove_backup(os.path.join(run_dir, run_names.BACKUP_DIR))

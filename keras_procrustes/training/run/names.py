"""Every file name the package writes in a run folder or a search project.

A run folder: its manifest, `history.csv`, `metrics.json`, `best.keras`
with its record, the epoch backup, the lock. A search project: its mark,
its lock and the workers' locks, and the files keras-tuner writes there.
The package deletes only files of these names (and its temporary
`*.partial` files), so a user's files beside them are never touched.
"""

import re

# A run folder's files.
MANIFEST = "keras_procrustes_run.json"
HISTORY = "history.csv"  # Keras' CSVLogger
METRICS = "metrics.json"  # written when the run finishes
BEST_MODEL = "best.keras"
BEST_PARTIAL = "best.partial.keras"  # best.keras while it is written
BEST_METADATA = "best.json"  # what best.keras is (epoch, accuracy)
BACKUP_DIR = "backup"
BACKUP_METADATA = "backup.json"  # names the backup's weights file, written last
BACKUP_WEIGHTS = re.compile(r"epoch-\d{4,}\.weights\.h5")

# The lock of a run folder or a search project.
LOCK_FILE = "keras_procrustes.lock"

# A search project's files: the package's mark and best model, a worker's
# lock (`WORKER_LOCK.format(worker_id)`), and what keras-tuner writes there.
SEARCH_MARKER = "keras_procrustes_tuning.json"
BEST_HYPERPARAMETERS = "best_hyperparameters.json"
WORKER_LOCK = "worker-{}.lock"
WORKER_LOCKS = re.compile(r"worker-[A-Za-z0-9_-]+\.lock")
SEARCH_FILES = re.compile(
    r"oracle\.json|tuner\d*\.json|chief\.json|worker-[A-Za-z0-9_-]+\.json|trial_\d+|"
    r"tensorboard|" + "|".join(re.escape(name) for name in (
        BEST_MODEL, BEST_HYPERPARAMETERS, SEARCH_MARKER, LOCK_FILE))
    + "|" + WORKER_LOCKS.pattern)

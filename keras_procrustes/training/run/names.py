"""Every file name the package writes in a run folder or a search project.

A run folder (`folder`): its manifest, `history.csv`, `best.keras` with its
record, the epoch backup, the lock. A search project (`search`): its mark.
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

# The mark of a search's project folder.
SEARCH_MARKER = "keras_procrustes_tuning.json"

"""A run's folder on disk: what it holds, who writes it, and how a rerun reads it.

- `names`: every file name the package writes in a run folder or a search
  project (the only files it ever deletes).
- `folder`: the plan of a run (new, resumed, numbered) and the checks a
  rerun passes (same model, same options, same replicas).
- `manifest`: `keras_procrustes_run.json`, what the run is and its status
  (`running`, `interrupted`, `finished`).
- `lock`: one writer per folder (`flock`, dropped when the process ends).
- `atomic`: files written under a temporary name and moved into place.
- `backup`: the epoch backup and the best model's record, read and checked.
- `history`: `history.csv`, checked and trimmed before a resume.
"""

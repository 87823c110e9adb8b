"""The commands: `keras-procrustes-train` and `keras-procrustes-tune`.

Argument parsing and exit codes only; the work is done by
`keras_procrustes.training`.
"""

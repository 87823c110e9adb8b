"""Every error of the training side, and how the commands spell it.

Options: the library shows an `OptionError` as `lr=nan: ...`, the commands
as `--lr nan: ...` (`for_command_line`). A run's state: `RunStateError`
(a run folder or its files can't be used) and its kinds. A stop:
`RunInterrupted` (Ctrl-C, a `KeyboardInterrupt`).
"""

import errno
import re


class OptionError(ValueError):
    """A bad option value.

    Attributes:
        option: the option's name, as in `TrainingConfig`.
        value: the value received.
        requirement: what the value must be.
    """

    def __init__(self, option, value, requirement):
        self.option, self.value, self.requirement = option, value, requirement
        super().__init__(f"{option}={value!r}: {requirement}")

    def for_command_line(self):
        """The message as `--option value: requirement`."""
        return f"--{self.option.replace('_', '-')} {self.value}: {self.requirement}"


class EnvironmentOptionError(OptionError):
    """A bad value of an environment variable (e.g. `TF_CONFIG`).

    The command shows it as `NAME=value: requirement`.
    """

    def for_command_line(self):
        """The message as `NAME=value: requirement`."""
        return f"{self.option}={self.value}: {self.requirement}"


class FlagError(OptionError):
    """A flag (an option without a value, or one needing another) used wrongly.

    The command shows it as `--option: requirement`, e.g. `--chief needs
    --oracle HOST:PORT`.
    """

    def for_command_line(self):
        """The message as `--option requirement`."""
        return f"--{self.option.replace('_', '-')} {self.requirement}"


def address_problem(address, what):
    """Why `address` is not `HOST:PORT` (port 1-65535), or `None` when it is.

    Args:
        address: the value to check (any type).
        what: what the address is, for the message (e.g. "of process 0").

    Returns:
        A requirement string, or `None`.
    """
    host, _, port = str(address).rpartition(":")
    if address is None or not host or not re.fullmatch(r"\d{1,5}", port) \
            or not 0 < int(port) < 65536:
        return f"must be HOST:PORT {what} (port 1-65535)"
    return None


class RunStateError(Exception):
    """A run's saved state can't be used; the message says what to do."""


class DiskFullError(RunStateError):
    """The disk filled up while a file was written; the message names the file."""


class FolderBusyError(RunStateError):
    """Another process writes the folder; the message names it and the holder."""


def is_disk_full(error):
    """Whether `error` is an `OSError` of a full disk (`ENOSPC`, also as h5py words it)."""
    return isinstance(error, OSError) and (
        error.errno == errno.ENOSPC or "No space left on device" in str(error))


def disk_full(path):
    """The `DiskFullError` of a write of `path`."""
    return DiskFullError(f"the disk is full: {path} could not be written. The files written "
                         "before are intact: free some space and rerun the same command")


class RunInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C (a `KeyboardInterrupt`); the message says where.

    Attributes:
        run_dir: the run's folder, to resume in.
        epoch: the epoch that was running (1-based).
        epochs_done: the epochs its backup holds (0: none).
    """

    def __init__(self, run_dir, epoch, epochs, epochs_done):
        self.run_dir, self.epoch, self.epochs_done = run_dir, epoch, epochs_done
        if epochs_done:
            kept = f"the backup of epoch {epochs_done} in {run_dir} is kept"
        else:
            kept = f"no epoch had finished, so {run_dir} has no backup"
        super().__init__(f"interrupted in epoch {epoch} of {epochs}; {kept}")

    def __str__(self):
        return self.args[0]

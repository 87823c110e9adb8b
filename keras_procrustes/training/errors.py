"""The training side's option errors, each with the spelling the commands show.

The library shows an `OptionError` as `lr=nan: ...`, the commands as
`--lr nan: ...` (`for_command_line`).
"""

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

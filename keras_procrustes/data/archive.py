"""Named files from a folder or a (compressed) tar archive, for the format readers."""

import os
import tarfile
import zlib

from keras_procrustes.data.datasets import DataSourceError

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")


class FileReader:
    """Reads named files from a folder or from a (compressed) tar archive.

    Args:
        path: a folder or an archive.

    Raises:
        DataSourceError: when `path` is an archive that can't be opened.
    """

    def __init__(self, path):
        self.path = path
        self._tar = None
        if os.path.isfile(path):
            try:
                self._tar = tarfile.open(path)
                self._members = {
                    os.path.basename(m.name): m
                    for m in self._tar.getmembers()
                    if m.isfile()
                }
            except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
                raise DataSourceError(
                    f"The archive {path} is corrupt or truncated ({error}). "
                    "Download it again."
                ) from error

    def has(self, name):
        """Whether the folder or archive holds a file called `name`."""
        if self._tar is not None:
            return name in self._members
        return os.path.isfile(os.path.join(self.path, name))

    def read(self, name):
        """The bytes of the file `name`.

        Raises:
            DataSourceError: when the file can't be read whole.
        """
        try:
            if self._tar is not None:
                return self._tar.extractfile(self._members[name]).read()
            with open(os.path.join(self.path, name), "rb") as handle:
                return handle.read()
        except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
            raise DataSourceError(
                f"Could not read {name} from {self.path}: it is corrupt or "
                f"truncated ({error}). Download it again."
            ) from error


def candidate_readers(path, inner_dirs):
    """Readers, one at a time, for `path` and the folders and archives in it.

    Args:
        path: a folder or an archive.
        inner_dirs: folders under `path` to look in (what the archives
            extract to, Keras' cache layout).

    Yields:
        `FileReader`s; an archive is opened only when its turn comes.
    """
    if os.path.isfile(path):
        yield FileReader(path)
        return
    candidates = [path] + [os.path.join(path, d) for d in inner_dirs if d]
    candidates += [
        os.path.join(path, entry)
        for entry in sorted(os.listdir(path))
        if entry.endswith(ARCHIVE_SUFFIXES)
    ]
    for candidate in candidates:
        if os.path.exists(candidate):
            yield FileReader(candidate)

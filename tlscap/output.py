"""Where a report goes: standard output, or a file written atomically.

A report file is written to a temporary file beside the target and renamed over it only once the
report is complete: on any error (a full disk, Ctrl-C, SIGTERM) the target is left as it was and the
temporary file is removed. A target that is not a regular file (`/dev/full`, a FIFO, /dev/stdout) is
written in place, as there is nothing to rename over it.

A write error (ENOSPC, EIO, EACCES, a closed pipe) becomes an `OutputError`: one line naming the
path and the cause, which the command line turns into exit status 2.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO, Any, BinaryIO, TextIO, cast

from tlscap.errors import TlscapError

STDOUT_NAME = "standard output"
# `-o -`: the report goes to standard output, as without -o.
STDOUT_ARG = "-"


class OutputError(TlscapError):
    """The report (or a file tlscap writes for it) could not be written; one line for the user."""

    def __init__(self, path: str, cause: str) -> None:
        super().__init__(f"{path}: {cause}")
        self.path = path
        self.cause = cause


def describe(exc: OSError) -> str:
    """The cause of an I/O error in words (strerror, and the errno's name for the curious)."""
    if isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE:
        return "the reader closed the pipe before the report was complete"
    name = errno.errorcode.get(exc.errno or 0, "")
    text = exc.strerror or str(exc) or type(exc).__name__
    return f"{text} ({name})" if name else text


def io_error(path: str, exc: OSError, doing: str = "cannot write the report") -> OutputError:
    return OutputError(path, f"{doing}: {describe(exc)}")


class GuardedStream:
    """A text stream whose write errors are `OutputError`s naming `name`."""

    def __init__(self, stream: TextIO, name: str) -> None:
        self._stream = stream
        self.name = name
        self.failed: OutputError | None = None

    def _fail(self, exc: OSError) -> OutputError:
        self.failed = io_error(self.name, exc)
        return self.failed

    def write(self, text: str) -> int:
        if self.failed is not None:
            raise self.failed
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise self._fail(exc) from None

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self.failed is not None:
            raise self.failed
        try:
            self._stream.flush()
        except OSError as exc:
            raise self._fail(exc) from None

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._stream, attr)


def file_identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of the file `path` names, links followed; None when there is none."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def refuse_input_as_output(output_path: str | None, inputs: Iterable[str]) -> None:
    """Refuse an output path that names one of the inputs (the same file by device and inode, so also
    through hard and symbolic links), before anything is opened for writing."""
    if output_path is None or output_path == STDOUT_ARG:
        return
    target = file_identity(output_path)
    if target is None:
        return
    try:
        if not stat.S_ISREG(os.stat(output_path).st_mode):
            return  # /dev/null, /dev/stdout, a FIFO: writing there destroys no input
    except OSError:
        return
    for path in inputs:
        if file_identity(path) == target:
            same = "" if os.path.abspath(path) == os.path.abspath(output_path) else f" (the same file as {path})"
            raise OutputError(output_path, f"is one of the inputs{same}; the report would destroy it; "
                                           "choose another -o")


def _stdout() -> TextIO:
    stream = sys.stdout
    if stream is None:
        raise OutputError(STDOUT_NAME, "is closed; give -o FILE to write the report to a file")
    try:
        os.fstat(stream.fileno())
    except (OSError, ValueError, io.UnsupportedOperation) as exc:
        if isinstance(exc, OSError) and exc.errno == errno.EBADF:
            raise OutputError(STDOUT_NAME, "is closed; give -o FILE to write the report to a file") from None
    return stream


def silence_stdout() -> None:
    """After standard output failed: point its descriptor at /dev/null so the interpreter's last flush
    at exit neither fails again nor prints a second message."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _new_file_mode(target: str) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def report_output(path: str | None) -> Iterator[TextIO]:
    """Standard output, or `path` written atomically (see the module's docstring). Write errors are
    OutputErrors naming the path. `-` (STDOUT_ARG) is standard output."""
    if path is None or path == STDOUT_ARG:
        guarded = GuardedStream(_stdout(), STDOUT_NAME)
        yield cast(TextIO, guarded)
        guarded.flush()
        return
    try:
        is_regular = not os.path.exists(path) or stat.S_ISREG(os.stat(path).st_mode)
    except OSError as exc:
        raise io_error(path, exc) from None
    if not is_regular:
        yield from cast(Iterator[TextIO], _in_place(path))
        return
    yield from cast(Iterator[TextIO], _atomic(path))


@contextlib.contextmanager
def binary_output(path: str, *, doing: str = "cannot write the capture") -> Iterator[BinaryIO]:
    """`report_output` for bytes (an annotated capture): `-` is standard output, a regular file is
    written atomically, anything else in place. Write errors are OutputErrors naming the path."""
    if path == STDOUT_ARG:
        stream = _stdout()
        guarded = GuardedStream(cast(TextIO, stream.buffer), STDOUT_NAME)
        yield cast(BinaryIO, guarded)
        guarded.flush()
        return
    try:
        is_regular = not os.path.exists(path) or stat.S_ISREG(os.stat(path).st_mode)
    except OSError as exc:
        raise io_error(path, exc, doing) from None
    if not is_regular:
        yield from cast(Iterator[BinaryIO], _in_place(path, binary=True))
        return
    yield from cast(Iterator[BinaryIO], _atomic(path, binary=True))


def _open_for_writing(target: str | int, binary: bool) -> IO[Any]:
    if binary:
        return open(target, "wb")  # noqa: SIM115 - the caller closes it
    return open(target, "w", encoding="utf-8", newline="")  # noqa: SIM115 - the caller closes it


def _in_place(path: str, *, binary: bool = False) -> Iterator[IO[Any]]:
    try:
        stream = _open_for_writing(path, binary)
    except OSError as exc:
        raise io_error(path, exc) from None
    guarded = GuardedStream(cast(TextIO, stream), path)
    try:
        yield cast(IO[Any], guarded)
        guarded.flush()
    finally:
        with contextlib.suppress(OSError):
            stream.close()


def _atomic(path: str, *, binary: bool = False) -> Iterator[IO[Any]]:
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tlscap-tmp", dir=folder)
    except OSError as exc:
        raise io_error(path, exc) from None
    done = False
    try:
        stream = _open_for_writing(fd, binary)
        try:
            guarded = GuardedStream(cast(TextIO, stream), path)
            yield cast(IO[Any], guarded)
            guarded.flush()
            try:
                os.fchmod(fd, _new_file_mode(path))
                os.fsync(fd)
            except OSError as exc:
                raise io_error(path, exc) from None
        finally:
            with contextlib.suppress(OSError):
                stream.close()
        try:
            os.replace(temp, path)
        except OSError as exc:
            raise io_error(path, exc) from None
        done = True
    finally:
        if not done:
            with contextlib.suppress(OSError):
                os.unlink(temp)

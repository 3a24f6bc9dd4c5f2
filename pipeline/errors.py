"""The error types that stages turn into a one-line message and a non-zero exit."""


class PipelineError(Exception):
    """A user-facing error: bad params, a bad data file or path, a missing input.

    Its message is one line that names what is wrong and what is allowed. The
    stage exits with `exit_code`: 2, the convention for a usage error, when
    the input is at fault and nothing was done.
    """

    exit_code = 2


class RunFailed(PipelineError):
    """The inputs were fine but the work failed (e.g. training diverged): exit 1."""

    exit_code = 1


def first_line(err: BaseException, limit: int = 200) -> str:
    """An exception's message as one line: its first line, or its type's name when empty."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:limit]


def typed_first_line(err: BaseException, limit: int = 200) -> str:
    """`Type: first line`, for a third party's error whose message alone may not say what failed."""
    kind = type(err).__name__
    message = first_line(err, limit)
    return (kind if message == kind else f"{kind}: {message}")[:limit]

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

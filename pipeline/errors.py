"""The error type that stages turn into a one-line message and a non-zero exit."""


class PipelineError(Exception):
    """A user-facing error: bad params, a bad data file or path, a missing input.

    Its message is one line that names what is wrong and what is allowed.
    """

"""The one exception type a user is meant to read."""


class ProbingError(Exception):
    """Bad input or configuration, with a message that says where and what to do.

    Entry points print it without a traceback: it reports a problem with the user's data or
    settings, not a bug in the code.
    """

"""The one exception type for bad input from a user."""


class UsageError(ValueError):
    """Input that the toolkit cannot use (a bad option, bad data, an unwritable folder).

    The command line prints its message as one line and exits with code 2;
    the message says what was wrong and what is allowed.
    """

"""The one exception type for user mistakes: the CLI prints it as one line and exits non-zero."""


class UserError(Exception):
    """Bad input or an unusable service: say what is wrong and where, no traceback."""

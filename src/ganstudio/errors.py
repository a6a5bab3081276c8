"""User-facing errors: one clear line naming the problem and the fix, never a traceback."""


class UserError(Exception):
    """Raised for bad input from the user (CLI flags, files, run folders).

    The CLI prints ``str(err)`` on one line and exits with status 2.
    """

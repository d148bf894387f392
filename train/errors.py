"""The one exception type the command line turns into a one-line message.

Anything a user can cause (bad settings, missing data, a folder made with another config)
raises :class:`DnError` with a sentence that says what is wrong and how to fix it.
"""


class DnError(Exception):
    """A user-facing error: the message is printed on one line, without a traceback."""

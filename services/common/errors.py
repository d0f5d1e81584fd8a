"""Errors that mean "the input is wrong", as opposed to a bug.

The CLI turns each into a one-line message and exit code 2; the HTTP API into a 4xx.
Messages name the file or field at fault, never patient words.
"""


class InputError(Exception):
    """Bad input from the user: the message is safe to show and to log."""


class ContextError(InputError):
    """A session context (CONTEXT.json) that is malformed or names something unknown."""


class AudioError(InputError):
    """Audio that cannot be decoded, is empty, or holds no samples."""


class RulesError(InputError):
    """A rules, code table or PTP file that is malformed; the message gives file and line."""


class TooLarge(InputError):
    """Input over a documented size limit (a body, a file, a decoded duration): HTTP 413."""

"""One line of text for an error: what the command-line tool, the data loader and the store print."""

from __future__ import annotations


def one_line(exc: BaseException, with_type: bool = False) -> str:
    """The whole message of ``exc`` on one line (its lines joined with ' | '), prefixed with the
    exception's type when ``with_type``; the type alone when the message is empty."""
    text = " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    if not text:
        return type(exc).__name__
    return f"{type(exc).__name__}: {text}" if with_type else text


def reason(exc: BaseException) -> str:
    """Why an operation failed, in a few words: an OSError's own text ('Permission denied'), else
    :func:`one_line` of the exception."""
    strerror = exc.strerror if isinstance(exc, OSError) else None
    return strerror or one_line(exc)


__all__ = ["one_line", "reason"]

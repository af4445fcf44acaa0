"""The one exception of the Python SDK: the same codes, messages and hints as every pyro surface."""

from typing import Any


class PyroError(Exception):
    """A failure with a stable ``code`` (e.g. ``WORKSPACE_NOT_FOUND``), a ``message`` naming the
    problem and a ``hint`` naming the fix. Tool errors from the server arrive as this; so do the
    SDK's own failures (``pyro`` missing or too old, a request timeout, a broken server)."""

    def __init__(
        self,
        code: str,
        message: str,
        hint: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.details = details

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}"
        return f"{text}\nhint: {self.hint}" if self.hint else text

    def __repr__(self) -> str:
        return f"PyroError({self.code!r}, {self.message!r}, hint={self.hint!r})"

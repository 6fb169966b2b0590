"""Errors the API layer turns into HTTP answers (422 / 409 / 404 / 403), raised by the services.

Each carries what a trader needs to fix the request: the field (``loc``) and the reason.
"""

from __future__ import annotations


class InvalidRequest(ValueError):
    """422: ``errors`` is a list of (loc, message); loc is a tuple like ("body", "legs", 0, "underlying")."""

    def __init__(self, errors: list[tuple[tuple, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in errors))

    @classmethod
    def field(cls, loc: tuple, message: str) -> "InvalidRequest":
        return cls([(loc, message)])


class Conflict(Exception):
    """409: the request is valid but the current state forbids it (``reasons`` explain why)."""

    def __init__(self, message: str, reasons: list[str] | None = None):
        super().__init__(message)
        self.reasons = reasons or []


class Forbidden(PermissionError):
    """403: the caller may not do this (e.g. the platform kill switch or a marketplace listing
    without the ADMIN Cognito group)."""

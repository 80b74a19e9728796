"""A typed client for the phase-memory HTTP service (standard library only)."""

from .client import (
    OPERATIONS,
    AuditRef,
    Client,
    Conflict,
    Denied,
    Diagnostic,
    Envelope,
    InvalidRequest,
    NotFound,
    PhaseMemoryError,
    ReviewRequired,
    ServerError,
    Unauthenticated,
)

__all__ = [
    "OPERATIONS",
    "AuditRef",
    "Client",
    "Conflict",
    "Denied",
    "Diagnostic",
    "Envelope",
    "InvalidRequest",
    "NotFound",
    "PhaseMemoryError",
    "ReviewRequired",
    "ServerError",
    "Unauthenticated",
]
__version__ = "0.1.0"

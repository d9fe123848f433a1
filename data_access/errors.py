"""Errors a user can cause; each message is a sentence a billing admin understands."""


class InvalidAction(ValueError):
    """The request breaks a business rule or carries bad input; nothing was written."""


class NotFound(InvalidAction):
    """The record named does not exist."""

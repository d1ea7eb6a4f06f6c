"""CSRF tokens for the forms: one per session, in a hidden field, compared in constant time."""

import hmac
import secrets

from flask import abort, request, session


def csrf_token() -> str:
    """Return the CSRF token of this session, for hidden form fields."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def check_csrf() -> None:
    """Refuse a form post whose token does not match the session's."""
    sent = request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="The form has expired. Reload the page and try again.")

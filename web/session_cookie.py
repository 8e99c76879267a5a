"""Flask's signed session cookie, marked Secure whenever the request came over HTTPS.

Production sets SESSION_COOKIE_SECURE for every response; elsewhere (a staging server behind TLS,
a developer trying HTTPS) a cookie set over HTTPS must not travel back over plain HTTP either.
"""

from __future__ import annotations

from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSessionInterface


class SecureOverHttpsSessionInterface(SecureCookieSessionInterface):
    """The cookie's Secure flag: the app's setting, or on for HTTPS requests."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)

"""Security headers on every response (pages, API, static files, errors), OWASP ASVS 14.4.

The Content-Security-Policy allows scripts and styles only from the app's own files: the templates
hold no inline script, event handler or style attribute, so an injected one does not run (a page
whose library builds a few fixed style attributes allows exactly those, by hash). HSTS is
sent in production only: a development server on plain HTTP must stay reachable.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000; includeSubDomains"


def allow_style_attributes(response: Response, values: Iterable[str], style_hashes: Iterable[str] = ()) -> Response:
    """The policy for a page whose front-end library builds markup with these exact style
    attributes (and style elements of these sha256 hashes): each is allowed by its hash
    ('unsafe-hashes' applies to style-src only, so inline scripts and event handlers stay
    refused, and any other style attribute or element is still blocked)."""
    digests = [base64.b64encode(hashlib.sha256(value.encode()).digest()).decode() for value in values]
    hashes = " ".join(f"'sha256-{digest}'" for digest in [*digests, *style_hashes])
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
        "style-src 'self'", f"style-src 'self' 'unsafe-hashes' {hashes}", 1)
    return response


def init_app(app: Flask, production: bool) -> None:
    """Add the headers to every response the app sends."""

    @app.after_request
    def _security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if production:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response

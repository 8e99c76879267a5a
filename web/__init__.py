"""The Flask application: thin views over the engine's use cases."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect

from engine.context import EngineContext, build_context
from engine.services.users import LOCALES
from web import errors, favicon, formatting, i18n, read_only, request_limits, security_headers
from web.auth import login_manager
from web.session_cookie import SecureOverHttpsSessionInterface

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
csrf = CSRFProtect()
babel = Babel()


def _select_locale() -> str:
    """The signed-in user's saved language; else the one chosen on the sign-in page; else the browser's."""
    from flask import request, session
    from flask_login import current_user

    if getattr(current_user, "is_authenticated", False) and current_user.actor.locale in LOCALES:
        return current_user.actor.locale
    if session.get("locale") in LOCALES:
        return str(session["locale"])
    return request.accept_languages.best_match(list(LOCALES)) or "en"


def create_app(test_config: dict | None = None, context: EngineContext | None = None) -> Flask:
    """The only way an app is made; tests pass their own engine context and config."""
    app = Flask(__name__)
    ctx = context or build_context()
    app.config.update(
        SECRET_KEY=ctx.settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=ctx.settings.production,
        WTF_CSRF_TIME_LIMIT=None,
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
        MAX_CONTENT_LENGTH=ctx.settings.max_body_bytes,  # larger bodies are refused with 413
    )
    app.config.update(test_config or {})
    app.extensions["serviceflow"] = ctx
    app.session_interface = SecureOverHttpsSessionInterface()
    security_headers.init_app(app, production=ctx.settings.production)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale)
    login_manager.init_app(app)
    formatting.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    request_limits.init_app(app)
    read_only.init_app(app)
    favicon.init_app(app)
    _register_blueprints(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from web.admin import bp as admin_bp
    from web.api import bp as api_bp
    from web.auth import bp as auth_bp
    from web.case_history import bp as case_history_bp
    from web.cases import bp as cases_bp
    from web.customers import bp as customers_bp
    from web.form_preview import bp as form_preview_bp
    from web.inbox import bp as inbox_bp
    from web.migrations import bp as migrations_bp
    from web.modeler import bp as modeler_bp
    from web.models import bp as models_bp
    from web.procedure import bp as procedure_bp
    from web.tasks import bp as tasks_bp
    from web.vendor import bp as vendor_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(inbox_bp)
    app.register_blueprint(tasks_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(case_history_bp)
    app.register_blueprint(customers_bp)
    app.register_blueprint(form_preview_bp)
    app.register_blueprint(procedure_bp)
    app.register_blueprint(models_bp)
    app.register_blueprint(migrations_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(vendor_bp)
    app.register_blueprint(modeler_bp)
    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)

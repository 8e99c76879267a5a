"""Settings read from the environment, in one place, with typed parsing that fails loudly."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from engine.data_limits import DataLimits
from engine.errors import ServiceFlowError


class ConfigError(ServiceFlowError):
    """A setting is missing or malformed; the message names the variable."""


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from exc


def _positive(name: str, default: int) -> int:
    value = _int(name, default)
    if value < 1:
        raise ConfigError(f"{name} must be a positive integer, not {value}")
    return value


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false (1/0, yes/no, on/off), not {raw!r}")


@dataclass(frozen=True)
class MailSettings:
    """Where notification mail goes; without ``host`` it stays in the outbox for admins to read."""

    host: str = ""
    port: int = 25
    user: str = ""
    password: str = ""
    starttls: bool = False
    sender: str = "serviceflow@localhost"
    base_url: str = "http://127.0.0.1:5000"
    catalogs: Path | None = None  # the interface's gettext catalogs, which hold the mail's text too

    @property
    def smtp_configured(self) -> bool:
        return bool(self.host)

    @classmethod
    def from_env(cls) -> MailSettings:
        return cls(
            host=os.environ.get("SMTP_HOST", ""),
            port=_int("SMTP_PORT", 25),
            user=os.environ.get("SMTP_USER", ""),
            password=os.environ.get("SMTP_PASSWORD", ""),
            starttls=_bool("SMTP_STARTTLS", False),
            sender=os.environ.get("MAIL_FROM") or "serviceflow@localhost",
            base_url=(os.environ.get("SERVICEFLOW_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
            catalogs=project_root() / "web" / "translations",
        )


@dataclass(frozen=True)
class AuthSettings:
    """Sessions and sign-in throttling (OWASP ASVS 2.2 and 3.3); minutes unless named otherwise."""

    session_idle_minutes: int = 30
    session_max_hours: int = 12
    account_failures: int = 5  # wrong passwords for one username within the window lock it
    address_failures: int = 20  # wrong passwords from one client address within the window lock it
    failure_window_minutes: int = 15
    lock_minutes: int = 15

    @classmethod
    def from_env(cls) -> AuthSettings:
        return cls(
            session_idle_minutes=_int("SERVICEFLOW_SESSION_IDLE_MINUTES", cls.session_idle_minutes),
            session_max_hours=_int("SERVICEFLOW_SESSION_MAX_HOURS", cls.session_max_hours),
            account_failures=_int("SERVICEFLOW_SIGNIN_ACCOUNT_FAILURES", cls.account_failures),
            address_failures=_int("SERVICEFLOW_SIGNIN_ADDRESS_FAILURES", cls.address_failures),
            failure_window_minutes=_int("SERVICEFLOW_SIGNIN_WINDOW_MINUTES", cls.failure_window_minutes),
            lock_minutes=_int("SERVICEFLOW_SIGNIN_LOCK_MINUTES", cls.lock_minutes),
        )


@dataclass(frozen=True)
class AuditSettings:
    """Signed checkpoints (engine.audit.checkpoints). The signing key lives outside the database so
    that whoever administers the database cannot re-sign a rewritten history: ``key`` is the
    private key itself (PEM, from SERVICEFLOW_AUDIT_KEY), else ``key_file`` is read.
    ``create_key`` is set only for the development default under the instance folder, which is
    made on first use so that ``make run`` works out of the box."""

    key: str = ""
    key_file: Path | None = None
    create_key: bool = False
    checkpoint_dir: Path | None = None  # one JSON file per checkpoint, never overwritten
    checkpoint_minutes: int = 60  # how often the worker makes one; 0: only on demand
    # An RFC 3161 timestamp authority that stamps each checkpoint's statement (engine.audit.timestamps):
    # a time vouched for by someone outside the deployment, so that not even the holder of the
    # signing key can pass a checkpoint off as older than it is. Unset: checkpoints are not stamped.
    tsa_url: str = ""
    tsa_ca_file: Path | None = None  # PEM of the TSA's root (and chain) its tokens must verify against
    tsa_timeout: float = 5.0  # seconds the whole exchange with the TSA may take before it is given up

    @property
    def has_key(self) -> bool:
        return bool(self.key) or self.key_file is not None

    @classmethod
    def from_environment(cls) -> AuditSettings:
        """For code that has no Settings at hand (engine.audit.checkpoints.checkpointed_heads)."""
        return cls.from_env(_instance_dir(), os.environ.get("SERVICEFLOW_ENV", "development") == "production")

    @classmethod
    def from_env(cls, instance: Path, production: bool) -> AuditSettings:
        key = os.environ.get("SERVICEFLOW_AUDIT_KEY", "")
        key_file = os.environ.get("SERVICEFLOW_AUDIT_KEY_FILE", "")
        default = not key and not key_file and not production
        directory = os.environ.get("SERVICEFLOW_CHECKPOINT_DIR", "")
        minutes = _int("SERVICEFLOW_CHECKPOINT_MINUTES", cls.checkpoint_minutes)
        if minutes < 0:
            raise ConfigError(f"SERVICEFLOW_CHECKPOINT_MINUTES must be 0 or more, not {minutes}")
        ca_file = os.environ.get("SERVICEFLOW_TSA_CA_FILE", "")
        return cls(
            key=key,
            key_file=Path(key_file) if key_file else (instance / "audit_signing_key.pem" if default else None),
            create_key=default,
            checkpoint_dir=Path(directory) if directory else instance / "checkpoints",
            checkpoint_minutes=minutes,
            tsa_url=_tsa_url(os.environ.get("SERVICEFLOW_TSA_URL", "").strip()),
            tsa_ca_file=Path(ca_file) if ca_file else None,
            tsa_timeout=_seconds("SERVICEFLOW_TSA_TIMEOUT", cls.tsa_timeout, maximum=60.0),
        )


def _tsa_url(url: str) -> str:
    """The TSA's endpoint, refused at start-up when it could never be reached (no scheme, no host)."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"SERVICEFLOW_TSA_URL is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"SERVICEFLOW_TSA_URL must be an http:// or https:// URL with a host, not {url!r}")
    return url


def _seconds(name: str, default: float, maximum: float) -> float:
    """A timeout in seconds: positive and bounded, since waiting on it delays what it guards."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from exc
    if not 0 < value <= maximum:
        raise ConfigError(f"{name} must be more than 0 and at most {maximum:g} seconds, not {raw!r}")
    return value


def project_root() -> Path:
    """The checkout holding workflows/ and forms/: process definitions are data beside the code."""
    return Path(os.environ.get("SERVICEFLOW_ROOT", Path(__file__).resolve().parent.parent))


def _instance_dir() -> Path:
    return Path(os.environ.get("SERVICEFLOW_INSTANCE", project_root() / "instance"))


def _secret_key(instance: Path, production: bool) -> str:
    """Development keeps a generated key in the instance folder so sessions survive restarts."""
    value = os.environ.get("SECRET_KEY")
    if value:
        return value
    if production:
        raise ConfigError("SECRET_KEY must be set when SERVICEFLOW_ENV=production")
    instance.mkdir(parents=True, exist_ok=True)
    key_file = instance / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


@dataclass(frozen=True)
class Settings:
    """Everything configurable about a ServiceFlow deployment."""

    database_url: str
    secret_key: str
    production: bool = False
    workflows_dir: Path = field(default_factory=lambda: project_root() / "workflows")
    forms_dir: Path = field(default_factory=lambda: project_root() / "forms")
    procedure_dir: Path = field(default_factory=lambda: project_root() / "procedure")
    runtime_cache_size: int = 256
    sandbox_processes: int = 8
    mail: MailSettings = field(default_factory=MailSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    max_body_bytes: int = 1024 * 1024  # a request body beyond it is refused with 413
    data_limits: DataLimits = field(default_factory=DataLimits)
    audit: AuditSettings = field(default_factory=AuditSettings)
    verify_interval_seconds: int = 3600  # the worker verifies every case history this often; 0: never

    @classmethod
    def from_env(cls) -> Settings:
        """Read the environment once, at start-up."""
        production = os.environ.get("SERVICEFLOW_ENV", "development") == "production"
        instance = _instance_dir()
        database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'serviceflow.db'}"
        if database_url.startswith("sqlite:///"):
            Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return cls(
            database_url=database_url,
            secret_key=_secret_key(instance, production),
            production=production,
            workflows_dir=Path(os.environ.get("SERVICEFLOW_WORKFLOWS", project_root() / "workflows")),
            forms_dir=Path(os.environ.get("SERVICEFLOW_FORMS", project_root() / "forms")),
            procedure_dir=Path(os.environ.get("SERVICEFLOW_PROCEDURE", project_root() / "procedure")),
            runtime_cache_size=_int("SERVICEFLOW_RUNTIME_CACHE", 256),
            sandbox_processes=_int("SERVICEFLOW_SANDBOX_PROCESSES", 8),
            mail=MailSettings.from_env(),
            auth=AuthSettings.from_env(),
            max_body_bytes=_positive("SERVICEFLOW_MAX_BODY_BYTES", 1024 * 1024),
            data_limits=DataLimits(max_depth=_positive("SERVICEFLOW_MAX_DATA_DEPTH", DataLimits.max_depth),
                                   max_bytes=_positive("SERVICEFLOW_MAX_DATA_BYTES", DataLimits.max_bytes)),
            audit=AuditSettings.from_env(instance, production),
            verify_interval_seconds=max(_int("SERVICEFLOW_VERIFY_INTERVAL", 3600), 0),
        )


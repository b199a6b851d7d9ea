"""The platform's settings: its own (database, address, logs, sandbox) composed with the
settings model of every registered messenger and gateway, read from the environment or a
``.env`` file under the same variable names. Checks across parts live here."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import AnyHttpUrl, BaseModel, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bots.registry import MESSENGERS, MessengerEntry
from payments.registry import GATEWAYS, GatewayEntry


class PlatformSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")
    # The parts composed in (see compose_settings)
    messenger_entries: ClassVar[tuple[MessengerEntry, ...]] = ()
    gateway_entries: ClassVar[tuple[GatewayEntry, ...]] = ()

    database_url: str = "sqlite+aiosqlite:///school.db"
    school_file: Path = Path("school.example.yaml")
    public_url: AnyHttpUrl | None = None  # where students' browsers reach this server
    host: str = "127.0.0.1"
    port: int = 8080
    secret_key: str | None = None  # signs checkout forms; random per start when unset
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one object per line, for collectors
    sandbox: Literal["auto", "on", "off"] = "auto"  # auto: on when no messenger is configured
    sandbox_database_url: str = "sqlite+aiosqlite:///sandbox.db"
    sandbox_public: bool = False  # serve the sandbox on a non-loopback address too

    @field_validator("sandbox_database_url")
    @classmethod
    def _sandbox_database(cls, value: str) -> str:
        if not value.startswith("sqlite+aiosqlite:///") or value.endswith(":memory:"):
            raise ValueError("the sandbox needs a SQLite file: sqlite+aiosqlite:///sandbox.db")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "use sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB"
            )
        return value

    @field_validator("port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 0 < value < 65536:
            raise ValueError("a port is 1..65535")
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError("SECRET_KEY must be at least 16 characters")
        return value

    @model_validator(mode="after")
    def _no_free_courses_in_public(self) -> PlatformSettings:
        test_payments = getattr(self, "test_payments", False)
        if self.reachable_from_outside and test_payments \
                and "test_payments" not in self.model_fields_set:
            where = f"PUBLIC_URL {self.public_url}" if self.public_url_is_public \
                else f"HOST {self.host}"
            raise ValueError(
                f"{where} is reachable from outside and the test gateway (anyone can 'pay' "
                "without money) is on by default: set TEST_PAYMENTS=0 for a live school, "
                "or TEST_PAYMENTS=1 to keep it on deliberately")
        return self

    @model_validator(mode="after")
    def _messengers_fit_the_address(self) -> PlatformSettings:
        for entry in self.messenger_entries:
            if entry.check is not None:
                entry.check(self, self.public_url is not None)
        return self

    @model_validator(mode="after")
    def _sandbox_apart(self) -> PlatformSettings:
        if sqlite_file(self.sandbox_database_url) == sqlite_file(self.database_url):
            raise ValueError("SANDBOX_DATABASE_URL must not be the school's DATABASE_URL: "
                             "the sandbox wipes its database at every start")
        return self

    @property
    def public_url_is_public(self) -> bool:
        return self.public_url is not None and not is_loopback(self.public_url.host or "")

    @property
    def reachable_from_outside(self) -> bool:
        """Listening on a non-loopback address, or published behind a proxy."""
        return not is_loopback(self.host) or self.public_url_is_public

    @property
    def base_url(self) -> str:
        if self.public_url is not None:
            return str(self.public_url).rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def compose_settings(messengers: tuple[MessengerEntry, ...] = MESSENGERS,
                     gateways: tuple[GatewayEntry, ...] = GATEWAYS) -> type[PlatformSettings]:
    """The settings class of a platform with these messengers and gateways: the platform's
    own fields and checks plus every part's (a part's fields are named as its variables)."""
    parts: list[type[BaseModel]] = [e.settings for e in (*messengers, *gateways)]
    namespace: dict[str, Any] = {
        "__module__": __name__,
        "__annotations__": {},
        "messenger_entries": messengers,
        "gateway_entries": gateways,
    }
    return type("Settings", (PlatformSettings, *parts), namespace)


Settings = compose_settings()


def is_loopback(host: str) -> bool:
    """Only this machine can reach ``host`` (0.0.0.0 and :: mean every address)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost resolves to who knows where
        return False


def sqlite_file(url: str) -> Path | None:
    prefix = "sqlite+aiosqlite:///"
    return Path(url.removeprefix(prefix)).resolve() if url.startswith(prefix) else None


def settings_problems(exc: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in e['loc']).upper() or 'settings'}: "
        f"{e['msg'].removeprefix('Value error, ')}"
        for e in exc.errors()
    ]

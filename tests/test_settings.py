"""Settings are checked at start; a bad one is named, and nothing starts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.settings import Settings, settings_problems


def make(**values) -> Settings:
    return Settings(_env_file=None, **values)


def problems(**values) -> str:
    with pytest.raises(ValidationError) as caught:
        make(**values)
    return "\n".join(settings_problems(caught.value))


def test_defaults_run_the_demo():
    settings = make()
    assert settings.base_url == "http://127.0.0.1:8080"
    assert settings.test_payments and settings.sandbox == "auto"


def test_test_payments_on_a_public_address_must_be_asked_for():
    assert "TEST_PAYMENTS=0" in problems(public_url="https://school.example")
    assert make(public_url="https://school.example", test_payments=False).test_payments is False
    assert make(public_url="https://school.example", test_payments=True).test_payments is True
    assert make(public_url="http://127.0.0.1:9000").base_url == "http://127.0.0.1:9000"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "school.example"])
def test_test_payments_on_a_public_host_must_be_asked_for(host):
    """Listening publicly with no PUBLIC_URL was a way round the guard: anyone with a pay
    link could 'pay'."""
    assert "TEST_PAYMENTS=0" in problems(host=host)
    assert make(host=host, test_payments=False).test_payments is False
    assert make(host=host, test_payments=True).test_payments is True


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"])
def test_loopback_hosts_keep_the_demo_defaults(host):
    assert make(host=host).test_payments is True


def test_the_sandbox_is_off_when_a_proxy_publishes_the_platform(caplog):
    from app.lifecycle import sandbox_wanted

    behind_proxy = make(public_url="https://school.example", test_payments=True)
    assert behind_proxy.host == "127.0.0.1" and behind_proxy.reachable_from_outside
    assert sandbox_wanted(behind_proxy, messengers=0) is False
    assert "SANDBOX is off" in caplog.text and "SANDBOX_PUBLIC=1" in caplog.text
    assert sandbox_wanted(behind_proxy.model_copy(update={"sandbox_public": True}), 0) is True
    assert sandbox_wanted(make(public_url="http://127.0.0.1:9000"), messengers=0) is True


def test_unknown_database_and_log_level_are_named():
    assert "DATABASE_URL" in problems(database_url="mysql://root@localhost/x")
    assert "LOG_LEVEL" in problems(log_level="verbose")
    assert make(log_level="debug").log_level == "DEBUG"


def test_the_sandbox_never_shares_the_schools_database(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/school.db"
    assert "SANDBOX_DATABASE_URL must not be" in problems(database_url=url,
                                                          sandbox_database_url=url)
    assert "SQLite file" in problems(sandbox_database_url="postgresql+asyncpg://x@y/z")


def test_port_and_secret_are_checked():
    assert "PORT" in problems(port=70000)
    assert "SECRET_KEY" in problems(secret_key="short")


def test_a_telegram_webhook_needs_a_strong_secret():
    token = "123456:ABC"
    assert "TELEGRAM_WEBHOOK_SECRET" in problems(
        telegram_bot_token=token, public_url="https://school.example", test_payments=False)
    assert "TELEGRAM_WEBHOOK_SECRET" in problems(telegram_webhook_secret="short")
    assert "TELEGRAM_WEBHOOK_SECRET" in problems(telegram_webhook_secret="has spaces in it!!")
    settings = make(telegram_bot_token=token, public_url="https://school.example",
                    test_payments=False, telegram_webhook_secret="a" * 32)
    assert settings.telegram_webhook_secret.get_secret_value() == "a" * 32
    assert "123456:ABC" not in repr(settings)  # tokens never reach a log


def test_a_telegram_bot_is_built_from_the_settings():
    from app.bootstrap import configured_messengers

    assert configured_messengers(make()) == {}
    polling = configured_messengers(make(telegram_bot_token="123456:ABC"))["telegram"]
    assert polling.webhook_url is None and not polling.capabilities.invoices - {"XTR"}
    hooked = configured_messengers(make(
        telegram_bot_token="123456:ABC", public_url="https://school.example",
        test_payments=False, telegram_webhook_secret="b" * 20,
        telegram_provider_token="284685063:TEST:x",
        telegram_api_url="http://127.0.0.1:8081"))["telegram"]
    assert hooked.webhook_url == "https://school.example/telegram/webhook"
    assert "EUR" in hooked.capabilities.invoices
    assert str(hooked.bot.session.api.base).startswith("http://127.0.0.1:8081/bot")
    assert polling.sender.per_second == 30  # Telegram's free limit
    paid = configured_messengers(make(telegram_bot_token="123456:ABC",
                                      telegram_messages_per_second=200))["telegram"]
    assert paid.sender.per_second == 200
    assert "TELEGRAM_MESSAGES_PER_SECOND" in problems(telegram_messages_per_second=0)

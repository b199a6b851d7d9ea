"""Stripe renewals past what an idempotency key covers: a charge whose answer was lost is
looked up (PaymentIntent search by the key in its metadata) before it is made again, however
many days later, so it is charged at most once; and a subscription whose renewal fell in a
long outage is charged once, its new period starting at that charge. The official SDK
against the fake Stripe, whose keys expire after 24 hours of the platform's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import stripe
from fake_stripe import API_KEY, FakeStripe
from stripe_steps import END, MINUTE, at, buy, club, renewal_intents, stripe_shop

from core.models import PurchaseStatus

DAY = timedelta(days=1)


@pytest.fixture
async def shop(uow_factory, school, clock):
    async with stripe_shop(uow_factory, school, clock) as shop:
        yield shop


async def _charges(shop, user_id: int = 1) -> list[str]:
    """The renewal payments recorded for the student, oldest first."""
    async with shop.uow_factory() as uow:
        return [p.gateway_payment_id for order in await uow.orders.for_user(user_id)
                for p in await uow.payments.for_order(order.id) if p.details.get("renewal")]


async def test_a_charge_whose_answer_was_lost_is_found_days_later_not_made_again(shop):
    await buy(shop, "club-month")
    shop.fake.stall("/v1/payment_intents")  # Stripe charges; the answer never arrives
    await at(shop, END + MINUTE)
    [charged] = renewal_intents(shop)
    assert charged["status"] == "succeeded" and await _charges(shop) == []
    assert (await club(shop)).ends_at == END  # nothing known, nothing recorded

    # The platform is down for two days: Stripe has forgotten the key by now.
    await at(shop, END + 2 * DAY)

    assert shop.fake.count("GET", "/v1/payment_intents/search") == 1
    assert renewal_intents(shop) == [charged]  # not charged again
    assert await _charges(shop) == [charged["id"]]
    purchase = await club(shop)  # within the grace: the next period follows the old one
    assert purchase.ends_at == datetime(2026, 5, 2, 9, 0, tzinfo=UTC)
    await at(shop, END + 2 * DAY + 10 * MINUTE)
    assert len(renewal_intents(shop)) == 1


async def test_a_lost_answer_of_a_declined_charge_is_found_and_retried_on_schedule(shop):
    chat = await buy(shop, "club-month", "pm_card_chargeDeclined")
    shop.fake.stall("/v1/payment_intents")
    await at(shop, END + MINUTE)
    await at(shop, END + 2 * DAY)  # the declined charge is found, not made again
    [declined] = renewal_intents(shop)
    assert declined["status"] == "requires_payment_method"
    assert "We could not renew “Club monthly”: the card was declined." in chat.last.text
    assert (await club(shop)).status is PurchaseStatus.ACTIVE  # retried within the grace


async def test_a_first_attempt_is_not_searched_for(shop):
    await buy(shop, "club-month")
    await at(shop, END + MINUTE)
    assert len(renewal_intents(shop)) == 1
    assert shop.fake.count("GET", "/v1/payment_intents/search") == 0


@pytest.mark.parametrize("down", [timedelta(days=10), timedelta(days=70)],
                         ids=["past-the-grace", "past-two-periods"])
async def test_a_renewal_that_fell_in_a_long_outage_is_charged_once_from_now(shop, down):
    chat = await buy(shop, "club-month")
    back = END + down

    await at(shop, back)
    await at(shop, back + 10 * MINUTE)

    [charge] = renewal_intents(shop)
    assert (charge["amount"], charge["status"]) == (900, "succeeded")
    purchase = await club(shop)
    assert purchase.status is PurchaseStatus.ACTIVE
    assert purchase.ends_at == back.replace(month=back.month + 1)  # a month from the charge
    assert "Your access lasts until" in chat.last.text
    # The period after that renews once more, at its own end, and only then.
    await at(shop, purchase.ends_at - MINUTE)
    assert len(renewal_intents(shop)) == 1
    await at(shop, purchase.ends_at + MINUTE)
    assert len(renewal_intents(shop)) == 2


# --- the fake keeps Stripe's rules ----------------------------------------------------------


@pytest.fixture
async def api(clock):
    async with FakeStripe(clock) as fake:
        fake.methods["pm_card_visa_1"] = "cus_test_1"
        http = stripe.AIOHTTPClient()
        fake.client = stripe.StripeClient(API_KEY, base_addresses={"api": fake.url},
                                          http_client=http, max_network_retries=0)
        yield fake
        await http.close_async()


def _charge(key: str, amount: int = 900) -> dict:
    return {"amount": amount, "currency": "eur", "customer": "cus_test_1",
            "payment_method": "pm_card_visa_1", "off_session": True, "confirm": True,
            "metadata": {"charge_key": key}}


async def test_the_fake_forgets_an_idempotency_key_after_24_hours(api, clock):
    create = api.client.v1.payment_intents.create_async
    first = await create(_charge("k1"), options={"idempotency_key": "k1"})
    clock.advance(timedelta(hours=23, minutes=59))
    assert (await create(_charge("k1"), options={"idempotency_key": "k1"})).id == first.id
    clock.advance(timedelta(minutes=2))
    again = await create(_charge("k1"), options={"idempotency_key": "k1"})
    assert again.id != first.id  # a new charge: what the lookup before a late retry prevents
    assert len(api.intents) == 2


async def test_the_fake_searches_with_stripes_query_language(api):
    create = api.client.v1.payment_intents.create_async
    for key, amount in (("renew:1:100:0", 900), ("renew:1:100:1", 900), ("it's", 1500)):
        await create(_charge(key, amount), options={"idempotency_key": key})
    search = api.client.v1.payment_intents.search_async

    async def found(query: str) -> list[str]:
        return sorted(i.metadata["charge_key"] for i in (await search({"query": query})).data)

    assert await found("metadata['charge_key']:'renew:1:100:0'") == ["renew:1:100:0"]
    assert await found('metadata["charge_key"]:"renew:1:100:1"') == ["renew:1:100:1"]
    assert await found("metadata['charge_key']:'it\\'s'") == ["it's"]
    assert await found("metadata['charge_key']:'renew'") == []  # exact, not a prefix
    assert await found("amount>1000 AND status:'succeeded'") == ["it's"]
    assert await found("amount:1500 OR metadata['charge_key']:'renew:1:100:0'") == [
        "it's", "renew:1:100:0"]
    assert await found("-amount:900 currency:'eur'") == ["it's"]
    assert await found("metadata['other']:null amount<1000") == ["renew:1:100:0",
                                                                 "renew:1:100:1"]
    result = await search({"query": "amount>0", "limit": 2})
    assert len(result.data) == 2 and result.has_more
    for bad in ("status:succeeded", "email:'a@b.c'", "amount>1 AND amount<5 OR amount:3",
                "metadata:'x'", "amount~'9'", ""):
        with pytest.raises(stripe.InvalidRequestError):
            await search({"query": bad})

"""The web pages a student can pay an order on: one per configured gateway that is not paid
inside the chat (Stripe, YooKassa, the test gateway), in the registry's order, each taking
its own currencies."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from core.models import Order
from core.money import Money
from core.ports import PaymentGateway
from core.school import Offer
from flows.channel import Capabilities
from flows.texts import Texts
from flows.ui import Button

CARD = "card"  # the label of a plain card page, worded in the student's language


@dataclass(frozen=True)
class CheckoutWay:
    gateway: str  # the gateway's name
    label: str  # ``CARD``, or the provider's own name, shown as is
    url: Callable[[Order], str | None]  # the page that takes payment of an order
    accepts: Callable[[str], bool]  # the currencies it takes

    def button_text(self, t: Texts, price: str, named: bool) -> str:
        """``Pay 10 €``; naming the way (``Pay 10 € by card``, ``Pay 10 € (YooKassa)``) when
        the student has several to choose from."""
        if not named:
            return t("btn_pay", price=price)
        if self.label == CARD:
            return t("btn_pay_card", price=price)
        return t("btn_pay_via", price=price, way=self.label)


@dataclass(frozen=True)
class CheckoutWays:
    ways: tuple[CheckoutWay, ...] = ()

    @classmethod
    def of(cls, gateways: Iterable[PaymentGateway]) -> CheckoutWays:
        return cls(tuple(CheckoutWay(g.name, g.label, g.checkout_url, g.accepts)
                         for g in gateways if not g.in_chat))

    def taking(self, currency: str) -> tuple[CheckoutWay, ...]:
        return tuple(way for way in self.ways if way.accepts(currency))

    def buttons(self, t: Texts, order: Order) -> list[Button]:
        """A link to each page that takes the order's currency. ``pays``: Telegram's own
        invoice, where the chat shows one, replaces them."""
        taking = self.taking(order.currency)
        price = Money(order.amount, order.currency).format(t.language)
        buttons = []
        for way in taking:
            url = way.url(order)
            if url is not None:
                buttons.append(Button(way.button_text(t, price, len(taking) > 1), url=url,
                                      pays=True))
        return buttons


def unpayable(offers: Iterable[Offer], checkout: CheckoutWays,
              chats: Iterable[Capabilities]) -> list[Offer]:
    """The offers nobody can pay for anywhere: no checkout page takes their currency, and no
    running messenger takes it in the chat, nor their Stars price."""
    chats = list(chats)

    def payable(offer: Offer) -> bool:
        if offer.free:  # nothing to pay
            return True
        currency = offer.price.currency
        return bool(checkout.taking(currency)) or any(
            currency in chat.invoices or (offer.stars is not None and chat.stars)
            for chat in chats)

    return [offer for offer in offers if not payable(offer)]

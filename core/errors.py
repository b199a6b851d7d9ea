"""Domain errors. Each carries a stable ``code``; flows word it in the student's language."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule said no. ``code`` names the rule; ``params`` fill the message."""

    code = "domain_error"

    def __init__(self, message: str = "", **params: object) -> None:
        super().__init__(message or self.code)
        self.params = params


class NotFound(DomainError):
    code = "not_found"


class OfferUnavailable(DomainError):
    """The offer cannot be bought now: hidden, outside its sale window, or sold out."""

    code = "offer_unavailable"


class SoldOut(OfferUnavailable):
    code = "sold_out"


class NotEligible(DomainError):
    """A renewal offer bought by someone who never held the products it extends."""

    code = "not_eligible"


class AlreadyOwned(DomainError):
    code = "already_owned"


class PromoInvalid(DomainError):
    code = "promo_invalid"


class PromoExhausted(PromoInvalid):
    code = "promo_exhausted"


class OrderNotPayable(DomainError):
    code = "order_not_payable"


class PriceChanged(OrderNotPayable):
    """The offer's price changed after the order was placed: order again at the new price."""

    code = "price_changed"


class LinkCodeInvalid(DomainError):
    """A link code that does not exist, was used, or expired."""

    code = "link_code_invalid"


class LinkSameMessenger(DomainError):
    """Linking would give one student two accounts in the same messenger."""

    code = "link_same_messenger"


class ReceiptContactInvalid(DomainError):
    """Not an email or a phone a fiscal receipt can be sent to."""

    code = "receipt_contact_invalid"


class SchoolFileError(Exception):
    """The school file is malformed. ``problems`` are lines like ``offers[2].price: ...``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems

"""What the staff's screens call an offer or a product."""

from __future__ import annotations

from core.school import School, pick
from flows.texts import Texts


def title_of(school: School, t: Texts, code: str) -> str:
    """An offer's title; for access granted as a single product, the product's."""
    offer = school.offer(code)
    if offer is not None:
        return pick(offer.title, t.language, school.default_language)
    product = school.products.get(code)
    if product is not None:
        return pick(product.title, t.language, school.default_language)
    return code

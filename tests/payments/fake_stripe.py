"""A fake of the parts of Stripe's API the Stripe gateway uses, on 127.0.0.1, for the official
SDK to talk to: Checkout Sessions (create, retrieve with ``expand``), PaymentIntents (create
off-session with ``confirm``, retrieve with ``expand[]=latest_charge``, search), Refunds
(create, in full or a part, with ``expand[]=charge``), and signed webhook events.

Faithful where it matters: form-encoded nested parameters, Bearer authentication, Stripe's
error JSON and status codes (402 for a card error, 400 for a bad request or an idempotency
key reused with other parameters), idempotent replay (a repeated ``Idempotency-Key`` returns
the first response and does nothing again; a 5xx is never stored; a key is forgotten 24 hours
after its first use, by the fake's ``clock``), a charge behind each PaymentIntent that counts
what was refunded, and the search query language (``search_query``). What a student does on
the hosted page is ``complete``; what a network does to a response is ``stall``/``fail``."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.test_utils import TestServer

API_KEY = "sk_test_fake_0123456789"
WEBHOOK_SECRET = "whsec_fake_0123456789abcdef"
DECLINED = "pm_card_chargeDeclined"  # Stripe's test cards: declined at every charge
AUTHENTICATION = "pm_card_authenticationRequired"  # the bank wants the student each time


def _nest(pairs: list[tuple[str, str]]) -> dict:
    """``a[b][0]=c`` -> ``{"a": {"b": ["c"]}}``, as Stripe reads its form bodies."""
    root: dict = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node):
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_lists(node[k]) for k in sorted(node, key=int)]
    return {k: _lists(v) for k, v in node.items()}


def _error(status: int, kind: str, message: str, **extra) -> web.Response:
    return web.json_response({"error": {"type": kind, "message": message, **extra}},
                             status=status)


KEY_LIFETIME = 24 * 3600  # seconds Stripe keeps an idempotency key
MAX_CLAUSES = 10
# The PaymentIntent search fields: what each is matched as.
INTENT_FIELDS = {"amount": "number", "created": "number", "currency": "string",
                 "customer": "string", "status": "string", "metadata": "metadata"}
_TOKEN = re.compile(r"""
    \s*(?:
      (?P<quoted>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<op>>=|<=|[:<>=~\[\]])
    | (?P<minus>-)
    | (?P<word>[A-Za-z0-9_.]+)
    )""", re.VERBOSE)


class SearchError(ValueError):
    """A query Stripe would refuse (400, ``invalid_request_error``)."""


def _unquote(token: str) -> str:
    return re.sub(r"\\(.)", r"\1", token[1:-1])


def search_query(query: str, fields: dict[str, str]) -> Callable[[dict], bool]:
    """Stripe's search query language, as a predicate over an object: clauses
    ``field:value`` (exact), ``metadata['key']:'value'`` (``null``: the key is absent),
    numeric ``amount>1000`` (``>``, ``<``, ``>=``, ``<=``, ``:``); a leading ``-`` negates a
    clause; clauses are joined by spaces or ``AND``, or by ``OR``, never both; string values
    are quoted (single or double quotes, ``\\`` escapes); at most 10 clauses."""
    tokens, at = [], 0
    while at < len(query):
        if query[at:].strip() == "":
            break
        match = _TOKEN.match(query, at)
        if match is None:
            raise SearchError(f"Unexpected character at position {at} of the query.")
        tokens.append((match.lastgroup, match.group(match.lastgroup)))
        at = match.end()
    clauses, joins, i = [], set(), 0
    while i < len(tokens):
        if tokens[i][0] == "word" and tokens[i][1].upper() in ("AND", "OR") and clauses:
            if i + 1 == len(tokens):
                raise SearchError(f"A query clause is needed after {tokens[i][1]}.")
            joins.add(tokens[i][1].upper())
            i += 1
            continue
        negate = tokens[i][0] == "minus"
        i += negate
        if i >= len(tokens) or tokens[i][0] != "word":
            raise SearchError("A query clause must start with a field.")
        field, key = tokens[i][1], None
        i += 1
        kind = fields.get(field)
        if kind is None:
            raise SearchError(f"Field `{field}` is an unsupported search field for this "
                              "resource.")
        if kind == "metadata":
            if [t[0] for t in tokens[i:i + 3]] != ["op", "quoted", "op"] \
                    or tokens[i][1] != "[" or tokens[i + 2][1] != "]":
                raise SearchError("Use metadata['key'] to search metadata.")
            key, i = _unquote(tokens[i + 1][1]), i + 3
        if i + 1 >= len(tokens) or tokens[i][0] != "op":
            raise SearchError(f"A value is needed after `{field}`.")
        op, (value_kind, value) = tokens[i][1], tokens[i + 1]
        i += 2
        clauses.append(_clause(field, kind, key, op, value_kind, value, negate))
    if not clauses:
        raise SearchError("The query is empty.")
    if len(joins) > 1:
        raise SearchError("AND and OR can't be combined in one query.")
    if len(clauses) > MAX_CLAUSES:
        raise SearchError(f"A query may have at most {MAX_CLAUSES} clauses.")
    if joins == {"OR"}:
        return lambda obj: any(clause(obj) for clause in clauses)
    return lambda obj: all(clause(obj) for clause in clauses)


def _clause(field, kind, key, op, value_kind, value, negate) -> Callable[[dict], bool]:
    if kind == "number":
        if value_kind != "word" or not value.isdigit() or op not in (":", ">", "<", ">=", "<="):
            raise SearchError(f"`{field}` takes a number and :, >, <, >= or <=.")
        number = int(value)
        compare = {":": int.__eq__, ">": int.__gt__, "<": int.__lt__, ">=": int.__ge__,
                   "<=": int.__le__}[op]

        def test(obj):
            return obj.get(field) is not None and compare(int(obj[field]), number)
    else:
        if op != ":":
            raise SearchError(f"`{field}` supports only exact matching with `:`.")
        if kind == "metadata" and value_kind == "word" and value == "null":
            def test(obj):
                return key not in (obj.get("metadata") or {})
        elif value_kind != "quoted":
            raise SearchError("String values must be quoted.")
        else:
            wanted = _unquote(value)

            def test(obj):
                got = (obj.get("metadata") or {}).get(key) if kind == "metadata" \
                    else obj.get(field)
                return got == wanted
    return (lambda obj: not test(obj)) if negate else test


class FakeStripe:
    def __init__(self, clock=None) -> None:
        self.clock = clock  # moves the 24 hours of idempotency keys (default: real time)
        self.sessions: dict[str, dict] = {}
        self.intents: dict[str, dict] = {}
        self.charges: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.methods: dict[str, str] = {}  # payment method -> the customer it is saved to
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self._replays: dict[str, tuple[str, dict, int, dict, float]] = {}
        self._ids = itertools.count(1)
        self._stalls: dict[str, int] = {}
        self._failures: dict[str, int] = {}
        self.stall_seconds = 3.0
        self.server: TestServer | None = None

    # --- test knobs ----------------------------------------------------------------------

    def stall(self, path: str, times: int = 1) -> None:
        """The next ``times`` requests to ``path`` are done, then answered too late."""
        self._stalls[path] = times

    def fail(self, path: str, times: int = 1) -> None:
        """The next ``times`` requests to ``path`` get a 500 and change nothing."""
        self._failures[path] = times

    def count(self, method: str, prefix: str) -> int:
        return sum(1 for m, p in self.requests if m == method and p.startswith(prefix))

    def complete(self, session_id: str, method: str = "pm_card_visa") -> dict:
        """The student pays on the hosted page: the session is complete and its payment
        succeeded (the card saved to a new customer if the session asked for it).
        Returns the ``checkout.session.completed`` event."""
        session = self.sessions[session_id]
        create = session["_params"]
        intent_data = create.get("payment_intent_data", {})
        saving = intent_data.get("setup_future_usage") == "off_session"
        customer = None
        if saving or create.get("customer_creation") == "always":
            customer = self._id("cus")
        payment_method = f"{method}_{next(self._ids)}" if method.startswith("pm_card_") \
            else method
        if saving:
            self.methods[payment_method] = customer
        intent = self._intent(session["amount_total"], session["currency"], customer,
                              payment_method, "succeeded",
                              intent_data.get("metadata", {}),
                              "off_session" if saving else None)
        session.update(status="complete", payment_status="paid", customer=customer,
                       payment_intent=intent["id"])
        return self.event("checkout.session.completed", self._public(session))

    def refund_event(self, refund_id: str, kind: str = "charge.refunded") -> dict:
        """What Stripe sends about a refund: ``charge.refunded`` with the charge, or
        ``refund.created``/``refund.updated`` with the refund."""
        refund = self.refunds[refund_id]
        obj = self.charges[refund["charge"]] if kind == "charge.refunded" else refund
        return self.event(kind, dict(obj))

    def refund_outside(self, intent_id: str, amount: int | None = None) -> str:
        """A refund made in Stripe's dashboard; returns its id."""
        charge = self.charges[self.intents[intent_id]["latest_charge"]]
        return self._refund(charge, amount or charge["amount"] - charge["amount_refunded"])

    def _now(self) -> float:
        return self.clock.now().timestamp() if self.clock else time.time()

    def event(self, kind: str, obj: dict) -> dict:
        return {"id": self._id("evt"), "object": "event", "type": kind,
                "api_version": "2025-01-27", "created": int(self._now()),
                "livemode": False, "data": {"object": obj}}

    @staticmethod
    def signed(event: dict, at: float, secret: str = WEBHOOK_SECRET) -> tuple[bytes, str]:
        """The body Stripe posts and its ``Stripe-Signature`` header, signed at ``at``."""
        body = json.dumps(event).encode()
        stamp = int(at)
        mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
        return body, f"t={stamp},v1={mac.hexdigest()}"

    # --- the server ----------------------------------------------------------------------

    async def __aenter__(self) -> FakeStripe:
        app = web.Application()
        app.router.add_post("/v1/checkout/sessions", self._create_session)
        app.router.add_get("/v1/checkout/sessions/{id}", self._get_session)
        app.router.add_post("/v1/payment_intents", self._create_intent)
        app.router.add_get("/v1/payment_intents/search", self._search_intents)
        app.router.add_get("/v1/payment_intents/{id}", self._get_intent)
        app.router.add_post("/v1/refunds", self._create_refund)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.server.close()

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")

    def _id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._ids):06d}"

    async def _read(self, request: web.Request) -> dict:
        body = (await request.read()).decode()
        if request.method == "GET":
            body = request.query_string
        return _nest(parse_qsl(body, keep_blank_values=True))

    async def _serve(self, request: web.Request, handler) -> web.StreamResponse:
        """Authentication, idempotent replay and the network's knobs around ``handler``."""
        self.requests.append((request.method, request.path))
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return _error(401, "invalid_request_error", "Invalid API Key provided.")
        params = await self._read(request)
        if self._failures.get(request.path, 0) > 0:
            self._failures[request.path] -= 1
            return _error(500, "api_error", "An unknown error occurred.")
        key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        if key and key in self._replays and self._now() - self._replays[key][4] > KEY_LIFETIME:
            del self._replays[key]  # Stripe forgets a key after 24 hours
        if key and key in self._replays:
            path, first, status, body, _at = self._replays[key]
            if (path, first) != (request.path, params):
                return _error(400, "idempotency_error",
                              "Keys for idempotent requests can only be used with the same "
                              "parameters they were first used with.")
            response = web.json_response(body, status=status)
            response.headers["Idempotent-Replayed"] = "true"
            return response
        status, body = handler(request, params)
        if key and status < 500:
            self._replays[key] = (request.path, params, status, body, self._now())
        if self._stalls.get(request.path, 0) > 0:
            self._stalls[request.path] -= 1
            await asyncio.sleep(self.stall_seconds)  # done, but the answer comes too late
        return web.json_response(body, status=status)

    def _public(self, obj: dict) -> dict:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    async def _create_session(self, request: web.Request) -> web.StreamResponse:
        def create(_request, p: dict) -> tuple[int, dict]:
            items = p.get("line_items") or []
            if p.get("mode") != "payment" or len(items) != 1 or "success_url" not in p:
                return 400, {"error": {"type": "invalid_request_error",
                                       "message": "mode, line_items and success_url needed"}}
            price = items[0]["price_data"]
            session_id = self._id("cs")
            amount = int(price["unit_amount"]) * int(items[0].get("quantity", 1))
            self.sessions[session_id] = {
                "id": session_id, "object": "checkout.session", "mode": "payment",
                "url": f"{self.url}/c/pay/{session_id}", "status": "open",
                "payment_status": "unpaid", "amount_total": amount,
                "currency": price["currency"], "client_reference_id":
                    p.get("client_reference_id"), "customer": None, "payment_intent": None,
                "metadata": p.get("metadata", {}), "success_url": p["success_url"],
                "cancel_url": p.get("cancel_url"), "_params": p,
            }
            return 200, self._public(self.sessions[session_id])

        return await self._serve(request, create)

    async def _get_session(self, request: web.Request) -> web.StreamResponse:
        def get(req, p: dict) -> tuple[int, dict]:
            session = self.sessions.get(req.match_info["id"])
            if session is None:
                return 404, {"error": {"type": "invalid_request_error",
                                       "code": "resource_missing",
                                       "message": "No such checkout.session"}}
            body = self._public(session)
            if "payment_intent" in (p.get("expand") or []) and body["payment_intent"]:
                body["payment_intent"] = self.intents[body["payment_intent"]]
            return 200, body

        return await self._serve(request, get)

    def _intent(self, amount: int, currency: str, customer: str | None, method: str | None,
                status: str, metadata: dict, future: str | None) -> dict:
        intent = {"id": self._id("pi"), "object": "payment_intent", "amount": amount,
                  "currency": currency, "customer": customer, "payment_method": method,
                  "status": status, "metadata": metadata, "setup_future_usage": future,
                  "created": int(self._now()), "latest_charge": None,
                  "last_payment_error": None}
        charge = {"id": self._id("ch"), "object": "charge", "amount": amount,
                  "amount_refunded": 0, "refunded": False, "currency": currency,
                  "payment_intent": intent["id"], "customer": customer,
                  "status": "succeeded" if status == "succeeded" else "failed",
                  "metadata": metadata}
        self.charges[charge["id"]] = charge
        intent["latest_charge"] = charge["id"]
        self.intents[intent["id"]] = intent
        return intent

    def _expanded(self, intent: dict, expand: list) -> dict:
        if "latest_charge" in expand and intent["latest_charge"]:
            return {**intent, "latest_charge": dict(self.charges[intent["latest_charge"]])}
        return intent

    async def _create_intent(self, request: web.Request) -> web.StreamResponse:
        def create(_request, p: dict) -> tuple[int, dict]:
            customer, method = p.get("customer"), p.get("payment_method")
            if not p.get("amount", "").isdigit() or not p.get("currency"):
                return 400, {"error": {"type": "invalid_request_error",
                                       "message": "amount and currency are required"}}
            if p.get("confirm") != "true" or p.get("off_session") != "true":
                return 400, {"error": {"type": "invalid_request_error",
                                       "message": "this fake charges off-session only"}}
            if method not in self.methods or self.methods[method] != customer:
                return 400, {"error": {"type": "invalid_request_error",
                                       "code": "resource_missing", "param": "payment_method",
                                       "message": f"No such PaymentMethod: '{method}'"}}
            failure = None
            if method.startswith(DECLINED):
                failure = ("card_declined", "generic_decline", "Your card was declined.")
            elif method.startswith(AUTHENTICATION):
                failure = ("authentication_required", "authentication_required",
                           "Your card was declined. This transaction requires authentication.")
            intent = self._intent(int(p["amount"]), p["currency"], customer, method,
                                  "requires_payment_method" if failure else "succeeded",
                                  p.get("metadata", {}), None)
            if failure:
                code, decline, message = failure
                intent["last_payment_error"] = {"type": "card_error", "code": code,
                                                "decline_code": decline, "message": message}
                return 402, {"error": {"type": "card_error", "code": code,
                                       "decline_code": decline, "message": message,
                                       "payment_intent": intent}}
            return 200, intent

        return await self._serve(request, create)

    async def _get_intent(self, request: web.Request) -> web.StreamResponse:
        def get(req, p: dict) -> tuple[int, dict]:
            intent = self.intents.get(req.match_info["id"])
            if intent is None:
                return 404, {"error": {"type": "invalid_request_error",
                                       "code": "resource_missing",
                                       "message": "No such payment_intent"}}
            return 200, self._expanded(intent, p.get("expand") or [])

        return await self._serve(request, get)

    async def _search_intents(self, request: web.Request) -> web.StreamResponse:
        def search(_request, p: dict) -> tuple[int, dict]:
            limit = p.get("limit", "10")
            if not limit.isdigit() or not 1 <= int(limit) <= 100:
                return 400, {"error": {"type": "invalid_request_error", "param": "limit",
                                       "message": "limit must be between 1 and 100"}}
            try:
                matches = search_query(p.get("query", ""), INTENT_FIELDS)
            except SearchError as exc:
                return 400, {"error": {"type": "invalid_request_error", "param": "query",
                                       "message": str(exc)}}
            found = sorted((i for i in self.intents.values() if matches(i)),
                           key=lambda i: i["created"], reverse=True)
            expand = [e.removeprefix("data.") for e in p.get("expand") or []]
            return 200, {"object": "search_result", "url": "/v1/payment_intents/search",
                         "has_more": len(found) > int(limit), "next_page": None,
                         "data": [self._expanded(i, expand) for i in found[:int(limit)]]}

        return await self._serve(request, search)

    async def _create_refund(self, request: web.Request) -> web.StreamResponse:
        def create(_request, p: dict) -> tuple[int, dict]:
            intent = self.intents.get(p.get("payment_intent", ""))
            if intent is None or intent["status"] != "succeeded":
                return 400, {"error": {"type": "invalid_request_error",
                                       "code": "resource_missing",
                                       "message": "No such payment_intent"}}
            charge = self.charges[intent["latest_charge"]]
            left = charge["amount"] - charge["amount_refunded"]
            if left == 0:
                return 400, {"error": {"type": "invalid_request_error",
                                       "code": "charge_already_refunded",
                                       "message": f"Charge {charge['id']} has already been "
                                                  "refunded."}}
            amount = p.get("amount", str(left))
            if not amount.isdigit() or not 0 < int(amount) <= left:
                return 400, {"error": {"type": "invalid_request_error", "param": "amount",
                                       "message": f"Refund amount ({amount}) is greater than "
                                                  f"unrefunded amount on charge ({left})"}}
            refund = dict(self.refunds[self._refund(charge, int(amount))])
            if "charge" in (p.get("expand") or []):
                refund["charge"] = dict(charge)
            return 200, refund

        return await self._serve(request, create)

    def _refund(self, charge: dict, amount: int) -> str:
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        refund = {"id": self._id("re"), "object": "refund", "amount": amount,
                  "currency": charge["currency"], "payment_intent": charge["payment_intent"],
                  "charge": charge["id"], "status": "succeeded", "created": int(self._now())}
        self.refunds[refund["id"]] = refund
        return refund["id"]

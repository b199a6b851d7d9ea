"""Message text as the Bot API sees it: ``parse_mode`` (HTML, MarkdownV2, Markdown) turned into
plain text plus entities (offsets in UTF-16 code units), with Telegram's parse errors.

The error texts follow the real server's ("can't parse entities: Unsupported start tag "div"
at byte offset 0", "Character '.' is reserved and must be escaped with the preceding '\\'").
"""

from __future__ import annotations

import contextlib
import html
from typing import Any


class TextParseError(ValueError):
    """The text cannot be parsed; ``str(error)`` is the description after "Bad Request: "."""


def utf16_len(text: str) -> int:
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities of ``text`` sent with ``parse_mode`` (None: taken as is)."""
    if not parse_mode:
        return text, []
    mode = parse_mode.lower()
    if mode == "html":
        plain, entities = _Html(text).parse()
    elif mode == "markdownv2":
        plain, entities = _MarkdownV2(text).parse()
    elif mode == "markdown":
        plain, entities = _Markdown(text).parse()
    else:
        raise TextParseError(f"unsupported parse_mode {parse_mode!r}")
    return plain, sorted(entities, key=lambda e: (e["offset"], -e["length"]))


def strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram drops leading and trailing white space of a message, entities following."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    kept = []
    for e in entities:
        start = max(e["offset"] - lead, 0)
        end = min(e["offset"] + e["length"] - lead, size)
        if end > start:
            kept.append({**e, "offset": start, "length": end - start})
    return stripped, kept


class _Builder:
    """Collects output text and entities while a parser walks the source."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.out: list[str] = []
        self.pos16 = 0
        self.entities: list[dict[str, Any]] = []

    def emit(self, text: str) -> None:
        self.out.append(text)
        self.pos16 += utf16_len(text)

    def entity(self, kind: str, start16: int, **extra: Any) -> None:
        length = self.pos16 - start16
        if length > 0:
            self.entities.append({"type": kind, "offset": start16, "length": length, **extra})

    def byte_offset(self, index: int) -> int:
        return len(self.source[:index].encode("utf-8"))

    def result(self) -> tuple[str, list[dict[str, Any]]]:
        return "".join(self.out), self.entities


_HTML_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "span": "spoiler", "a": "text_link", "code": "code", "pre": "pre",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji", "tg-time": "date_time",
}
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class _Html(_Builder):
    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        text, n, i = self.source, len(self.source), 0
        stack: list[tuple[str, int, dict[str, str]]] = []  # tag, start16, attributes
        while i < n:
            c = text[i]
            if c == "&":
                i = self._entity_ref(i)
                continue
            if c != "<":
                j = i + 1
                while j < n and text[j] not in "<&":
                    j += 1
                self.emit(text[i:j])
                i = j
                continue
            begin = i
            if i + 1 < n and text[i + 1] == "/":
                end = text.find(">", i)
                if end < 0:
                    raise TextParseError(
                        f"can't parse entities: Unclosed end tag at byte offset "
                        f"{self.byte_offset(begin)}"
                    )
                name = text[i + 2 : end].strip().lower()
                if not stack:
                    raise TextParseError(
                        f"can't parse entities: Unexpected end tag at byte offset "
                        f"{self.byte_offset(begin)}"
                    )
                tag, start16, attrs = stack.pop()
                if name != tag:
                    raise TextParseError(
                        f"can't parse entities: Unmatched end tag at byte offset "
                        f'{self.byte_offset(begin)}, expected "</{tag}>", found "</{name}>"'
                    )
                self._close(tag, start16, attrs, stack)
                i = end + 1
                continue
            j = i + 1
            while j < n and not text[j].isspace() and text[j] != ">":
                j += 1
            if j >= n:
                raise TextParseError(
                    f"can't parse entities: Unclosed start tag at byte offset "
                    f"{self.byte_offset(begin)}"
                )
            name = text[i + 1 : j].lower()
            if name not in _HTML_TAGS:
                raise TextParseError(
                    f'can\'t parse entities: Unsupported start tag "{name}" at byte offset '
                    f"{self.byte_offset(begin)}"
                )
            attrs, i = self._attributes(j, begin)
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise TextParseError(
                    f'can\'t parse entities: Tag "span" must have class "tg-spoiler" at byte '
                    f"offset {self.byte_offset(begin)}"
                )
            stack.append((name, self.pos16, attrs))
        if stack:
            raise TextParseError(
                f'can\'t parse entities: Can\'t find end tag corresponding to start tag '
                f'"{stack[-1][0]}"'
            )
        return self.result()

    def _entity_ref(self, i: int) -> int:
        text = self.source
        end = text.find(";", i, i + 12)
        if end > i + 1:
            name = text[i + 1 : end]
            if name in _HTML_NAMED:
                self.emit(_HTML_NAMED[name])
                return end + 1
            if name.startswith("#"):
                with contextlib.suppress(ValueError, OverflowError):  # not a number: literal "&"
                    code = int(name[2:], 16) if name[1:2] in ("x", "X") else int(name[1:])
                    self.emit(chr(code))
                    return end + 1
        self.emit("&")
        return i + 1

    def _attributes(self, i: int, begin: int) -> tuple[dict[str, str], int]:
        text, n = self.source, len(self.source)
        attrs: dict[str, str] = {}
        while True:
            while i < n and text[i].isspace():
                i += 1
            if i >= n:
                raise TextParseError(
                    f"can't parse entities: Unclosed start tag at byte offset "
                    f"{self.byte_offset(begin)}"
                )
            if text[i] == ">":
                return attrs, i + 1
            j = i
            while j < n and (text[j].isalnum() or text[j] in "-_"):
                j += 1
            if j == i:
                raise TextParseError(
                    f"can't parse entities: Empty attribute name in the tag at byte offset "
                    f"{self.byte_offset(begin)}"
                )
            key, value = text[i:j].lower(), ""
            i = j
            if i < n and text[i] == "=":
                i += 1
                if i < n and text[i] in "\"'":
                    close = text.find(text[i], i + 1)
                    if close < 0:
                        raise TextParseError(
                            f"can't parse entities: Unclosed start tag at byte offset "
                            f"{self.byte_offset(begin)}"
                        )
                    value, i = text[i + 1 : close], close + 1
                else:
                    j = i
                    while j < n and not text[j].isspace() and text[j] != ">":
                        j += 1
                    value, i = text[i:j], j
            attrs[key] = html.unescape(value)

    def _close(self, tag: str, start16: int, attrs: dict[str, str], stack: list) -> None:
        kind = _HTML_TAGS[tag]
        if tag == "a":
            url = attrs.get("href", "")
            if url.startswith("tg://user?id="):
                self.entity("text_mention", start16, user={"id": int(url[13:] or 0)})
            elif url:
                self.entity("text_link", start16, url=url)
        elif tag == "code" and stack and stack[-1][0] == "pre" and "class" in attrs:
            # <pre><code class="language-python">: the language goes to the pre entity
            language = attrs["class"].removeprefix("language-")
            pre_tag, pre_start, pre_attrs = stack[-1]
            stack[-1] = (pre_tag, pre_start, {**pre_attrs, "_language": language})
        elif tag == "pre":
            extra = {"language": attrs["_language"]} if "_language" in attrs else {}
            self.entity("pre", start16, **extra)
        elif tag == "blockquote":
            self.entity("expandable_blockquote" if "expandable" in attrs else "blockquote", start16)
        elif tag == "tg-emoji":
            self.entity("custom_emoji", start16, custom_emoji_id=attrs.get("emoji-id", ""))
        else:
            self.entity(kind, start16)


_MD2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MD2_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough": "Strikethrough",
    "spoiler": "Spoiler", "code": "Code", "pre": "Pre", "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


class _MarkdownV2(_Builder):
    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        text, n, i = self.source, len(self.source), 0
        stack: list[list[Any]] = []  # [kind, start16, begin index, extra]
        quote_start: int | None = None
        while i < n:
            c = text[i]
            if c == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
                self.emit(text[i + 1])
                i += 2
                continue
            top = stack[-1][0] if stack else None
            if top in ("code", "pre"):
                if top == "pre" and text.startswith("```", i):
                    _, start16, _, extra = stack.pop()
                    self.entity("pre", start16, **extra)
                    i += 3
                elif top == "code" and c == "`":
                    _, start16, _, _ = stack.pop()
                    self.entity("code", start16)
                    i += 1
                else:
                    self.emit(c)
                    i += 1
                continue
            if c == "\n":
                self.emit(c)
                i += 1
                if quote_start is not None and not text.startswith(">", i):
                    self.pos16 -= 1
                    self.entity("blockquote", quote_start)
                    self.pos16 += 1
                    quote_start = None
                continue
            if c not in _MD2_RESERVED:
                j = i + 1
                while j < n and text[j] not in _MD2_RESERVED and text[j] not in "\\\n":
                    j += 1
                self.emit(text[i:j])
                i = j
                continue
            if c == "*":
                self._toggle(stack, "bold", i)
                i += 1
            elif c == "_":
                if text.startswith("__", i):
                    self._toggle(stack, "underline", i)
                    i += 2
                else:
                    self._toggle(stack, "italic", i)
                    i += 1
            elif c == "~":
                self._toggle(stack, "strikethrough", i)
                i += 1
            elif c == "|" and text.startswith("||", i):
                self._toggle(stack, "spoiler", i)
                i += 2
            elif c == "`":
                if text.startswith("```", i):
                    newline = text.find("\n", i + 3)
                    closing = text.find("```", i + 3)
                    extra = {}
                    start = i + 3
                    if 0 <= newline < (closing if closing >= 0 else n):
                        language = text[i + 3 : newline].strip()
                        if language:
                            extra["language"] = language
                        start = newline + 1
                    stack.append(["pre", self.pos16, i, extra])
                    i = start
                else:
                    stack.append(["code", self.pos16, i, {}])
                    i += 1
            elif c == "[":
                stack.append(["text_link", self.pos16, i, {}])
                i += 1
            elif c == "!" and text.startswith("![", i):
                stack.append(["custom_emoji", self.pos16, i, {}])
                i += 2
            elif c == "]" and top in ("text_link", "custom_emoji"):
                if not text.startswith("(", i + 1):
                    raise TextParseError(
                        f"can't parse entities: Can't find end of a URL at byte offset "
                        f"{self.byte_offset(i)}"
                    )
                url, i = self._url(i + 2)
                kind, start16, _, _ = stack.pop()
                if kind == "custom_emoji":
                    self.entity(kind, start16, custom_emoji_id=url.rpartition("id=")[2])
                else:
                    self.entity(kind, start16, url=url)
            elif c == ">" and (i == 0 or text[i - 1] == "\n"):
                if quote_start is None:
                    quote_start = self.pos16
                i += 1
            else:
                raise TextParseError(
                    f"can't parse entities: Character '{c}' is reserved and must be escaped "
                    f"with the preceding '\\'"
                )
        if stack:
            kind, _, begin, _ = stack[-1]
            raise TextParseError(
                f"can't parse entities: Can't find end of {_MD2_NAMES[kind]} entity at byte "
                f"offset {self.byte_offset(begin)}"
            )
        if quote_start is not None:
            self.entity("blockquote", quote_start)
        return self.result()

    def _toggle(self, stack: list[list[Any]], kind: str, i: int) -> None:
        if stack and stack[-1][0] == kind:
            _, start16, _, _ = stack.pop()
            self.entity(kind, start16)
        elif any(entry[0] == kind for entry in stack):
            top_kind, _, begin, _ = stack[-1]
            raise TextParseError(
                f"can't parse entities: Can't find end of {_MD2_NAMES[top_kind]} entity at byte "
                f"offset {self.byte_offset(begin)}"
            )
        else:
            stack.append([kind, self.pos16, i, {}])

    def _url(self, i: int) -> tuple[str, int]:
        text, n, url = self.source, len(self.source), []
        while i < n and text[i] != ")":
            if text[i] == "\\" and i + 1 < n:
                url.append(text[i + 1])
                i += 2
            else:
                url.append(text[i])
                i += 1
        if i >= n:
            raise TextParseError(
                f"can't parse entities: Can't find end of a URL at byte offset "
                f"{self.byte_offset(i)}"
            )
        return "".join(url), i + 1


class _Markdown(_Builder):
    """Legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting."""

    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        text, n, i = self.source, len(self.source), 0
        while i < n:
            c = text[i]
            if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
                self.emit(text[i + 1])
                i += 2
                continue
            if c not in "_*`[":
                self.emit(c)
                i += 1
                continue
            begin = i
            if c == "[":
                close = text.find("](", i + 1)
                end = text.find(")", close + 2) if close >= 0 else -1
                if close < 0 or end < 0:
                    self._unclosed(begin)
                start16 = self.pos16
                self.emit(text[i + 1 : close])
                self.entity("text_link", start16, url=text[close + 2 : end])
                i = end + 1
            elif text.startswith("```", i):
                end = text.find("```", i + 3)
                if end < 0:
                    self._unclosed(begin)
                body, extra = text[i + 3 : end], {}
                first, sep, rest = body.partition("\n")
                if sep and first.strip() and " " not in first.strip():
                    body, extra = rest, {"language": first.strip()}
                start16 = self.pos16
                self.emit(body)
                self.entity("pre", start16, **extra)
                i = end + 3
            else:
                end = text.find(c, i + 1)
                if end < 0:
                    self._unclosed(begin)
                start16 = self.pos16
                self.emit(text[i + 1 : end])
                self.entity({"*": "bold", "_": "italic", "`": "code"}[c], start16)
                i = end + 1
        return self.result()

    def _unclosed(self, begin: int) -> None:
        raise TextParseError(
            f"can't parse entities: Can't find end of the entity starting at byte offset "
            f"{self.byte_offset(begin)}"
        )

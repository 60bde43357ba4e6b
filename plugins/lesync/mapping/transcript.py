"""Transcripts as plain text: one line per message, readable in a Salesforce field or file.

    [2017-02-01 17:12:03 UTC] liorr@liveperson.com: hello
    [2017-02-01 17:11:55 UTC] [system] Thank you for choosing to chat with us.
    [2017-02-01 17:14:00 UTC] [private] Agent Smith: note for the next agent

Agent-only lines (chat ``ONLY_TO_REP``) and private messages (messaging audience
``AGENTS_AND_MANAGERS``) are left out unless asked for, and then marked. HTML becomes text,
rich content a one-line summary, files a reference. Output depends only on the record.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from functools import lru_cache
from html import unescape
from html.parser import HTMLParser
from operator import itemgetter
from typing import Any

from lesync.mapping.convert import (
    EMPTY_STRINGS,
    EPOCH_MS_THRESHOLD,
    folded,
    format_transcript_time,
    is_empty,
    parse_instant,
    transcript_minute,
)
from lesync.mapping.limits import clean_text

CONTINUATION_INDENT = "    "
PRIVATE_MARK = "[private] "
SYSTEM_MARK = "[system] "


# --------------------------------------------------------------------------------------------
# Text helpers


class _TextExtractor(HTMLParser):
    """HTML to text: block tags and <br> become line breaks, links keep their address."""

    _BREAKS = frozenset(
        {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._href: str | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self._BREAKS:
            self.parts.append("\n")
        elif tag == "a":
            self._href = dict(attrs).get("href")
            self._link_start = len(self.parts)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BREAKS and tag != "br":
            self.parts.append("\n")
        elif tag == "a" and self._href:
            label = "".join(self.parts[self._link_start :]).strip()
            if self._href not in label:
                self.parts.append(f" ({self._href})")
            self._href = None

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment (standard library only)."""
    if "<" not in markup and "&" not in markup:
        return markup
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # malformed markup: fall back to the entities-only reading
        return unescape(markup)
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return "\n".join(line for line in lines if line)


def _indent_continuations(text: str) -> str:
    text = clean_text(text.strip("\n"))
    if "\n" not in text and "\r" not in text:
        return text
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return ("\n" + CONTINUATION_INDENT).join(lines)


_SECOND_STAMPS = tuple(f"{second:02d} UTC] " for second in range(60))


def _stamp(item: dict) -> str:
    """``[2017-02-01 17:12:03 UTC] ``: from ``timeL`` (epoch ms, the usual case, without a call
    to the parser), else ``time``."""
    when = item.get("timeL")
    if type(when) is int and when >= EPOCH_MS_THRESHOLD:
        minute, second = divmod(when // 1000, 60)
        prefix = transcript_minute(minute)
        if prefix is not None:
            return "[" + prefix + _SECOND_STAMPS[second]
    stamp = format_transcript_time(when) if when is not None else None
    if stamp is None:
        stamp = format_transcript_time(item.get("time"))
    return f"[{stamp or 'time unknown'}] "


# --------------------------------------------------------------------------------------------
# Rich content


def summarise_rich_content(content: Any) -> str:
    """``[rich content: Now on sale! | 2 images]``: texts and titles in order, then the other
    kinds of elements counted."""
    if type(content) is str:
        return _summarise_json_text(content)
    return _summarise(content)


@lru_cache(maxsize=2048)
def _summarise_json_text(content: str) -> str:
    """Cached by the JSON text: bots send the same cards again and again."""
    return _summarise(_json_value(content))


def _summarise(data: Any) -> str:
    if data is None:
        return "[rich content]"
    texts: list[str] = []
    kinds: dict[str, int] = {}
    _collect(data, texts, kinds, depth=0)
    parts = texts + [kind if count == 1 else f"{count} {kind}s" for kind, count in kinds.items()]
    return f"[rich content: {' | '.join(parts)}]" if parts else "[rich content]"


def _json_value(content: Any) -> Any:
    if type(content) is str:
        try:
            return json.loads(content)
        except ValueError:
            return None
    return content


_CONTAINERS = frozenset({"vertical", "horizontal", "carousel", "quickreplies", "list"})


def _collect(node: Any, texts: list[str], kinds: dict[str, int], depth: int) -> None:
    if depth > 20:
        return
    if type(node) is list:
        for item in node:
            _collect(item, texts, kinds, depth + 1)
        return
    if type(node) is not dict:
        return
    kind = folded(node.get("type"))
    if kind == "text" and not is_empty(node.get("text")):
        texts.append(html_to_text(str(node["text"])).replace("\n", " "))
    elif kind == "button" and not is_empty(node.get("title")):
        texts.append(f"button: {node['title']}")
    elif kind and kind not in _CONTAINERS:
        kinds[kind] = kinds.get(kind, 0) + 1
    for key in ("elements", "replies"):
        if key in node:
            _collect(node[key], texts, kinds, depth + 1)


def _quick_replies(message_data: dict) -> str | None:
    replies = message_data.get("quickReplies")
    content = replies.get("content") if type(replies) is dict else None
    return _quick_replies_text(content) if type(content) is str else None


@lru_cache(maxsize=2048)
def _quick_replies_text(content: str) -> str | None:
    data = _json_value(content)
    items = data.get("replies") if type(data) is dict else None
    titles = [str(r["title"]) for r in items or () if type(r) is dict and not is_empty(r.get("title"))]
    return f"[quick replies: {' | '.join(titles)}]" if titles else None


# --------------------------------------------------------------------------------------------
# Chat


Redact = Callable[[str], str] | None  # applied to each message's text (never to names or times)


def render_chat(record: dict, include_private: bool = False, redact: Redact = None) -> str:
    """The chat transcript (``transcript.lines[]``) as text, in the order LivePerson gives."""
    transcript = record.get("transcript") if type(record) is dict else None
    lines = transcript.get("lines") if type(transcript) is dict else None
    out = []
    for line in lines if type(lines) is list else ():
        if type(line) is dict:
            rendered = _chat_line(line, include_private, redact)
            if rendered:
                out.append(rendered)
    return "\n".join(out)


def _chat_line(line: dict, include_private: bool, redact: Redact) -> str | None:
    sub_type = line.get("subType")  # the usual spellings are compared before any folding
    private = sub_type != "REGULAR" and folded(sub_type) == "only_to_rep"
    if private and not include_private:
        return None
    text = _chat_text(line)
    if not text:
        return None
    if redact is not None:
        text = redact(text)
    source = line.get("source")
    if source != "visitor" and source != "agent" and folded(source) == "system":
        prefix = SYSTEM_MARK
    else:
        speaker = line.get("by")
        prefix = f"{speaker if not is_empty(speaker) else line.get('source') or 'unknown'}: "
    if private:
        prefix = PRIVATE_MARK + prefix
    return _stamp(line) + prefix + text


def _chat_text(line: dict) -> str:
    text_type = line.get("textType")
    if text_type != "plain":
        text_type = folded(text_type)
    text = line.get("text")
    if text_type == "rich-content":
        return summarise_rich_content(line.get("json") if line.get("json") is not None else text)
    if type(text) is not str:
        return str(text) if type(text) is int else ""
    if text.strip() in EMPTY_STRINGS:  # is_empty
        return ""
    if text_type == "html":
        text = html_to_text(text)
    return _indent_continuations(text)


# --------------------------------------------------------------------------------------------
# Messaging


def render_messaging(record: dict, include_private: bool = False, redact: Redact = None) -> str:
    """Messages and transfers as text, ordered by time then sequence number."""
    if type(record) is not dict:
        return ""
    names = _participant_names(record)
    events: list[tuple[int, int, int, str]] = []
    for index, message in enumerate(_items(record, "messageRecords")):
        rendered = _message_line(message, names, include_private, redact)
        if rendered:
            seq = message.get("seq")
            events.append((_sort_time(message), 0, seq if type(seq) is int else index, rendered))
    for index, transfer in enumerate(_items(record, "transfers")):
        events.append((_sort_time(transfer), 1, index, _transfer_line(transfer)))
    events.sort(key=_EVENT_ORDER)
    return "\n".join(event[3] for event in events)


_EVENT_ORDER = itemgetter(0, 1, 2)  # (time, message before transfer, sequence); never the text


def _items(record: dict, key: str) -> list[dict]:
    value = record.get(key)
    return [item for item in value if type(item) is dict] if type(value) is list else []


def _sort_time(item: dict) -> int:
    value = item.get("timeL")
    if type(value) is int and value >= EPOCH_MS_THRESHOLD:
        return value  # epoch ms already (what parse_instant would give back)
    if value is None:
        value = item.get("time")
    instant = parse_instant(value)
    return instant[0] * 1000 + instant[1] if instant else 0


def _participant_names(record: dict) -> dict[str, str]:
    names: dict[str, str] = {}
    for agent in _items(record, "agentParticipants"):
        name = _first_text(agent, ("agentFullName", "agentNickname", "agentLoginName"))
        for key in ("agentId", "participantId"):
            if name and not is_empty(agent.get(key)):
                names[str(agent[key])] = name
    for consumer in _items(record, "consumerParticipants"):
        full = " ".join(str(consumer[k]) for k in ("firstName", "lastName") if not is_empty(consumer.get(k)))
        name = full or _first_text(consumer, ("consumerName",))
        if name and not is_empty(consumer.get("participantId")):
            names[str(consumer["participantId"])] = name
    return names


def _first_text(item: dict, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        if not is_empty(item.get(key)):
            return str(item[key])
    return None


def _message_line(message: dict, names: dict[str, str], include_private: bool, redact: Redact) -> str | None:
    audience = message.get("audience")
    private = audience != "ALL" and folded(audience) == "agents_and_managers"
    if private and not include_private:
        return None
    text = _message_text(message)
    if not text:
        return None
    if redact is not None:
        text = redact(text)
    sender = names.get(str(message.get("participantId"))) or message.get("sentBy") or "unknown"
    prefix = f"{PRIVATE_MARK if private else ''}{sender}: "
    return _stamp(message) + prefix + text


def _message_text(message: dict) -> str:
    data = message.get("messageData")
    if type(data) is not dict:
        return ""
    kind = message.get("type")
    kind = "text_plain" if kind == "TEXT_PLAIN" else folded(kind)  # the usual spelling, unfolded
    parts: list[str] = []
    msg = data.get("msg")
    if type(msg) is dict and type(msg.get("text")) is str and msg["text"].strip():
        text = msg["text"]
        parts.append(_indent_continuations(html_to_text(text) if kind == "text_html" else text))
        if len(data) == 1:  # a text message and nothing else (most of them): no other part to look for
            return parts[0]
    if type(data.get("richContent")) is dict:
        parts.append(summarise_rich_content(data["richContent"].get("content")))
    if type(data.get("file")) is dict:
        parts.append(_file_reference(data["file"]))
    link = data.get("link") or data.get("linkPreview")
    if type(link) is dict:
        url = _first_text(link, ("uri", "url"))
        parts.append(f"[link: {url}]" if url else "[link]")
    quick = _quick_replies(data) if "quickReplies" in data else None
    if quick:
        parts.append(quick)
    if not parts and kind and kind not in ("text_plain", "text_html"):
        parts.append(f"[{kind.replace('_', ' ')}]")
    return " ".join(parts)


def _file_reference(file: dict) -> str:
    path = file.get("relativePath")
    name = posixpath.basename(str(path)) if not is_empty(path) else None
    caption = file.get("caption")
    if not name and not is_empty(file.get("fileType")):
        name = f"{str(file['fileType']).lower()} file"
    reference = f"[file: {name or 'unnamed'}]"
    return f"{clean_text(str(caption))} {reference}" if not is_empty(caption) else reference


def _transfer_line(transfer: dict) -> str:
    source = _first_text(transfer, ("sourceSkillName",))
    target = _first_text(transfer, ("targetSkillName",))
    agent = _first_text(transfer, ("sourceAgentFullName", "sourceAgentNickname", "sourceAgentLoginName"))
    text = "Transferred"
    if source or target:
        text += f" from skill {source or 'unknown'} to skill {target or 'unknown'}"
    target_agent = _first_text(transfer, ("assignedAgentFullName", "assignedAgentNickname"))
    if target_agent:
        text += f" (assigned to {target_agent})"
    if agent:
        text += f" by {agent}"
    reason = _first_text(transfer, ("reason",))
    if reason:
        text += f" (reason: {reason})"
    return _stamp(transfer) + SYSTEM_MARK + text


def render(record: dict, channel: str, include_private: bool = False, redact: Redact = None) -> str:
    """The transcript of a record of either channel; ``redact`` (a redactor's ``text``) is applied
    to what people wrote, line by line."""
    if channel == "chat":
        return render_chat(record, include_private, redact)
    return render_messaging(record, include_private, redact)

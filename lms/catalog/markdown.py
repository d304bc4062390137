"""Course Markdown to safe HTML: CommonMark with tables, then sanitised by nh3 (ammonia)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt

# Video embeds are the only frames allowed, and only from these hosts.
VIDEO_HOSTS = {
    "www.youtube-nocookie.com",
    "www.youtube.com",
    "player.vimeo.com",
}

TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "iframe",
    "img",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "s",
    "small",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
}
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "iframe": {"src", "title", "width", "height", "allowfullscreen"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "ol": {"start"},
    "abbr": {"title"},
}
URL_SCHEMES = {"https", "http", "mailto"}

_md = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False}).enable(
    "table"
)


def _filter_attribute(element: str, attribute: str, value: str) -> str | None:
    if element == "iframe" and attribute == "src":
        parts = urlsplit(value)
        if parts.scheme != "https" or parts.hostname not in VIDEO_HOSTS:
            return None
    if element == "img" and attribute == "src" and not value.startswith("https://"):
        return None
    return value


def sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        attribute_filter=_filter_attribute,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def _shift_headings(tokens: list[Any]) -> None:
    """`# Heading` becomes <h2>: the page's own title is its only <h1>."""
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"


def render(text: str) -> str:
    """Render a Markdown block (a module body, a description) to sanitised HTML."""
    tokens = _md.parse(text or "")
    _shift_headings(tokens)
    html = sanitise(_md.renderer.render(tokens, _md.options, {}))
    # A frame whose address was refused is removed whole, not left empty.
    return re.sub(r"<iframe(?![^>]*\ssrc=)[^>]*>.*?</iframe>", "", html, flags=re.S)


def render_inline(text: str) -> str:
    """Render one line of inline Markdown (a prompt, a choice) without a wrapping paragraph."""
    return sanitise(_md.renderInline(text or ""))


FORBIDDEN_TAGS = ("script", "style", "object", "embed", "form", "input", "svg", "math")
# Compiled once: every text field of every course goes through these (5,000 a check).
_FORBIDDEN_TAG = re.compile(rf"<({'|'.join(FORBIDDEN_TAGS)})[\s>/]")
_EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=")
_JAVASCRIPT_LINK = re.compile(r"javascript\s*:")
_IFRAME_SOURCE = re.compile(r"<iframe[^>]*\ssrc\s*=\s*[\"']?([^\"'\s>]+)", re.I)


def unsafe_markup(text: str) -> list[str]:
    """Describe the raw HTML in `text` that sanitising would remove, for authors to fix."""
    found = []
    lowered = text.lower()
    present = set(_FORBIDDEN_TAG.findall(lowered))
    found += [f"<{tag}> is not allowed" for tag in FORBIDDEN_TAGS if tag in present]
    if _EVENT_HANDLER.search(lowered):
        found.append("event-handler attributes (onclick=, onerror=, ...) are not allowed")
    if _JAVASCRIPT_LINK.search(lowered):
        found.append("javascript: links are not allowed")
    for match in _IFRAME_SOURCE.finditer(text):
        host = urlsplit(match.group(1)).hostname
        if host not in VIDEO_HOSTS:
            found.append(
                f"an <iframe> from {host or 'an unknown address'} is not an allowed video embed"
            )
    return found


def word_count(text: str) -> int:
    return len(re.findall(r"[A-Za-z0-9’']+", text))

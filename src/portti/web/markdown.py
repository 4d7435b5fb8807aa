"""A small, safe reader of the Markdown the terms are written in (UX-3): headings, paragraphs,
bulleted and numbered lists, ``**bold**``. Everything else is text: every character is escaped
before the few tags are added, so a file can never put markup or script on a page."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_HEADING = re.compile(r"^(#{1,6})\s+(.+)$")
_BULLET = re.compile(r"^[-*]\s+")
_NUMBERED = re.compile(r"^\d+\.\s+")
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _inline(text: str) -> Markup:
    parts = _BOLD.split(" ".join(text.split()))
    # split() alternates plain text and the text between ** and **.
    return Markup("").join(
        Markup("<strong>{}</strong>").format(part) if i % 2 else escape(part)
        for i, part in enumerate(parts)
    )


def _items(lines: list[str], marker: re.Pattern[str]) -> list[str]:
    items: list[str] = []
    for line in lines:
        if marker.match(line):
            items.append(marker.sub("", line, count=1))
        elif items:
            items[-1] += " " + line.strip()
    return items


def render_markdown(text: str, *, top_level: int = 1) -> Markup:
    """HTML for ``text``; ``#`` becomes ``<h{top_level}>``, ``##`` the next level, and so on."""
    out: list[Markup] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line.rstrip() for line in block.strip().splitlines() if line.strip()]
        if not lines:
            continue
        first = lines[0].lstrip()
        if (m := _HEADING.match(first)) and len(lines) == 1:
            level = min(6, len(m.group(1)) + top_level - 1)
            out.append(Markup("<h{0}>{1}</h{0}>").format(level, _inline(m.group(2))))
        elif _BULLET.match(first) or _NUMBERED.match(first):
            bulleted = bool(_BULLET.match(first))
            marker = _BULLET if bulleted else _NUMBERED
            items = Markup("").join(
                Markup("<li>{}</li>").format(_inline(i)) for i in _items(lines, marker)
            )
            wrapper = Markup("<ul>{}</ul>") if bulleted else Markup("<ol>{}</ol>")
            out.append(wrapper.format(items))
        else:
            out.append(Markup("<p>{}</p>").format(_inline(" ".join(lines))))
    return Markup("\n").join(out)

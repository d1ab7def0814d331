"""Structure checks of occmer's HTML pages with the standard library's parser (no browser needed).

A page must be self-contained: every image a data: URI that decodes, no script, no stylesheet
or image fetched from anywhere, every table with a header row and a body.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from html.parser import HTMLParser

from PIL import Image


@dataclass
class Table:
    header_cells: int = 0
    body_rows: int = 0


@dataclass
class PageStructure:
    images: list[dict[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    section_ids: list[str] = field(default_factory=list)
    scripts: int = 0
    external: list[str] = field(default_factory=list)
    title: str = ""


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.page = PageStructure()
        self._in_title = False
        self._in_thead = False
        self._in_tbody = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.page.images.append(attrs)
        elif tag == "script":
            self.page.scripts += 1
        elif tag == "section":
            self.page.section_ids.append(attrs.get("id", ""))
        elif tag == "table":
            self.page.tables.append(Table())
        elif tag == "thead":
            self._in_thead = True
        elif tag == "tbody":
            self._in_tbody = True
        elif tag == "th" and self._in_thead:
            self.page.tables[-1].header_cells += 1
        elif tag == "tr" and self._in_tbody:
            self.page.tables[-1].body_rows += 1
        elif tag == "title":
            self._in_title = True
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            if tag in ("link", "img", "iframe", "source", "video", "audio", "object", "embed") and value and \
                    not value.startswith("data:"):
                self.page.external.append(value)
            if value.startswith(("http:", "https:", "//")):
                self.page.external.append(value)

    def handle_endtag(self, tag):
        if tag == "thead":
            self._in_thead = False
        elif tag == "tbody":
            self._in_tbody = False
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.page.title += data


def parse_page(text: str) -> PageStructure:
    parser = _Parser()
    parser.feed(text)
    parser.close()
    return parser.page


def decode_image(src: str) -> Image.Image:
    header, _, payload = src.partition(",")
    assert header.startswith("data:image/") and header.endswith(";base64"), header[:40]
    image = Image.open(io.BytesIO(base64.b64decode(payload)))
    image.load()
    return image


def check_self_contained(page: PageStructure) -> None:
    """No script, nothing fetched, every image decodes."""
    assert page.scripts == 0, "the page must read without JavaScript"
    assert not page.external, f"the page fetches {page.external[:3]}"
    for attrs in page.images:
        image = decode_image(attrs["src"])
        assert image.size[0] > 10 and image.size[1] > 10
        assert attrs.get("alt"), "every image needs an alt text"
    for table in page.tables:
        assert table.body_rows >= 1, "an empty table"

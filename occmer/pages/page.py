"""The parts every occmer HTML page shares: style, escaping, data URIs, the page frame.

A page is one file: images are data: URIs, the style is inline, there is no script, and it
is written atomically (a reader never sees half a page).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BASE_STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1e1e22;
       max-width: 1180px; margin: 0 auto; padding: 1.5em 1.2em 4em; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 2em;
     border-bottom: 1px solid #ddd; padding-bottom: 0.2em; } h3 { font-size: 1.05em; }
.muted { color: #666; } code, pre { font: 13px/1.4 ui-monospace, Menlo, Consolas, monospace; }
pre { background: #f6f6f4; padding: 0.8em; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.55em; text-align: left; vertical-align: top; }
th { background: #f3f3f1; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figcaption { color: #444; font-size: 0.9em; } nav a { margin-right: 0.8em; }
@media print { body { max-width: none; font-size: 11pt; } nav { display: none; }
               figure, table { page-break-inside: avoid; } }
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def data_uri(data: bytes, mime: str) -> str:
    """Bytes as a data: URI, so the page needs no other file."""
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def key_value_table(pairs: Sequence[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{esc(k)}</th><td><code>{esc(v)}</code></td></tr>" for k, v in pairs)
    return f"<table><tbody>{body}</tbody></table>"


def write_page(out: Path, title: str, heading: str, subtitle: str, sections: Sequence[tuple[str, str, str]],
               style: str = "") -> Path:
    """A complete page: heading, a nav of the sections, each section (id, title, html body)."""
    nav = "".join(f'<a href="#{esc(key)}">{esc(name)}</a>' for key, name, _ in sections)
    body = "".join(f'<section id="{esc(key)}"><h2>{esc(name)}</h2>{content}</section>'
                   for key, name, content in sections)
    page = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{BASE_STYLE}{style}</style></head><body>"
            f"<h1>{esc(heading)}</h1><p class=\"muted\">{subtitle}</p><nav>{nav}</nav>{body}</body></html>\n")
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)  # a failed write (disk full) leaves no hidden half page
    return out

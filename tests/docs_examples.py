"""The documentation's examples as data: fenced blocks of README.md and docs/*.md, and the
`occmer` commands and options they mention.

Which fences run: ```bash (sh, shell, console) and ```python. Other fences are text. A fence
without a language whose first line is an `occmer`/`python`/`make` command is reported (label it
bash, or text if it is not meant to run), so a command cannot escape the tests unlabelled.

Markers, HTML comments on the lines right above a fence (invisible on GitHub), one per line:

    <!-- docs-test: skip REASON -->               the block is not run; REASON says why
    <!-- docs-test: slow -->                      run only by `make test-slow` (long examples)
    <!-- docs-test: fast -->                      run by `make test` (docs/*.md blocks are slow otherwise)
    <!-- docs-test: skip-line PREFIX: REASON -->   shell lines starting with PREFIX are not run

README.md's blocks run in the default suite unless marked slow; docs/*.md blocks run under
`make test-slow` unless marked fast, so that new documentation does not lengthen `make test`;
tests/test_docs_twins.py gives each page's slow examples a fast twin (same calls, small data).

The runner (tests/test_docs.py) runs the blocks of README.md, then docs/*.md in name order,
in one scratch folder, with the small demo and few epochs set through the environment
variables the commands honour (OCCMER_DEMO_PARAMS, OCCMER_BENCH_EPOCHS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHELL_LANGS = {"bash", "sh", "shell", "console"}
RUN_LANGS = SHELL_LANGS | {"python"}
COMMAND_START = re.compile(r"^\s*(occmer|python|make)\s")
_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
_MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(skip-line|skip|slow|fast)\b\s*(.*?)\s*-->\s*$")


@dataclass
class Command:
    """One shell command of a block (continuation lines joined) and the doc line it starts on."""

    text: str
    line: int


@dataclass
class Example:
    """One fenced block to run."""

    doc: str  # path relative to the repository, e.g. "README.md"
    line: int  # line of the opening fence (1-based)
    lang: str  # "shell" or "python"
    code: str
    skip: str = ""  # reason, when the block is not run
    slow: bool = False
    skip_lines: dict[str, str] = field(default_factory=dict)  # command prefix -> reason

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"

    def commands(self) -> list[Command]:
        """Shell commands in order; comment-only and blank lines dropped, `\\` continuations joined."""
        out: list[Command] = []
        pending, start = "", 0
        for offset, raw in enumerate(self.code.splitlines(), start=self.line + 1):
            if not pending and (not raw.strip() or raw.lstrip().startswith("#")):
                continue
            start = start if pending else offset
            if raw.rstrip().endswith("\\"):
                pending += raw.rstrip()[:-1] + " "
                continue
            out.append(Command((pending + raw).strip(), start))
            pending = ""
        if pending:
            out.append(Command(pending.strip(), start))
        return out

    def skipped_because(self, command: Command) -> str:
        for prefix, reason in self.skip_lines.items():
            if command.text.startswith(prefix):
                return reason
        return ""


class DocsFormatError(ValueError):
    """A marker or fence the harness cannot read (the message names the file and line)."""


def documents() -> list[Path]:
    """README.md first, then docs/*.md in name order: the order a new user reads them."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def extract(path: Path) -> list[Example]:
    """The runnable fenced blocks of one Markdown file, with their markers."""
    doc = str(path.relative_to(REPO))
    lines = path.read_text(encoding="utf-8").splitlines()
    examples: list[Example] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, lang = match.group(2), match.group(3).lower()
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip().startswith(fence)), None)
        if end is None:
            raise DocsFormatError(f"{doc}:{i + 1}: fence {fence} is never closed")
        body = "\n".join(line[len(match.group(1)):] if line.startswith(match.group(1)) else line
                         for line in lines[i + 1:end])
        markers = _markers_above(lines, i, doc)
        if not lang and body.strip() and COMMAND_START.match(body.strip().splitlines()[0]):
            raise DocsFormatError(
                f"{doc}:{i + 1}: a fence without a language starts with a command; label it ```bash "
                "(run by tests/test_docs.py) or ```text"
            )
        if lang in RUN_LANGS:
            example = Example(doc, i + 1, "shell" if lang in SHELL_LANGS else "python", body, slow=doc != "README.md")
            for kind, argument in markers:
                if kind == "skip":
                    example.skip = argument
                elif kind in ("slow", "fast"):
                    example.slow = kind == "slow"
                else:
                    prefix, _, reason = argument.partition(":")
                    example.skip_lines[prefix.strip().strip('"')] = reason.strip()
            examples.append(example)
        elif markers:
            raise DocsFormatError(f"{doc}:{i + 1}: docs-test marker above a ```{lang or 'text'} fence, which never runs")
        i = end + 1
    return examples


def _markers_above(lines: list[str], fence: int, doc: str) -> list[tuple[str, str]]:
    found = []
    j = fence - 1
    while j >= 0 and "docs-test" in lines[j]:
        match = _MARKER.match(lines[j])
        if not match:
            raise DocsFormatError(
                f"{doc}:{j + 1}: unreadable marker {lines[j].strip()!r}; use <!-- docs-test: skip REASON -->, "
                "<!-- docs-test: slow|fast --> or <!-- docs-test: skip-line PREFIX: REASON -->"
            )
        kind, argument = match.group(1), match.group(2)
        if kind in ("skip", "skip-line") and not argument:
            raise DocsFormatError(f"{doc}:{j + 1}: a {kind} marker must say why")
        found.append((kind, argument))
        j -= 1
    return found[::-1]


# --- commands and options the docs mention -------------------------------------------------

_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_OCCMER = re.compile(r"(?:^|[\s;|&(])(?:python -m )?occmer((?:\s+--?[a-z][\w-]*)*)\s+([a-z][a-z0-9-]*)")
_OPTION = re.compile(r"(?<![\w/.-])--[a-z][a-z0-9-]*")
_HEADING = re.compile(r"^#+\s")


@dataclass(frozen=True)
class Mention:
    """`occmer SUBCOMMAND` (and the options written with it) somewhere in the docs."""

    where: str
    commands: tuple[str, ...]  # the subcommand, or the commands of the section a bare option sits in
    options: tuple[str, ...]
    text: str


def mentions(path: Path) -> list[Mention]:
    """Every `occmer X --opt` in fenced shell blocks and inline code, and every bare `--opt` code
    span in a table row under a heading that names `occmer X` (the option tables)."""
    doc = str(path.relative_to(REPO))
    found: list[Mention] = []
    section: tuple[str, ...] = ()
    in_fence, fence_lang = False, ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        fence = _FENCE.match(line)
        if fence:
            in_fence, fence_lang = (not in_fence), fence.group(3).lower()
            continue
        where = f"{doc}:{number}"
        if in_fence:
            if fence_lang in SHELL_LANGS:
                found += _command_mentions(where, line.split("#", 1)[0])
            continue
        if _HEADING.match(line):
            section = tuple(m.group(2) for m in _OCCMER.finditer(" " + " ".join(_CODE_SPAN.findall(line))))
        for span in _CODE_SPAN.findall(line):
            commands = _command_mentions(where, span)
            found += commands
            if not commands and section and span.startswith("--") and line.lstrip().startswith("|"):
                found.append(Mention(where, section, tuple(_OPTION.findall(span)), span))
    return found


def _command_mentions(where: str, text: str) -> list[Mention]:
    out = []
    for piece in re.split(r"&&|\|\||;|\|", text):
        match = _OCCMER.search(" " + piece)
        if match:
            options = _OPTION.findall(match.group(1)) + _OPTION.findall(piece[match.end() - 1:])
            out.append(Mention(where, (match.group(2),), tuple(options), piece.strip()))
    return out

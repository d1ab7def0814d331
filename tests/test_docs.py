"""Documentation executed: every shell and Python example of README.md and docs/*.md runs as
written, in order, in one scratch folder, and every `occmer` command and option the docs
mention exists. A broken example fails naming its file and line.

The examples run against the demo database made small through the environment, never
through edited copies of the commands: OCCMER_DEMO_PARAMS (the tests' small demo),
OCCMER_LONG_DEMO_PARAMS (a small long demo), OCCMER_BENCH_EPOCHS=1. `occmer` and `python` are
this interpreter with this checkout first on PYTHONPATH; `make X` runs the Makefile's recipe for
X with that occmer instead of a new .venv. Markers (skip with a reason, slow, skip-line) are
described in tests/docs_examples.py.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SMALL_DEMO
from docs_examples import REPO, DocsFormatError, Example, documents, extract, mentions

from occmer.cli import cli


def _collect() -> tuple[list[Example], list[str]]:
    examples, errors = [], []
    for doc in documents():
        try:
            examples += extract(doc)
        except DocsFormatError as exc:
            errors.append(str(exc))
    return examples, errors


EXAMPLES, FORMAT_ERRORS = _collect()
TIMEOUT_S = 900
TAIL = 3000


@dataclass
class Workspace:
    """The scratch folder the examples share, its environment, and which examples have run."""

    root: Path
    env: dict[str, str]
    done: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)  # doc -> where its first failure was


def _wrappers(bin_dir: Path) -> None:
    """occmer, python and make on PATH, all bound to this interpreter and checkout."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    python = shlex.quote(sys.executable)
    real_make = shutil.which("make") or "make"  # resolved before the wrapper shadows it on PATH
    scripts = {
        "occmer": f'exec {python} -m occmer "$@"\n',
        "python": f'exec {python} "$@"\n',
        "python3": f'exec {python} "$@"\n',
        # The Makefile's own recipe; `install` (a fresh .venv) is what this interpreter already is.
        "make": f'exec /usr/bin/env -u MAKEFLAGS -u MAKELEVEL {shlex.quote(real_make)} -C {shlex.quote(str(REPO))} -o install '
                f'OCCMER="{bin_dir}/occmer" PY="{bin_dir}/python" DEMO_OUT="$PWD/out" "$@"\n',
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("docs-examples")
    scratch = root / "work"
    scratch.mkdir()
    _wrappers(root / "bin")
    env = dict(os.environ)
    env.update({
        "PATH": f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")])),
        "OCCMER_DEMO_PARAMS": ",".join(f"{k}={v}" for k, v in SMALL_DEMO.items()),
        "OCCMER_LONG_DEMO_PARAMS": "subjects=2,seconds=10",  # the cached long demo of --db demo-long
        "OCCMER_BENCH_EPOCHS": "1",
        "OMP_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    })
    env.pop("OCCMER_DEMO_ROOT", None)
    return Workspace(scratch, env)


def _run_shell(example: Example, ws: Workspace) -> None:
    for command in example.commands():
        reason = example.skipped_because(command)
        if reason:
            print(f"{example.doc}:{command.line}: not run ({reason}): {command.text}")
            continue
        result = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command.text], cwd=ws.root, env=ws.env, capture_output=True,
            text=True, timeout=TIMEOUT_S,
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr)[-TAIL:]
            raise AssertionError(
                f"{example.doc}:{command.line}: `{command.text}` exited {result.returncode}\n{output}"
            )


def _run_python(example: Example, ws: Workspace) -> None:
    script = ws.root / f".example_{Path(example.doc).stem}_{example.line}.py"
    script.write_text(example.code)
    result = subprocess.run(
        [sys.executable, script.name], cwd=ws.root, env=ws.env, capture_output=True, text=True, timeout=TIMEOUT_S,
    )
    if result.returncode != 0:
        lines = [int(n) for n in re.findall(rf'File "[^"]*{re.escape(script.name)}", line (\d+)', result.stderr)]
        line = example.line + (lines[-1] if lines else 1)
        raise AssertionError(f"{example.doc}:{line}: the Python example of {example.where} failed\n"
                             f"{(result.stdout + result.stderr)[-TAIL:]}")


def run_example(example: Example, ws: Workspace) -> None:
    """Run one block (shell: command by command; Python: as one script) in the scratch folder."""
    try:
        (_run_shell if example.lang == "shell" else _run_python)(example, ws)
    except Exception:
        ws.failed.setdefault(example.doc, example.where)
        raise
    finally:
        ws.done.add(example.where)


def _catch_up(example: Example, ws: Workspace) -> None:
    """Run the examples before this one that were not selected (`-m slow`, `-k`): later
    examples use the files earlier ones wrote. A fast example only catches up fast ones, so a
    fast example that needs a slow one's output fails instead of slowing the default run."""
    for earlier in EXAMPLES[: EXAMPLES.index(example)]:
        if earlier.where not in ws.done and not earlier.skip and (example.slow or not earlier.slow):
            run_example(earlier, ws)


@pytest.mark.parametrize(
    "example", [pytest.param(e, id=e.where, marks=[pytest.mark.slow] if e.slow else []) for e in EXAMPLES]
)
def test_documented_example_runs(example: Example, workspace: Workspace) -> None:
    if example.skip:
        pytest.skip(f"{example.where}: {example.skip}")
    if example.doc in workspace.failed:
        pytest.skip(f"an earlier example of {example.doc} failed ({workspace.failed[example.doc]})")
    _catch_up(example, workspace)
    run_example(example, workspace)


def test_readme_loading_examples_batch_a_grey_and_colour_file(grey_and_colour_file: Path, tmp_path: Path) -> None:
    """The README's DataLoader example, as written, on a file mixing 1- and 3-channel clips
    (what `--color keep` writes for SAMM + CASME II) put where the example looks for it."""
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "demo_glasses.h5").symlink_to(grey_and_colour_file)
    loaders = [e for e in EXAMPLES if e.doc == "README.md" and e.lang == "python" and "DataLoader" in e.code]
    assert loaders, "README.md has no DataLoader example any more"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    for example in loaders:
        run_example(example, Workspace(tmp_path, env))


def test_docs_markers_and_fences_are_readable() -> None:
    assert not FORMAT_ERRORS, "\n".join(FORMAT_ERRORS)


# --- commands and options --------------------------------------------------------------------

def _help_options(args: list[str]) -> set[str]:
    result = CliRunner().invoke(cli, [*args, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", result.output))


def test_every_documented_command_and_option_exists() -> None:
    """`occmer X --opt` anywhere in the docs: X is a command and --opt is in `occmer X --help`."""
    global_options = _help_options([])
    helps: dict[str, set[str]] = {}
    problems = []
    for doc in documents():
        for mention in mentions(doc):
            known = [c for c in mention.commands if c in cli.commands]
            if not known:
                problems.append(f"{mention.where}: `occmer {mention.commands[0]}` is not a command ({mention.text})")
                continue
            for name in known:
                helps.setdefault(name, _help_options([name]))
            for option in mention.options:
                if option not in global_options and not any(option in helps[n] for n in known):
                    problems.append(f"{mention.where}: {option} is not an option of occmer "
                                    f"{'/'.join(known)} ({mention.text})")
    assert not problems, "\n".join(problems)


def test_harness_reads_markers_and_reports_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import docs_examples

    monkeypatch.setattr(docs_examples, "REPO", tmp_path)
    doc = tmp_path / "guide.md"
    doc.write_text(
        "# `occmer verify`\n\n| `--strict` | and `--loose` |\n\n`occmer nosuch --x`\n\n"
        "<!-- docs-test: skip needs the licensed SAMM release -->\n```bash\nocc A\n```\n\n"
        "<!-- docs-test: slow -->\n<!-- docs-test: skip-line make test: runs this suite -->\n```sh\n"
        "# comment\nmake demo\nmake test \\\n  -k x\n```\n\n```python\nprint(1)\n```\n"
    )
    skip, slow, py = extract(doc)
    assert skip.skip == "needs the licensed SAMM release" and skip.line == 8
    assert slow.slow and [(c.text, c.line) for c in slow.commands()] == [("make demo", 16), ("make test    -k x", 17)]
    assert slow.skipped_because(slow.commands()[1]) == "runs this suite" and not slow.skipped_because(slow.commands()[0])
    assert py.lang == "python" and py.code == "print(1)"
    found = {(m.commands, m.options) for m in mentions(doc)}
    assert found == {(("verify",), ()), (("verify",), ("--strict",)), (("verify",), ("--loose",)), (("nosuch",), ("--x",))}
    doc.write_text("<!-- docs-test: skip -->\n```bash\nocc\n```\n")
    with pytest.raises(DocsFormatError, match="guide.md:1: a skip marker must say why"):
        extract(doc)
    doc.write_text("text\n```\noccmer verify x.h5\n```\n")
    with pytest.raises(DocsFormatError, match="guide.md:2: .*label it"):
        extract(doc)


def test_a_broken_example_names_its_file_and_line(tmp_path: Path) -> None:
    ws = Workspace(tmp_path, dict(os.environ))
    shell = Example("guide.md", 10, "shell", "true\n\nfalse  # breaks\n")
    with pytest.raises(AssertionError, match=r"guide.md:13: `false  # breaks` exited 1"):
        run_example(shell, ws)
    python = Example("guide.md", 20, "python", "x = 1\nraise SystemExit(x / 0)\n")
    with pytest.raises(AssertionError, match=r"guide.md:22: the Python example"):
        run_example(python, ws)

"""Resolving --db/--root into adapters, merged scans, and the `occmer describe` command."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from dbfixtures import CASME2_ROWS, SAMM_ROWS, write_casme2, write_samm, write_smic

from occmer.cli import cli
from occmer.databases.resolve import parse_roots, parse_spec, resolve_databases, scan_all
from occmer.errors import ConfigError, DataError


def test_single_database_bare_root(tmp_path):
    (db,) = resolve_databases("casme2", [str(write_casme2(tmp_path))])
    assert db.name == "casme2" and db.root == tmp_path.resolve() and db.apex_policy == "midpoint"


def test_merged_roots_by_name_and_merged_scan(tmp_path):
    c2, samm = write_casme2(tmp_path / "c2"), write_samm(tmp_path / "samm")
    databases = resolve_databases("casme2+samm", [f"samm={samm}", f"casme2={c2}"], apex_policy="flow")
    assert [d.name for d in databases] == ["casme2", "samm"]
    result = scan_all(databases)
    assert len(result.clips) == len(CASME2_ROWS) + len(SAMM_ROWS)
    assert {c.subject.split("/")[0] for c in result.clips} == {"casme2", "samm"}
    assert {c.apex_source for c in result.clips if c.filename == "EP03_02"} == {"flow"}


def test_env_var_then_fallback(tmp_path, monkeypatch):
    root = write_casme2(tmp_path / "env")
    monkeypatch.setenv("OCCMER_CASME2_ROOT", str(root))
    assert resolve_databases("casme2", [])[0].root == root.resolve()
    monkeypatch.delenv("OCCMER_CASME2_ROOT")
    assert resolve_databases("casme2", [], fallback_roots={"casme2": root})[0].root == root.resolve()


def test_missing_root_says_where(monkeypatch):
    monkeypatch.delenv("OCCMER_SAMM_ROOT", raising=False)
    with pytest.raises(ConfigError) as info:
        resolve_databases("samm", [])
    text = str(info.value)
    assert "--root" in text and "OCCMER_SAMM_ROOT" in text and "SAMM_Micro_FACS_Codes_v2.xlsx" in text


def test_bad_specs_and_roots(tmp_path):
    with pytest.raises(ConfigError, match="unknown database casme4"):
        parse_spec("casme4")
    with pytest.raises(ConfigError, match="twice"):
        parse_spec("samm+samm")
    with pytest.raises(ConfigError, match="NAME=PATH"):
        parse_roots(["casme2", "samm"], ["/data"])
    with pytest.raises(ConfigError, match="not in --db"):
        parse_roots(["casme2"], ["samm=/data"])
    with pytest.raises(ConfigError, match="apex policy"):
        resolve_databases("casme2", [str(tmp_path)], apex_policy="peak")
    with pytest.raises(DataError, match="not found"):
        resolve_databases("casme2", [str(tmp_path / "nowhere")])


def test_describe_prints_counts_and_problems(tmp_path):
    import dataclasses

    rows = [*CASME2_ROWS, dataclasses.replace(CASME2_ROWS[0], filename="EP99_gone", frames=None)]
    root = write_casme2(tmp_path, rows=rows)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = CliRunner().invoke(cli, ["describe", "--db", "casme2", "--root", str(root), "--labels", "megc2019"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"clips: {len(CASME2_ROWS)} valid, 1 with problems; subjects: 3" in out
    assert "negative" in out and "(not in scheme)" in out
    total_line = next(line for line in out.splitlines() if line.strip().startswith("total"))
    # negative positive surprise dropped total: the official MEGC 2019 list holds 2 of these 6 clips
    assert total_line.split()[1:] == ["1", "1", "0", "4", "6"]
    assert "apex: annotated 5, midpoint 1" in out
    assert "casme2_sub01_EP99_gone: clip folder not found" in out
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written
    strict = CliRunner().invoke(cli, ["describe", "--db", "casme2", "--root", str(root), "--strict"])
    assert strict.exit_code == 2 and "1 problems" in strict.output


def test_describe_merged_smic_and_list(tmp_path):
    smic, c2 = write_smic(tmp_path / "smic", cameras=("HS",)), write_casme2(tmp_path / "c2")
    args = ["describe", "--db", "smic-hs+casme2", "--root", f"smic-hs={smic}", "--root", f"casme2={c2}",
            "--labels", "objective"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "(smic-hs 4, casme2 6)" in result.output
    listing = CliRunner().invoke(cli, ["describe", "--list"])
    assert listing.exit_code == 0 and "casme2x" in listing.output and "OCCMER_MMEW_ROOT" in listing.output


def test_describe_error_is_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["describe", "--db", "casme2", "--root", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "CASME2-coding-*.xlsx" in result.output

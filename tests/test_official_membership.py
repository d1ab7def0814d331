"""Official protocol membership: the shipped lists, matching, reports, refusal and --allow-partial."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest
from click.testing import CliRunner

from occmer.bench.runner import Settings
from occmer.bench.training import TrainConfig
from occmer.cli import cli
from occmer.errors import BenchError
from occmer.official import canonical_database, clip_key, official_list
from occmer.protocols import PROTOCOLS, database_for_protocol, protocol_databases


def test_megc2019_list_has_the_published_counts():
    listed = official_list("megc2019")
    assert len(listed.clips) == 442
    counts = Counter((c.database, c.label) for c in listed.clips)
    assert [counts[("smic-hs", k)] for k in ("negative", "positive", "surprise")] == [70, 51, 43]
    assert [counts[("casme2", k)] for k in ("negative", "positive", "surprise")] == [88, 32, 25]
    assert [counts[("samm", k)] for k in ("negative", "positive", "surprise")] == [92, 26, 15]
    assert len({(c.database, c.subject) for c in listed.clips}) == 68
    assert len({c.key for c in listed.clips}) == 442  # keys stay unique after normalisation
    keys = {c.key for c in listed.clips}
    # the two disgust clips the challenge left out, and the two SAMM clips with apex typos
    assert clip_key("casme2", "sub04", "EP12_01f") not in keys and clip_key("casme2", "sub05", "EP09_05f") not in keys
    assert clip_key("samm", "028", "028_4_1") in keys and clip_key("samm", "032", "032_3_1") in keys


def test_megc2018_table_is_classes_one_to_five_of_casme2_and_samm():
    listed = official_list("megc2018")
    assert set(listed.databases) == {"casme2", "samm"}
    assert {c.label for c in listed.clips} <= {"I", "II", "III", "IV", "V"}
    assert "no public official list" in listed.source


def test_keys_match_across_spellings():
    assert clip_key("smic", "s01", "s01_ne_01") == clip_key("smic-hs", "smic-hs/s1", "s1_ne_01")
    assert clip_key("samm", "6", "006_1_2") == clip_key("samm", "samm/006", "006_1_2")
    assert canonical_database("SMIC") == "smic-hs" and canonical_database("CASME II".replace(" ", "")) == "casme2"


def test_canonical_names_for_importers():
    assert protocol_databases("megc2019") == ("smic-hs", "casme2", "samm")
    assert database_for_protocol("smic", "megc2019") == "smic-hs"
    assert database_for_protocol("CASME II", "megc2019") == "casme2"
    with pytest.raises(BenchError, match="expects smic-hs, casme2, samm"):
        database_for_protocol("mmew", "megc2019")
    assert protocol_databases("loso") == ()


def _table(clips, label_of_key=None):
    rows = []
    for i, (db, subject, filename, label) in enumerate(clips):
        rows.append({"sample_id": f"x{i}", "database": db, "subject": f"{db}/{subject}", "filename": filename,
                     "label": label})
    return pd.DataFrame(rows)


def _official_rows(database: str, written_as: str | None = None):
    from occmer.labels import label_of

    out = []
    for c in official_list("megc2019").clips:
        if c.database == database:
            row = {"database": written_as or database, "subject": c.subject, "filename": c.filename}
            out.append((row["database"], c.subject, c.filename, label_of(row, "megc2019")))
    return out


def test_membership_reports_present_missing_and_left_out():
    smic = _official_rows("smic-hs", written_as="smic")  # a file that names SMIC-HS "smic"
    samm = _official_rows("samm")
    table = _table(smic + samm[:-2] + [("samm", "006", "006_9_9", ""), ("mmew", "S01", "a", "negative")])
    membership = PROTOCOLS["megc2019"].membership(table)
    assert (membership.present, membership.expected) == (164 + 131, 442)  # CASME II is absent: short of it all
    assert membership.absent == ("casme2",)
    assert [m for m in membership.missing if m.startswith("samm/")] == [f"samm/{c[1]}/{c[2]}" for c in samm[-2:]]
    assert membership.left_out[("samm", "not on the official list")] == 1
    assert any(d == "mmew" and "not one of" in r for d, r in membership.left_out)
    assert "official list: 295/442 present; missing: all 145 casme2 clips; samm/" in membership.headline()
    with pytest.raises(BenchError, match="--allow-partial"):
        PROTOCOLS["megc2019"].select(table, allow_partial=False)
    selected = PROTOCOLS["megc2019"].select(table, allow_partial=True)
    assert len(selected) == 164 + 131  # the unlisted SAMM clip and the MMEW clip are left out
    assert set(selected["database"]) == {"smic", "samm"}  # "smic" rows were matched, not dropped


def test_complete_list_passes_and_demo_follows_the_rules():
    full = _table(_official_rows("smic-hs") + _official_rows("casme2") + _official_rows("samm"))
    membership = PROTOCOLS["megc2019"].membership(full)
    assert membership.complete and membership.headline().endswith("official list: 442/442 present")
    assert len(PROTOCOLS["megc2019"].select(full, allow_partial=False)) == 442
    demo = _table([("demo", "sub01", "EP01", "negative"), ("demo", "sub02", "EP02", "positive")])
    report = PROTOCOLS["megc2019"].membership(demo)
    assert not report.checked and "published rules" in report.headline()
    assert len(PROTOCOLS["megc2019"].select(demo, allow_partial=False)) == 2


def test_unknown_database_name_says_which_names_the_protocol_expects():
    table = _table([("casme_two", "s1", "a", "negative"), ("casme_two", "s2", "b", "positive")])
    with pytest.raises(BenchError, match="expects databases named smic-hs, casme2, samm.*also written.*smic"):
        PROTOCOLS["megc2019"].select(table)


def test_bench_refuses_a_protocol_short_of_the_list(tmp_path):
    from test_bench_support import write_tiny

    data = write_tiny(tmp_path / "samm.h5", database="samm")
    result = CliRunner().invoke(cli, ["bench", "ststnet", "--protocol", "megc2019", "--data", str(data),
                                      "--out", str(tmp_path / "out"), "--epochs", "1", "--device", "cpu"])
    assert result.exit_code == 2, result.output
    assert "official list: 0/442 present; missing: all 145 casme2 clips; all 164 smic-hs clips" in result.output
    assert "--allow-partial" in result.output


def test_partial_and_rules_are_part_of_the_run_identity():
    base = Settings(protocol="megc2019", labels="megc2019", features=None, train=TrainConfig(epochs=1))
    partial = Settings(protocol="megc2019", labels="megc2019", features=None, train=TrainConfig(epochs=1),
                       allow_partial=True, membership="rules")
    assert base.identity()["allow_partial"] is False and base.identity()["membership"] == "official"
    assert partial.identity()["allow_partial"] is True and partial.identity()["membership"] == "rules"

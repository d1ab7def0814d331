"""The MEGC spotting and spot-then-recognize metrics.

Spotting (MEGC 2019-2023; Li et al., FG 2019 and the MEGC 2020-2022 spotting tasks): in each
video a spotted interval is a true positive (TP) when its temporal IoU with a true interval is
at least 0.5, each true interval matched at most once; spotted intervals left over are false
positives (FP), true ones left over false negatives (FN). TP, FP and FN are summed over every
video of a database, then precision = TP / (TP + FP), recall = TP / (TP + FN) and
F1 = 2PR / (P + R): one F1 per database, never an average of per-video F1s. Micro- and
macro-expressions are matched and counted separately (a spotted interval labelled micro is
compared with the true micro-expressions only); "overall" sums the two kinds' counts; the
pooled result over databases sums every database's counts.

Spot-then-recognize (MEGC 2024-2025; Liong, See and Chan 2023, the STRS metric script): the
analysis is scored on the spotting TPs only. For each emotion class e of the analysis set,
TP_e = TPs whose true and spotted labels are both e, FP_e = spotted e but truly another,
FN_e = truly e but spotted another; the analysis precision and recall are the means of the
per-class values and analysis F1 = 2PR / (P + R). STRS = spotting F1 x analysis F1.

Where the published STRS script differs, occmer follows the written rule (docs/spotting.md):
a spotted interval matches at most one true interval (the script can count one interval
twice when it reaches IoU 0.5 with two), every video and subject counts (the script skips
videos without truth and subjects without predictions), and UAR is the mean recall.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from occmer.spotting.intervals import KINDS, Interval, iou

IOU_THRESHOLD = 0.5
OVERALL = "overall"  # both kinds (a kind key) or every database (a database key)


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def _f1(precision: float, recall: float) -> float:
    return _ratio(2 * precision * recall, precision + recall)


@dataclass(frozen=True)
class Counts:
    """TP, FP and FN of a pool of videos, and the scores they give."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        return _f1(self.precision, self.recall)

    def as_dict(self) -> dict:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "precision": self.precision, "recall": self.recall, "f1": self.f1}


@dataclass(frozen=True)
class Match:
    """A spotting TP: the true interval and the spotted one that reached the IoU threshold."""

    truth: Interval
    spotted: Interval
    iou: float


@dataclass(frozen=True)
class Matching:
    """The outcome of one pool of intervals: TPs (matches), FPs and FNs."""

    matches: list[Match] = field(default_factory=list)
    false_positives: list[Interval] = field(default_factory=list)
    false_negatives: list[Interval] = field(default_factory=list)

    @property
    def counts(self) -> Counts:
        return Counts(len(self.matches), len(self.false_positives), len(self.false_negatives))


def _order(interval: Interval) -> tuple[int, int]:
    return (interval.onset, interval.offset)


def match_intervals(truth: Iterable[Interval], spotted: Iterable[Interval], threshold: float = IOU_THRESHOLD) -> Matching:
    """One-to-one matching inside ONE video (and one kind): spotted intervals in onset order,
    each taking the not yet matched true interval of highest IoU >= threshold (earliest on ties)."""
    truths = sorted(truth, key=_order)
    free = list(range(len(truths)))
    matching = Matching()
    for candidate in sorted(spotted, key=_order):
        best, best_iou = None, -1.0
        for i in free:
            value = iou(candidate, truths[i])
            if value >= threshold and value > best_iou:
                best, best_iou = i, value
        if best is None:
            matching.false_positives.append(candidate)
        else:
            free.remove(best)
            matching.matches.append(Match(truths[best], candidate, best_iou))
    matching.false_negatives.extend(truths[i] for i in free)
    return matching


def _group(intervals: Iterable[Interval], separate_kinds: bool) -> dict[tuple[str, str, str], list[Interval]]:
    groups: dict[tuple[str, str, str], list[Interval]] = defaultdict(list)
    for interval in intervals:
        groups[(interval.database, interval.video, interval.kind if separate_kinds else OVERALL)].append(interval)
    return groups


def match_all(
    truth: Iterable[Interval], spotted: Iterable[Interval], threshold: float = IOU_THRESHOLD, separate_kinds: bool = True
) -> dict[tuple[str, str, str], Matching]:
    """Every (database, video, kind)'s matching; kind is OVERALL when kinds are not separated."""
    true_groups, spotted_groups = _group(truth, separate_kinds), _group(spotted, separate_kinds)
    keys = sorted(set(true_groups) | set(spotted_groups))
    return {key: match_intervals(true_groups.get(key, []), spotted_groups.get(key, []), threshold) for key in keys}


@dataclass(frozen=True)
class SpottingScores:
    """Pooled counts: counts[database][kind]; database OVERALL pools every database, kind OVERALL both kinds."""

    counts: dict[str, dict[str, Counts]]

    def f1(self, database: str = OVERALL, kind: str = OVERALL) -> float:
        return self.counts[database][kind].f1

    def as_dict(self) -> dict:
        return {db: {kind: c.as_dict() for kind, c in kinds.items()} for db, kinds in self.counts.items()}


def spotting_scores(
    truth: Iterable[Interval], spotted: Iterable[Interval], threshold: float = IOU_THRESHOLD, separate_kinds: bool = True
) -> SpottingScores:
    """The MEGC spotting result: counts summed per database and kind, then over kinds and databases."""
    per: dict[str, dict[str, Counts]] = defaultdict(lambda: defaultdict(Counts))
    for (database, _video, kind), matching in match_all(truth, spotted, threshold, separate_kinds).items():
        per[database][kind] += matching.counts
        per[OVERALL][kind] += matching.counts
    out: dict[str, dict[str, Counts]] = {}
    for database, kinds in per.items():
        row = {kind: kinds[kind] for kind in (*KINDS, OVERALL) if kind in kinds}
        if separate_kinds:
            row[OVERALL] = sum((kinds[k] for k in KINDS if k in kinds), Counts())
        out[database] = row
    if OVERALL not in out:
        out[OVERALL] = {OVERALL: Counts()}
    return SpottingScores(out)


@dataclass(frozen=True)
class AnalysisScores:
    """The recognition of the spotted TPs: per-class counts and their macro means."""

    per_class: dict[str, Counts]

    @property
    def precision(self) -> float:
        return _ratio(sum(c.precision for c in self.per_class.values()), len(self.per_class))

    @property
    def recall(self) -> float:
        return _ratio(sum(c.recall for c in self.per_class.values()), len(self.per_class))

    @property
    def f1(self) -> float:
        """F1 of the mean precision and mean recall (the STRS script's analysis F1)."""
        return _f1(self.precision, self.recall)

    @property
    def uf1(self) -> float:
        return _ratio(sum(c.f1 for c in self.per_class.values()), len(self.per_class))

    @property
    def uar(self) -> float:
        return self.recall


def analysis_scores(matches: Iterable[Match], emotions: Iterable[str]) -> AnalysisScores:
    """Per-class TP/FP/FN over the spotting TPs whose true emotion is in `emotions`."""
    classes = sorted(set(emotions))
    kept = [m for m in matches if m.truth.emotion in classes]
    per_class = {}
    for e in classes:
        tp = sum(1 for m in kept if m.truth.emotion == e and m.spotted.emotion == e)
        fp = sum(1 for m in kept if m.truth.emotion != e and m.spotted.emotion == e)
        fn = sum(1 for m in kept if m.truth.emotion == e and m.spotted.emotion != e)
        per_class[e] = Counts(tp, fp, fn)
    return AnalysisScores(per_class)


@dataclass(frozen=True)
class STRScores:
    """Spot-then-recognize: the spotting counts, the analysis of their TPs, STRS = F1 x F1."""

    spotting: Counts
    analysis: AnalysisScores

    @property
    def strs(self) -> float:
        return self.spotting.f1 * self.analysis.f1

    def as_dict(self) -> dict:
        a = self.analysis
        return {
            "spotting": self.spotting.as_dict(),
            "analysis": {"precision": a.precision, "recall": a.recall, "f1": a.f1, "uf1": a.uf1, "uar": a.uar},
            "strs": self.strs,
        }


def str_scores(
    truth: Iterable[Interval],
    spotted: Iterable[Interval],
    emotions: Iterable[str] | None = None,
    threshold: float = IOU_THRESHOLD,
) -> dict[str, STRScores]:
    """STRS per database and pooled (OVERALL); kinds are not separated (MEGC 2024-2025 STR).

    `emotions` is the analysis class set; by default every emotion of the true intervals.
    """
    truth = list(truth)
    classes = sorted({t.emotion for t in truth}) if emotions is None else sorted(set(emotions))
    counts: dict[str, Counts] = defaultdict(Counts)
    matches: dict[str, list[Match]] = defaultdict(list)
    for (database, _video, _kind), matching in match_all(truth, spotted, threshold, separate_kinds=False).items():
        for key in (database, OVERALL):
            counts[key] += matching.counts
            matches[key].extend(matching.matches)
    counts[OVERALL] += Counts()
    return {key: STRScores(counts[key], analysis_scores(matches[key], classes)) for key in counts}

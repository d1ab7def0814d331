"""`occmer bench --task spot | str`: spotting and spot-then-recognize on long videos (docs/spotting.md).

spot: leave-one-subject-out with a spotter of occmer.spotting.spotters (default the MEGC
feature-difference baseline, occmer.spotting.task; or SOFTNet, occmer.spotting.softnet),
scored by the MEGC rules (IoU >= 0.5, F1 pooled per database and overall, micro and macro
apart and together). str: the same spotting, then each spotted interval is classified by one
of occmer's recognition models, trained per fold on the other subjects' TRUE intervals
(onset -> apex flow on the face box at the model's input size, occmer.spotting.samples), and
scored by STRS = spotting F1 x analysis F1 (with UF1 and UAR of the analysis).

Inputs: any sequence of videos with the LongVideoSource interface (occmer.spotting.video);
the command line builds and caches the long demo. Each condition (clean, or an occluder
composited on every frame) is one spotting run; results resume per condition (spotting) and
per fold (STR): OUT/conditions/<condition>/spotting.json and .../str/seed<S>/<subject>.json.
A learnt spotter (SOFTNet) spots once per seed of --task spot, on flow maps shared by the seeds
of a condition, each resumable: OUT/conditions/<condition>/seed<S>/spotting.json; its F1 is
reported as mean ± std over the seeds (--task str: the first seed spots, every seed recognises).
OUT gets config.json, metrics.json, table.md and one inspect page per condition
(pages/<condition>.html: a stretch of the first video played over its timeline).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from occmer import __version__
from occmer.bench.files import safe_name, write_json_atomic
from occmer.bench.metrics import mean_std
from occmer.bench.models import factory_and_loss, model_spec
from occmer.bench.training import FoldTensors, TrainConfig, train_fold
from occmer.demo.long_video import LongVideoParams, cached_long_demo
from occmer.errors import BenchError, ConfigError
from occmer.features.spec import FlowSpec
from occmer.pages.long_video import write_long_video_page
from occmer.progress import progress_bar
from occmer.seeding import stable_hash
from occmer.spotting import DEFAULT_SPOTTER
from occmer.spotting.intervals import KINDS, Interval
from occmer.spotting.metrics import OVERALL, spotting_scores, str_scores
from occmer.spotting.occlusion import occluder_filter
from occmer.spotting.page import page_stretch, timeline_marks
from occmer.spotting.samples import read_frames, sample_features, spotted_sample, true_samples
from occmer.spotting.spotters import make_spotter, spotter_class
from occmer.spotting.task import FoldResult, SpottingRun, truth_intervals
from occmer.spotting.video import FrameFilter, LongVideoSource

TASKS = ("recognize", "spot", "str")
DEFAULT_STR_MODEL = "ststnet"
CLEAN = "clean"


def ensure_long_demo(params: LongVideoParams, cache_dir: Path | None = None, progress: bool = True) -> Path:
    """The cached long demo of `params`: the one cache of occmer.demo.long_video, which
    `synthesize --db demo-long` shares (built on first use, atomically)."""
    return cached_long_demo(progress, cache_dir, **asdict(params.validate()))


@dataclass(frozen=True)
class SpotRequest:
    """One spotting or STR bench: the videos, the conditions, and (STR) the model and its training."""

    task: str
    videos: Sequence[LongVideoSource]
    out: Path
    source: Mapping[str, Any] = field(default_factory=dict)  # what the videos are (recorded in config.json)
    conditions: tuple[str, ...] = (CLEAN,)
    kinds: tuple[str, ...] = KINDS
    placement: str = "held"
    model: str = DEFAULT_STR_MODEL
    seeds: tuple[int, ...] = (0,)
    train: TrainConfig = TrainConfig()
    hparams: Mapping[str, Any] = field(default_factory=dict)
    # conditions read as stored (a synthesized long-video file each: `bench --task spot --data FILE`),
    # the same videos as `videos` with their own frames; every other condition composites on `videos`
    stored: Mapping[str, Sequence[LongVideoSource]] = field(default_factory=dict)
    spotter: str = DEFAULT_SPOTTER  # occmer.spotting.spotters; a learnt one: see spotter_seeds

    def __post_init__(self) -> None:
        spotter_class(self.spotter)  # an unknown name fails here, before any work
        if not self.seeds:
            raise ConfigError("a long-video bench needs at least one seed")
        if self.task not in ("spot", "str"):
            raise ConfigError(f"a long-video bench runs --task spot or str (got {self.task!r})")
        if not self.videos:
            raise BenchError("no long video to spot in; give a long demo or long videos")
        for condition, videos in self.stored.items():
            if _identity(videos) != _identity(self.videos):
                raise BenchError(f"condition {condition}: its file holds other videos, frame counts or intervals than "
                                 f"the first --data file; every --data of a spotting bench must be one database's "
                                 "videos (clean or occluded)")
        if self.task == "str":
            spec = model_spec(self.model)
            if spec.uses_regions or spec.uses_points:
                raise ConfigError(f"--task str: {self.model} reads facial regions or points, which spotted intervals of a "
                                  "long video do not carry yet; choose a flow-only model (e.g. ststnet, offapexnet)")

    def settings(self) -> dict[str, Any]:
        """Everything that decides the results (compared when a run resumes)."""
        out: dict[str, Any] = {"task": self.task, "conditions": list(self.conditions), "kinds": list(self.kinds),
                               "placement": self.placement, "source": dict(self.source),
                               "videos": [{"video": v.video, "subject": v.subject, "database": v.database,
                                           "frames": v.count, "fps": v.fps} for v in self.videos]}
        if self.spotter != DEFAULT_SPOTTER:  # the baseline's runs keep the settings (and resume) they had
            out["spotter"] = self.spotter
            if self.learnt_seeds():
                out["spotter_seeds"] = list(self.spotter_seeds)
            elif spotter_class(self.spotter).learnt:  # str: the first seed spots
                out["spotter_seed"] = self.seeds[0]
        if self.task == "str":
            out |= {"model": self.model, "seeds": list(self.seeds), "train": asdict(self.train),
                    "hparams": dict(self.hparams), "features": asdict(self.flow_spec())}
        return out

    def flow_spec(self) -> FlowSpec:
        return FlowSpec("tvl1", size=model_spec(self.model).input_size)

    def learnt_seeds(self) -> bool:
        """Whether the spotter runs once per seed (a learnt spotter, --task spot): F1 as mean ± std."""
        return self.task == "spot" and spotter_class(self.spotter).learnt

    @property
    def spotter_seeds(self) -> tuple[int | None, ...]:
        """The seeds the spotter runs with: every seed (learnt, spot), the first (learnt, str), or None
        (a deterministic spotter, whose results keep their unseeded layout)."""
        if not spotter_class(self.spotter).learnt:
            return (None,)
        return self.seeds if self.task == "spot" else self.seeds[:1]


def condition_filter(condition: str, placement: str) -> FrameFilter | None:
    return None if condition == CLEAN else occluder_filter(condition, placement)


def _identity(videos: Sequence[LongVideoSource]) -> list[tuple]:
    return sorted((v.video, v.subject, v.count, tuple((e["kind"], e["onset"], e["offset"]) for e in v.events))
                  for v in videos)


def condition_frames(request: SpotRequest, condition: str) -> tuple[Sequence[LongVideoSource], FrameFilter | None]:
    """Where a condition's frames come from: its own file as stored, or the videos under its occluder."""
    if condition in request.stored:
        return request.stored[condition], None
    return request.videos, condition_filter(condition, request.placement)


# --------------------------------------------------------------------------------------------
# Spotting (resumable per condition)
# --------------------------------------------------------------------------------------------

def _interval(record: Mapping[str, Any]) -> Interval:
    return Interval(**{k: record[k] for k in ("video", "onset", "offset", "kind", "emotion", "subject", "database")})


def spotting_path(request: SpotRequest, condition: str, seed: int | None = None) -> Path:
    """Where a condition's spotting run is kept: one file, or one per seed of a learnt spotter."""
    folder = request.out / "conditions" / safe_name(condition)
    return folder / "spotting.json" if seed is None else folder / f"seed{seed}" / "spotting.json"


def spot_condition(request: SpotRequest, condition: str, progress: bool, seed: int | None = None,
                   shared: Any = None) -> SpottingRun:
    """The LOSO spotting run of one condition (and `seed`, for a learnt spotter), read back when OUT
    already holds it; `shared`: what the spotter's runs on this condition share (its shared_work)."""
    path = spotting_path(request, condition, seed)
    if path.exists():
        saved = json.loads(path.read_text())
        run = SpottingRun(spotted=[_interval(s) for s in saved["spotted"]], folds=[FoldResult(**f) for f in saved["folds"]],
                          frames=saved["frames"], fps=saved["fps"])
        run.truth = [t for v in request.videos for t in truth_intervals(v) if t.kind in request.kinds]
        return run
    videos, frame_filter = condition_frames(request, condition)
    spotter = make_spotter(request.spotter, request.seeds[0] if seed is None else seed, shared)
    run = spotter.run(videos, kinds=request.kinds, frame_filter=frame_filter, progress=progress,
                      label=f"spotting {condition}" + ("" if seed is None else f" seed {seed}"))
    record: dict[str, Any] = {"condition": condition}
    if seed is not None:
        record["seed"] = seed
    record |= {"frames": run.frames, "fps": run.fps, "folds": [asdict(f) for f in run.folds],
               "spotted": [asdict(s) for s in run.spotted]}
    write_json_atomic(path, record)
    return run


def spot_condition_seeds(request: SpotRequest, condition: str, progress: bool) -> dict[int | None, SpottingRun]:
    """The condition's spotting run per spotter seed (request.spotter_seeds), the seeds sharing the
    work that does not depend on them (SOFTNet's flow maps); each seed resumes on its own."""
    todo = [seed for seed in request.spotter_seeds if not spotting_path(request, condition, seed).exists()]
    _, frame_filter = condition_frames(request, condition)
    with spotter_class(request.spotter).shared_work(frame_filter) if todo else nullcontext() as shared:
        return {seed: spot_condition(request, condition, progress, seed, shared) for seed in request.spotter_seeds}


# --------------------------------------------------------------------------------------------
# Spot-then-recognize (resumable per fold)
# --------------------------------------------------------------------------------------------

def analysis_classes(videos: Sequence[LongVideoSource], kinds: Sequence[str]) -> list[str]:
    """The classes of the analysis: every emotion of the true intervals of the kinds spotted."""
    return sorted({t.emotion for v in videos for t in truth_intervals(v) if t.kind in kinds and t.emotion})


def fold_seed(seed: int, model: str, condition: str, subject: str) -> int:
    """The seed of one STR fold alone: independent of order and resumes (as the recognition bench's)."""
    return stable_hash(f"{seed}|{model}|{condition}|{subject}") % (2**31)


class _Features:
    """Each condition's true and spotted samples' features, computed once and only when a fold needs them."""

    def __init__(self, request: SpotRequest, condition: str, spotted: Sequence[Interval]) -> None:
        self.request, self.condition, self.spotted = request, condition, list(spotted)
        self.true = [s for v in request.videos for s in true_samples(v, request.kinds)]
        subject_of = {v.video: v.subject for v in request.videos}
        self.true_subjects = np.array([subject_of[s.video] for s in self.true], dtype=object)
        self._x: tuple[np.ndarray, np.ndarray] | None = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self._x is None:
            videos, filt = condition_frames(self.request, self.condition)
            samples = self.true + [spotted_sample(s) for s in self.spotted]
            x = sample_features(videos, samples, self.request.flow_spec(), filt)
            self._x = (x[: len(self.true)], x[len(self.true):])
        return self._x


def recognise_spotted(request: SpotRequest, condition: str, spotted: Sequence[Interval], seed: int,
                      progress: bool, features: _Features | None = None) -> list[Interval]:
    """The spotted intervals with the emotion the model predicts, fold by fold (each fold resumable).

    `features`: the condition's sample features when another seed already computed them.
    """
    classes = analysis_classes(request.videos, request.kinds)
    if len(classes) < 2:
        raise BenchError(f"--task str needs at least 2 emotions among the true intervals (got {classes})")
    features = features or _Features(request, condition, spotted)
    factory, loss = factory_and_loss(request.model, request.hparams)
    folder = request.out / "conditions" / safe_name(condition) / "str" / f"seed{seed}"
    labelled: dict[tuple[str, int, int, str], str] = {}
    subjects = sorted({v.subject for v in request.videos})
    with progress_bar(len(subjects), f"STR {request.model} {condition} seed {seed}", "fold", enabled=progress) as bar:
        for subject in subjects:
            path = folder / f"{safe_name(subject)}.json"
            if not path.exists():
                write_json_atomic(path, _str_fold(request, condition, features, classes, subject, seed, factory, loss))
            for record in json.loads(path.read_text())["predictions"]:
                labelled[(record["video"], record["onset"], record["offset"], record["kind"])] = record["emotion"]
            bar.update(1)
    return [replace(s, emotion=labelled.get((s.video, s.onset, s.offset, s.kind), "")) for s in spotted]


def _str_fold(request: SpotRequest, condition: str, features: _Features, classes: list[str], subject: str, seed: int,
              factory: Callable, loss: Callable) -> dict[str, Any]:
    """Train on the other subjects' true intervals, classify the held-out subject's spotted intervals."""
    test_rows = [i for i, s in enumerate(features.spotted) if s.subject == subject]
    train_rows = [i for i, s in enumerate(features.true)
                  if features.true_subjects[i] != subject and s.emotion in classes]
    record: dict[str, Any] = {"condition": condition, "subject": subject, "seed": seed, "model": request.model,
                              "classes": classes, "train_samples": len(train_rows), "predictions": []}
    if not test_rows:
        return record
    true_x, spotted_x = features.arrays()
    size = int(true_x.shape[-1])
    codes = np.array([classes.index(features.true[i].emotion) for i in train_rows], np.int64)
    train = FoldTensors(true_x[train_rows], codes, occlusion=np.zeros((len(train_rows), size, size), np.float32))
    test = FoldTensors(spotted_x[test_rows], np.zeros(len(test_rows), np.int64),
                       occlusion=np.zeros((len(test_rows), size, size), np.float32))
    this_seed = fold_seed(seed, request.model, condition, subject)
    output = train_fold(factory, loss, train, test, len(classes), request.train, this_seed, record_epochs=False)
    record["fold_seed"] = this_seed
    record["train_seconds"] = output.train_seconds
    for i, p in zip(test_rows, output.probabilities, strict=True):
        s = features.spotted[i]
        record["predictions"].append({"video": s.video, "onset": s.onset, "offset": s.offset, "kind": s.kind,
                                      "emotion": classes[int(np.argmax(p))], "probabilities": [float(v) for v in p]})
    return record


# --------------------------------------------------------------------------------------------
# The run, its files and its page
# --------------------------------------------------------------------------------------------

def check_resume(out: Path, settings: Mapping[str, Any]) -> None:
    """A results folder holding another run is refused (its fold files would be mixed in)."""
    path = out / "config.json"
    if path.exists():
        saved = json.loads(path.read_text()).get("settings")
        if saved != json.loads(json.dumps(settings)):
            raise BenchError(f"{out} holds a {saved.get('task') if saved else 'different'} run with other settings "
                             f"({path}); choose another --out or remove it")


def run_spot_bench(request: SpotRequest, *, progress: bool = True, html: bool = True,
                   echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every condition (and every seed for STR), write the result files, return metrics.json's content."""
    out = request.out
    out.mkdir(parents=True, exist_ok=True)
    settings = request.settings()
    check_resume(out, settings)
    write_json_atomic(out / "config.json", {"occmer_version": __version__, "settings": settings})
    results: dict[str, Any] = {}
    for condition in request.conditions:
        runs = spot_condition_seeds(request, condition, progress)
        run = next(iter(runs.values()))  # the first seed's, for the page (and STR)
        entry = seeds_entry(runs) if request.learnt_seeds() else spotting_entry(run)
        if request.task == "str":
            classes = analysis_classes(request.videos, request.kinds)
            per_seed, features = {}, _Features(request, condition, run.spotted)
            for seed in request.seeds:
                labelled = recognise_spotted(request, condition, run.spotted, seed, progress, features)
                per_seed[seed] = {key: value.as_dict() for key, value in str_scores(run.truth, labelled, classes).items()}
            entry["str"] = {"classes": classes, "seeds": per_seed, "summary": _str_summary(per_seed)}
        results[condition] = entry
        if html:
            write_condition_page(request, condition, run)
        echo(f"{condition}: " + _line(entry))
    payload = {"task": request.task, "settings": settings, "conditions": results}
    write_json_atomic(out / "metrics.json", payload)
    (out / "table.md").write_text(markdown_table(payload), encoding="utf-8")
    return payload


def spotting_entry(run: SpottingRun) -> dict[str, Any]:
    """metrics.json's record of one spotting run: counts and F1 per database and kind, every fold."""
    return {"spotting": spotting_scores(run.truth, run.spotted).as_dict(),
            "false_spots_per_minute": run.false_spots_per_minute(), "minutes": run.minutes,
            "folds": [asdict(f) for f in run.folds]}


def seeds_entry(runs: Mapping[int | None, SpottingRun]) -> dict[str, Any]:
    """A learnt spotter's record of one condition: each seed's run, and F1 (and false spots per
    minute) as mean ± std over the seeds with the per-seed values."""
    per_seed = {seed: spotting_entry(run) for seed, run in runs.items()}
    entries = list(per_seed.values())
    f1: dict[str, dict[str, dict[str, Any]]] = {}
    for db in entries[0]["spotting"]:
        kinds = [k for k in entries[0]["spotting"][db] if all(k in e["spotting"].get(db, {}) for e in entries)]
        f1[db] = {kind: _spread([e["spotting"][db][kind]["f1"] for e in entries]) for kind in kinds}
    return {"seeds": per_seed, "minutes": entries[0]["minutes"],
            "summary": {"f1": f1, "false_spots_per_minute": _spread([e["false_spots_per_minute"] for e in entries])}}


def _spread(values: Sequence[float]) -> dict[str, Any]:
    mean, std = mean_std(values)
    return {"mean": mean, "std": std, "per_seed": [float(v) for v in values]}


def _spread_text(spread: Mapping[str, Any]) -> str:
    """`mean ± std [per-seed values]`, as the terminal line and table.md print a learnt spotter's F1."""
    return f"{spread['mean']:.3f} ± {spread['std']:.3f} [{', '.join(f'{v:.3f}' for v in spread['per_seed'])}]"


STR_METRICS = (("strs", ("strs",)), ("spotting F1", ("spotting", "f1")), ("analysis F1", ("analysis", "f1")),
               ("UF1", ("analysis", "uf1")), ("UAR", ("analysis", "uar")))


def _str_summary(per_seed: Mapping[int, Mapping[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """Mean and std over seeds of each STR number, per database."""
    databases = sorted({db for scores in per_seed.values() for db in scores})
    out: dict[str, dict[str, list[float]]] = {}
    for db in databases:
        out[db] = {}
        for name, path in STR_METRICS:
            values = []
            for scores in per_seed.values():
                value: Any = scores[db]
                for key in path:
                    value = value[key]
                values.append(float(value))
            out[db][name] = list(mean_std(values))
    return out


def _line(entry: Mapping[str, Any]) -> str:
    if "seeds" in entry:
        f1 = entry["summary"]["f1"][OVERALL]
        return (", ".join(f"{kind} F1 {_spread_text(f1[kind])}" for kind in (*KINDS, OVERALL) if kind in f1)
                + f" (seeds {', '.join(str(s) for s in entry['seeds'])})")
    spot = entry["spotting"][OVERALL]
    text = ", ".join(f"{kind} F1 {spot[kind]['f1']:.3f}" for kind in (*KINDS, OVERALL) if kind in spot)
    if "str" in entry:
        strs = entry["str"]["summary"][OVERALL]["strs"]
        text += f"; STRS {strs[0]:.3f} ± {strs[1]:.3f}"
    return text


def markdown_table(payload: Mapping[str, Any]) -> str:
    """table.md: spotting F1 per kind (and STR numbers, mean ± std over seeds) per condition, per database."""
    conditions = payload["conditions"]
    named = sorted({db for entry in conditions.values() for db in _spotting_of(entry)} - {OVERALL})
    databases = [OVERALL] + (named if len(named) > 1 else [])  # per database only when there are several
    task = payload["task"]
    lines = [f"# occmer bench --task {task}", ""]
    for db in databases:
        head = ["condition", "micro F1", "macro F1", "overall F1", "FP / min"]
        if task == "str":
            head += [name for name, _ in STR_METRICS]
        lines += [f"## {'all databases pooled' if db == OVERALL else db}", "", "| " + " | ".join(head) + " |",
                  "|" + "---|" * len(head)]
        for condition, entry in conditions.items():
            cells = [condition] + _spotting_cells(entry, db)
            if task == "str":
                summary = entry["str"]["summary"].get(db, {})
                cells += [f"{summary[n][0]:.3f} ± {summary[n][1]:.3f}" if n in summary else "-" for n, _ in STR_METRICS]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    settings = payload["settings"]
    lines += ["F1 (TP/FP/FN): the MEGC spotting rules, a spotted interval is a TP at IoU >= 0.5 with a true one, counts "
              "summed over the videos, micro and macro matched apart (docs/spotting.md). FP / min: false spots per minute "
              "of video.", f"Spotter: {spotter_description(settings)}, leave-one-subject-out; "
              f"occluders placed {settings['placement']}."]
    if "spotter_seeds" in settings:
        lines.append(f"F1 and FP / min: mean ± std over the spotter's seeds {settings['spotter_seeds']}, each seed's "
                     "F1 in brackets (each seed's counts in metrics.json).")
    if task == "str":
        lines.append(f"STR: {settings['model']} trained per fold on the other subjects' true intervals; STRS = spotting "
                     f"F1 (kinds together) x analysis F1; mean ± std over seeds {settings['seeds']}.")
    return "\n".join(lines) + "\n"


def _spotting_of(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    """A condition's spotting scores per database (a learnt spotter's: its F1 summary)."""
    return entry["summary"]["f1"] if "seeds" in entry else entry["spotting"]


def _spotting_cells(entry: Mapping[str, Any], db: str) -> list[str]:
    """table.md's F1 per kind and FP / min of one condition and database."""
    if "seeds" in entry:
        f1 = entry["summary"]["f1"].get(db, {})
        cells = [_spread_text(f1[k]) if k in f1 else "-" for k in (*KINDS, OVERALL)]
        fp = entry["summary"]["false_spots_per_minute"]
        return cells + [f"{fp['mean']:.2f} ± {fp['std']:.2f}" if db == OVERALL else ""]
    spot = entry["spotting"].get(db, {})
    cells = [f"{spot[k]['f1']:.3f} ({spot[k]['tp']}/{spot[k]['fp']}/{spot[k]['fn']})" if k in spot else "-"
             for k in (*KINDS, OVERALL)]
    return cells + [f"{entry['false_spots_per_minute']:.2f}" if db == OVERALL else ""]


def spotter_description(settings: Mapping[str, Any]) -> str:
    """The spotter of a run's settings, in words (the baseline's words unchanged for its tables)."""
    name = settings.get("spotter", DEFAULT_SPOTTER)
    if name == DEFAULT_SPOTTER:
        return "the MEGC feature-difference baseline (Moilanen et al. 2014)"
    seed = f", seed {settings['spotter_seed']}" if "spotter_seed" in settings else ""
    if "spotter_seeds" in settings:
        seeds = settings["spotter_seeds"]
        seed = f", seed{'s' if len(seeds) > 1 else ''} {', '.join(str(s) for s in seeds)}"
    return f"{spotter_class(name).description}{seed}"


def write_condition_page(request: SpotRequest, condition: str, run: SpottingRun) -> Path:
    """pages/<condition>.html: the first video's busiest stretch over its timeline of true and spotted intervals."""
    videos, frame_filter = condition_frames(request, condition)
    video = sorted(videos, key=lambda v: (v.subject, v.video))[0]
    truth = [t for t in run.truth if t.video == video.video]
    spotted = [s for s in run.spotted if s.video == video.video]
    numbers = list(page_stretch(video, truth))
    frames = read_frames(video, numbers, frame_filter)
    crop = video.face_box
    pictures = [frames[n] if crop is None else frames[n][crop[1]:crop[3], crop[0]:crop[2]] for n in numbers]
    folds = [f for f in run.folds if f.subject == video.subject]
    facts = [("condition", condition), ("video", video.video), ("subject (held out)", video.subject),
             ("spotter", spotter_description(request.settings())),
             *([("spots shown", f"seed {request.seeds[0]}'s (metrics.json and table.md: every seed)")]
               if request.learnt_seeds() else []),
             *((f"{f.kind}: {spotter_class(request.spotter).fold_settings}", f"{f.k}, {f.tau:g}") for f in folds)]
    out = request.out / "pages" / f"{safe_name(condition)}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_long_video_page(out, video.video, pictures, numbers, video.fps, video.count,
                                 timeline_marks(truth, spotted), facts)

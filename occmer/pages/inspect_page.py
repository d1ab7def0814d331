"""`occmer inspect FILE --html`: one self-contained page to judge a synthesized file by eye.

Provenance (command, versions, settings, skipped clips), counts per class and subject, the
occlusion-ratio histogram and a gallery of animated clips (onset to offset: clean |
occluded | occluder alpha | flow magnitude) for a few clips of every class, spread over
subjects. Images are embedded as data URIs: the page needs no other file, no network and
no JavaScript.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from occmer import __version__
from occmer.pages import clips as anim
from occmer.pages.page import data_uri, esc, key_value_table, write_page
from occmer.store.reader import OccmerFile

STYLE = """
.gallery { display: flex; flex-wrap: wrap; gap: 1.2em; }
.gallery figure { margin: 0; } .gallery img { display: block; border: 1px solid #eee; }
.titles { display: flex; color: #666; font-size: 0.8em; } .titles span { display: inline-block; }
img.hist { max-width: 100%; height: auto; }
.row { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
"""

GALLERY_LABEL_COLUMNS = ("emotion", "objective_class", "composite")


@dataclass
class GalleryClip:
    sample_id: str
    subject: str
    label: str
    animation: bytes  # animated WebP
    titles: list[str]
    frames: list[int]
    note: str = ""


def label_column(samples: Mapping[str, Any]) -> str:
    """The first label column with at least one value (emotion for every synthesized file)."""
    for name in GALLERY_LABEL_COLUMNS:
        values = [v for v in samples.get(name, []) if v]
        if values:
            return name
    return "emotion"


def choose_gallery(ids: Sequence[str], labels: Sequence[str], subjects: Sequence[str], per_class: int) -> list[int]:
    """Row positions: `per_class` clips of every class, each from a different subject where possible.

    Deterministic: within a class, subjects are taken in sorted order, the first clip of each.
    """
    chosen: list[int] = []
    for label in sorted(set(labels)):
        rows = sorted((i for i in range(len(ids)) if labels[i] == label), key=lambda i: (subjects[i], ids[i]))
        picked, used = [], set()
        for i in rows:  # first pass: one clip per subject
            if subjects[i] not in used:
                picked.append(i)
                used.add(subjects[i])
            if len(picked) == per_class:
                break
        for i in rows:  # then fill up from subjects already used
            if len(picked) >= per_class:
                break
            if i not in picked:
                picked.append(i)
        chosen += picked
    return chosen


def histogram_png(ratios: np.ndarray) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 2.6))
    ax.hist(ratios, bins=min(30, max(5, len(ratios) // 3)), range=(0, max(1e-3, float(ratios.max(initial=0)) * 1.05)),
            color="#3b6ea8", edgecolor="white")
    ax.set_xlabel("occlusion ratio (fraction of the face covered)")
    ax.set_ylabel("clips")
    ax.set_title(f"Occlusion ratio of {len(ratios)} clips", fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _counts_table(title: str, counts: Counter) -> str:
    rows = "".join(f'<tr><td>{esc(k or "(none)")}</td><td class="num">{n}</td></tr>' for k, n in sorted(counts.items()))
    return f"<table><caption>{esc(title)}</caption><thead><tr><th>{esc(title)}</th><th>clips</th></tr></thead>" \
           f"<tbody>{rows}</tbody></table>"


def _cross_table(labels: Sequence[str], subjects: Sequence[str]) -> str:
    classes = sorted(set(labels))
    pairs = Counter(zip(subjects, labels, strict=True))
    head = "".join(f"<th>{esc(c or '(none)')}</th>" for c in classes)
    body = "".join(
        f"<tr><th>{esc(s)}</th>" + "".join(f'<td class="num">{pairs.get((s, c), 0) or ""}</td>' for c in classes)
        + f'<td class="num">{sum(pairs.get((s, c), 0) for c in classes)}</td></tr>'
        for s in sorted(set(subjects))
    )
    return (f"<table><caption>clips per subject and class</caption><thead><tr><th>subject</th>{head}<th>all</th>"
            f"</tr></thead><tbody>{body}</tbody></table>")


def _occluder_text(occluder: Any) -> str:
    if isinstance(occluder, dict):
        options = " ".join(f"--{k} {v}" for k, v in (occluder.get("options") or {}).items())
        return f"{occluder.get('spec', '?')} {options}".strip()
    return str(occluder)


CleanSource = Callable[[Mapping[str, Any], Mapping[str, np.ndarray]], Any]


def gallery_clips(path: Path, per_class: int, clean_source: CleanSource | None, side: int, max_frames: int,
                  echo: Callable[[str], None] = lambda _m: None) -> tuple[list[GalleryClip], str]:
    """The animated clips of the gallery, and a note on where the clean frames came from."""
    with OccmerFile.open(path, require_complete=False) as f:
        attrs = f.attrs()
        samples = f.columns()
        if not f.has_frames:
            return [], "This file holds features only (no frames): there is no clip to animate."
        ids, subjects = list(samples["sample_id"]), list(samples["subject"])
        labels = list(samples[label_column(samples)])
        rows = choose_gallery(ids, labels, subjects, per_class)
        stored = {ids[i]: f.clip(ids[i]) for i in rows}
    clean = None
    note = "Clean frames are not shown (--no-clean)."
    if clean_source is not None:
        echo(f"re-synthesizing {len(stored)} clips from the source database for their clean frames ...")
        clean = clean_source(attrs, {sid: clip.frames for sid, clip in stored.items()})
        shown = len(clean.frames)
        note = (f"Clean frames of {shown} of {len(stored)} clips were recovered by re-running this file's synthesis "
                "on its source database and checking that the occluded frames it gives equal the stored ones bit "
                "for bit.")
    gallery = []
    for i in rows:
        sid = ids[i]
        clip = stored[sid]
        clean_frames = clean.frames.get(sid) if clean is not None else None
        panels = anim.build_panels(sid, clip.frames, clip.occlusion, clip.frame_numbers, int(samples["onset"][i]),
                                   int(samples["offset"][i]), clean_frames, side=side, max_frames=max_frames)
        animation = anim.webp_bytes(anim.strip_frames([panels]))
        reason = clean.missing.get(sid, "") if clean is not None else ""
        gallery.append(GalleryClip(sid, subjects[i], labels[i], animation, panels.titles, panels.frame_numbers,
                                   reason))
    return gallery, note


def _gallery_html(gallery: Sequence[GalleryClip], side: int) -> str:
    figures = []
    for g in gallery:
        titles = "".join(f'<span style="width:{side + 4}px">{esc(t)}</span>' for t in g.titles)
        frames = f"frames {g.frames[0]}-{g.frames[-1]} ({len(g.frames)} shown)" if g.frames else ""
        note = f'<br><span class="muted">{esc(g.note)}</span>' if g.note else ""
        width = len(g.titles) * (side + 4) - 4
        figures.append(
            f'<figure style="width:{width}px"><div class="titles">{titles}</div><img src="{data_uri(g.animation, "image/webp")}" '
            f'alt="animated clip {esc(g.sample_id)}" width="{width}" height="{side}">'
            f"<figcaption><b>{esc(g.sample_id)}</b>, subject {esc(g.subject)}, class {esc(g.label or '(none)')}; "
            f"{esc(frames)}{note}</figcaption></figure>"
        )
    return f'<div class="gallery">{"".join(figures)}</div>'


def render_inspect_html(path: str | Path, out: str | Path, *, per_class: int = 2, clean_source: CleanSource | None = None,
                        side: int = anim.PANEL, max_frames: int = anim.MAX_FRAMES,
                        echo: Callable[[str], None] = lambda _m: None) -> Path:
    """Write the inspection page of the occmer file `path` to `out`."""
    path, out = Path(path), Path(out)
    with OccmerFile.open(path, require_complete=False) as f:
        attrs = f.attrs()
        samples = f.columns()
    ids = list(samples["sample_id"])
    subjects = list(samples["subject"])
    column = label_column(samples)
    labels = list(samples[column])
    ratios = np.asarray(samples.get("occlusion_ratio", []), dtype=float)
    n_frames = np.asarray(samples.get("n_frames", []), dtype=int)
    gallery, note = gallery_clips(path, per_class, clean_source, side, max_frames, echo)

    provenance = [
        ("file", f"{path} ({path.stat().st_size / 1e6:.1f} MB)"),
        ("complete", attrs.get("complete")),
        ("format", f"{attrs.get('format')} v{attrs.get('schema_version')}"),
        ("written by", f"occmer {attrs.get('occmer_version')} at {attrs.get('created_utc')}"),
        ("database", attrs.get("database")), ("occluder", json.dumps(attrs.get("occluder"))),
        ("seed", attrs.get("seed")), ("command", attrs.get("command")),
    ]
    settings = attrs.get("settings")
    problems = "".join(
        f"<h3>{esc(key)}: {len(attrs.get(key) or [])} clips</h3><ul>"
        + "".join(f"<li><code>{esc(e.get('sample_id'))}</code>: {esc(e.get('reason'))}</li>" for e in attrs[key])
        + "</ul>"
        for key in ("skipped", "invalid") if attrs.get(key)
    )
    frames_text = (f"{int(n_frames.sum())} frames (per clip {int(n_frames.min())}-{int(n_frames.max())})"
                   if len(n_frames) and n_frames.max() > 0 else "no frames (features only)")
    if len(ratios):
        q = np.percentile(ratios, [0, 50, 100])
        ratio_html = (f'<p>min {q[0]:.3f}, median {q[1]:.3f}, max {q[2]:.3f}, mean {ratios.mean():.3f}.</p>'
                      f'<img class="hist" src="{data_uri(histogram_png(ratios), "image/png")}" '
                      'alt="occlusion ratio histogram">')
    else:
        ratio_html = '<p class="muted">No clips.</p>'
    gallery_intro = (
        f"<p>{per_class} clips of every {esc(column.replace('_', ' '))} class, from different subjects where "
        "possible, played from onset to offset (slowed down; the last frame is held). Panels: "
        + ("clean | " if any("clean" in g.titles for g in gallery) else "")
        + "occluded | occluder alpha | magnitude of the optical flow (Farneback) from the onset frame to each "
        "frame, on the occluded frames. A good occluder stays put in the alpha panel and adds no flow of its "
        f"own, while the face moves under and around it.</p><p class=\"muted\">{esc(note)}</p>"
    )
    overview = (f"<p>{len(ids)} clips of {len(set(subjects))} subjects, {esc(frames_text)}; database "
                f"<b>{esc(attrs.get('database'))}</b>, occluder <b>{esc(_occluder_text(attrs.get('occluder')))}</b>, "
                f"seed {esc(attrs.get('seed'))}.</p>")
    sections = [
        ("gallery", "Clips", overview + gallery_intro + (_gallery_html(gallery, side) if gallery else "")),
        ("occlusion", "Occlusion ratio", ratio_html),
        ("counts", "Counts", '<div class="row">' + _counts_table(column.replace("_", " "), Counter(labels))
         + _counts_table("apex source", Counter(samples.get("apex_source", [])))
         + _cross_table(labels, subjects) + "</div>"),
        ("provenance", "Provenance", key_value_table(provenance)
         + ("<h3>Synthesis settings</h3><pre>" + esc(json.dumps(settings, indent=1, sort_keys=True)) + "</pre>"
            if settings else "") + problems),
    ]
    return write_page(out, f"occmer inspect: {path.name}", path.name, f"occmer inspect, occmer {esc(__version__)}",
                      sections, STYLE)

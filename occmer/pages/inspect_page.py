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
from occmer.progress import size_text
from occmer.store.inspect import occluder_text
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
    mime: str = "image/webp"  # a still PNG for a features-only file


def label_column(samples: Mapping[str, Any]) -> str:
    """The first label column with at least one value (emotion for every synthesized file)."""
    for name in GALLERY_LABEL_COLUMNS:
        values = [v for v in samples.get(name, []) if v]
        if values:
            return name
    return "emotion"


def choose_gallery(ids: Sequence[str], labels: Sequence[str], subjects: Sequence[str], per_class: int) -> list[int]:
    """Row positions: `per_class` clips of every class, each from a different subject where possible,
    and spread over all subjects: each pick takes the subject shown least so far, ties broken by
    walking on through the sorted subjects from the last one picked (not always from the first).

    Deterministic: the same file gives the same gallery.
    """
    order = sorted(set(subjects))
    position = {s: k for k, s in enumerate(order)}
    shown: Counter[str] = Counter()
    cursor = 0
    chosen: list[int] = []
    for label in sorted(set(labels)):
        rows = sorted((i for i in range(len(ids)) if labels[i] == label), key=lambda i: (subjects[i], ids[i]))
        picked: list[int] = []
        while len(picked) < min(per_class, len(rows)):
            used = {subjects[i] for i in picked}
            left = [i for i in rows if i not in picked]
            fresh = [i for i in left if subjects[i] not in used] or left  # then fill up from subjects already used
            best = min(fresh, key=lambda i: (shown[subjects[i]], (position[subjects[i]] - cursor) % len(order), ids[i]))
            picked.append(best)
            shown[subjects[best]] += 1
            cursor = position[subjects[best]] + 1
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


CleanSource = Callable[[Mapping[str, Any], Mapping[str, np.ndarray]], Any]


def gallery_clips(path: Path, per_class: int, clean_source: CleanSource | None, side: int, max_frames: int,
                  echo: Callable[[str], None] = lambda _m: None) -> tuple[list[GalleryClip], str]:
    """The animated clips of the gallery, and a note on where the clean frames came from."""
    with OccmerFile.open(path, require_complete=False) as f:
        attrs = f.attrs()
        samples = f.columns()
        ids, subjects = list(samples["sample_id"]), list(samples["subject"])
        labels = list(samples[label_column(samples)])
        rows = choose_gallery(ids, labels, subjects, per_class)
        if not f.has_frames:
            return feature_gallery(f, rows, labels, side)
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


def feature_gallery(f: OccmerFile, rows: Sequence[int], labels: Sequence[str], side: int
                    ) -> tuple[list[GalleryClip], str]:
    """Stills of a features-only file (import, export round trip, `occmer occlude`): per sample, the
    flow magnitude (from the u and v channels), each other channel, the feature set's occlusion map
    and, for `occmer occlude` outputs, the occluder alpha on the face image (/faces)."""
    names = f.feature_names()
    if not names:
        return [], "This file holds no frames and no feature set: there is nothing to show."
    name = names[0]
    faces = f.face_layers()
    samples = f.columns()
    gallery = []
    for i in rows:
        data, occlusion = f.feature_row(name, i)
        panels = feature_panels(data, f.feature_info(name).channels, occlusion,
                                faces.alpha[i] if faces is not None else None)
        image = _still_png([anim.resize_stack(p[None], side)[0] for _, p in panels])
        gallery.append(GalleryClip(str(samples["sample_id"][i]), str(samples["subject"][i]), labels[i], image,
                                   [t for t, _ in panels], [], mime="image/png"))
    others = f", and {len(names) - 1} more set(s) ({', '.join(names[1:])})" if len(names) > 1 else ""
    return gallery, (f"This file holds features only, no frames (imported, exported and re-imported, or written by "
                     f"`occmer occlude`): the stills show feature set {name}{others}. Each panel is on its own "
                     "colour scale (dark = 0, bright = the panel's largest value).")


def feature_panels(data: np.ndarray, channels: Sequence[str], occlusion: np.ndarray | None,
                   alpha: np.ndarray | None) -> list[tuple[str, np.ndarray]]:
    """(title, RGB uint8 image) per panel of one sample's features."""
    channels = list(channels)
    planes: list[tuple[str, np.ndarray]] = []
    rest = channels
    if "u" in channels and "v" in channels:
        planes.append(("flow magnitude", np.hypot(data[channels.index("u")], data[channels.index("v")])))
        rest = [c for c in channels if c not in ("u", "v")]
    planes += [(c, np.abs(data[channels.index(c)])) for c in rest]
    panels = [(title, anim.colourise(plane, float(np.percentile(plane, 99)) or 1.0)) for title, plane in planes]
    if occlusion is not None and occlusion.any():
        panels.append(("feature occlusion", anim.to_rgb((np.clip(occlusion, 0, 1) * 255).astype(np.uint8)[None])[0]))
    if alpha is not None:
        panels.append(("occluder alpha (face image)", anim.to_rgb(np.asarray(alpha, np.uint8)[None])[0]))
    return panels


def _still_png(panels: Sequence[np.ndarray], gap: int = 4) -> bytes:
    from PIL import Image

    side = panels[0].shape[0]
    canvas = np.full((side, len(panels) * (side + gap) - gap, 3), 255, np.uint8)
    for k, panel in enumerate(panels):
        canvas[:, k * (side + gap):k * (side + gap) + side] = panel
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="PNG")
    return buffer.getvalue()


def _gallery_html(gallery: Sequence[GalleryClip], side: int) -> str:
    figures = []
    for g in gallery:
        titles = "".join(f'<span style="width:{side + 4}px">{esc(t)}</span>' for t in g.titles)
        frames = f"frames {g.frames[0]}-{g.frames[-1]} ({len(g.frames)} shown)" if g.frames else ""
        note = f'<br><span class="muted">{esc(g.note)}</span>' if g.note else ""
        width = len(g.titles) * (side + 4) - 4
        figures.append(
            f'<figure style="width:{width}px"><div class="titles">{titles}</div><img src="{data_uri(g.animation, g.mime)}" '
            f'alt="{"features of" if g.mime == "image/png" else "animated clip"} {esc(g.sample_id)}" width="{width}" height="{side}">'
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
        ("file", f"{path} ({size_text(path.stat().st_size)})"),
        ("complete", attrs.get("complete")),
        ("format", f"{attrs.get('format')} v{attrs.get('schema_version')}"),
        ("written by", f"occmer {attrs.get('occmer_version')} at {attrs.get('created_utc')}"),
        ("database", attrs.get("database")), ("occluder", occluder_text(attrs.get("occluder"))),
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
    features_only = not (len(n_frames) and n_frames.max() > 0)
    unit = "samples" if features_only else "clips"
    if features_only:
        gallery_intro = (f"<p>{per_class} samples of every {esc(column.replace('_', ' '))} class, from different "
                         "subjects where possible.</p>"
                         f'<p class="muted">{esc(note)}</p>')
    else:
        gallery_intro = (
            f"<p>{per_class} clips of every {esc(column.replace('_', ' '))} class, from different subjects where "
            "possible, played from onset to offset (slowed down; the last frame is held). Panels: "
            + ("clean | " if any("clean" in g.titles for g in gallery) else "")
            + "occluded | occluder alpha | magnitude of the optical flow (Farneback) from the onset frame to each "
            "frame, on the occluded frames. A good occluder stays put in the alpha panel and adds no flow of its "
            f"own, while the face moves under and around it.</p><p class=\"muted\">{esc(note)}</p>"
        )
    overview = (f"<p>{len(ids)} {unit} of {len(set(subjects))} subjects, {esc(frames_text)}; database "
                f"<b>{esc(attrs.get('database'))}</b>, occluder <b>{esc(occluder_text(attrs.get('occluder')))}</b>, "
                f"seed {esc(attrs.get('seed'))}.</p>")
    sections = [
        ("gallery", "Samples" if features_only else "Clips", overview + gallery_intro + (_gallery_html(gallery, side) if gallery else "")),
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

"""The inspect page of a long video: a stretch played frame by frame over the spotting timeline.

One self-contained HTML file (written by `occmer bench --task spot|str`): the frames of a
stretch as small JPEG data URIs, shown one at a time by a slider and a play button, and an SVG
timeline of the whole video with the true intervals (top row) and the spotted ones (bottom
row) coloured by their outcome: TP green (true and spotted that matched), FP red (spotted, no
truth), FN orange (true, not spotted). A playhead marks the frame shown. No network resource;
the only script is the player (without it the first frame and the timeline still show).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from occmer.pages.page import data_uri, esc, key_value_table, write_page

COLOURS = {"TP": "#2e9d49", "FP": "#d43c3c", "FN": "#f0962e"}
ROWS = ("truth", "spotted")
WIDTH, ROW_HEIGHT, TOP = 1000, 18, 16

STYLE = """
.player img { image-rendering: pixelated; border: 1px solid #ddd; }
.timeline text { font-size: 11px; fill: #444; }
.legend span { display: inline-block; padding: 0 0.5em; margin-right: 0.6em; color: #fff; border-radius: 3px; }
"""

SCRIPT = """
(function () {
  var frames = JSON.parse(document.getElementById('frames').textContent);
  var img = document.getElementById('frame'), slider = document.getElementById('slider');
  var label = document.getElementById('frame-label'), head = document.getElementById('playhead');
  var play = document.getElementById('play'), timer = null;
  function show(i) {
    img.src = frames.uris[i]; slider.value = i;
    var n = frames.numbers[i];
    label.textContent = 'frame ' + n + ' (' + (n / frames.fps).toFixed(2) + ' s)';
    var x = frames.left + frames.scale * (n + 0.5);
    head.setAttribute('x1', x); head.setAttribute('x2', x);
  }
  slider.addEventListener('input', function () { show(+slider.value); });
  play.addEventListener('click', function () {
    if (timer) { clearInterval(timer); timer = null; play.textContent = 'play'; return; }
    play.textContent = 'pause';
    timer = setInterval(function () { show((+slider.value + 1) % frames.uris.length); }, frames.delay);
  });
  show(0);
})();
"""


@dataclass(frozen=True)
class TimelineMark:
    """One interval on the timeline: inclusive frames, its row (truth / spotted), TP / FP / FN, a label."""

    onset: int
    offset: int
    row: str
    outcome: str
    label: str = ""

    @property
    def length(self) -> int:
        return self.offset - self.onset + 1


def jpeg_uri(frame: np.ndarray, side: int, quality: int = 70) -> str:
    """A gray or RGB uint8 frame, resized to `side` px wide, as a JPEG data URI."""
    image = Image.fromarray(np.asarray(frame, np.uint8))
    height = max(1, int(round(image.height * side / image.width)))
    out = io.BytesIO()
    image.resize((side, height), Image.Resampling.BILINEAR).save(out, format="JPEG", quality=quality)
    return data_uri(out.getvalue(), "image/jpeg")


def timeline_svg(marks: Sequence[TimelineMark], total: int, fps: float, stretch: tuple[int, int]) -> tuple[str, float, float]:
    """(the SVG, its left margin, px per frame): both rows, a seconds axis, the stretch shaded, a playhead."""
    left, width = 60.0, WIDTH - 70.0
    scale = width / max(total, 1)
    height = TOP + ROW_HEIGHT * len(ROWS) + 24
    parts = [f'<rect x="{left + scale * stretch[0]:.2f}" y="{TOP - 4}" width="{scale * (stretch[1] - stretch[0] + 1):.2f}" '
             f'height="{ROW_HEIGHT * len(ROWS) + 8}" fill="#e8eefc"/>']
    for r, row in enumerate(ROWS):
        y = TOP + r * ROW_HEIGHT
        parts.append(f'<text x="0" y="{y + 13}">{esc(row)}</text>')
        parts.append(f'<line x1="{left}" x2="{left + width}" y1="{y + 9}" y2="{y + 9}" stroke="#ccc"/>')
        for m in (m for m in marks if m.row == row):
            title = f"{m.outcome} {m.onset}..{m.offset}" + (f" {m.label}" if m.label else "")
            parts.append(f'<rect x="{left + scale * m.onset:.2f}" y="{y + 2}" width="{max(scale * m.length, 1.5):.2f}" '
                         f'height="{ROW_HEIGHT - 4}" fill="{COLOURS.get(m.outcome, "#888")}"><title>{esc(title)}</title></rect>')
    axis_y = TOP + ROW_HEIGHT * len(ROWS) + 14
    step = max(1, int(round(total / fps / 10)))
    for s in range(0, int(total / fps) + 1, step):
        parts.append(f'<text x="{left + scale * s * fps:.1f}" y="{axis_y}">{s} s</text>')
    parts.append(f'<line id="playhead" x1="{left}" x2="{left}" y1="{TOP - 6}" y2="{TOP + ROW_HEIGHT * len(ROWS) + 4}" '
                 'stroke="#000" stroke-width="1.5"/>')
    svg = (f'<svg class="timeline" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
           f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>')
    return svg, left, scale


def write_long_video_page(
    out: Path, video: str, frames: Sequence[np.ndarray], numbers: Sequence[int], fps: float, total: int,
    marks: Sequence[TimelineMark], facts: Sequence[tuple[str, Any]] = (), side: int = 112, delay_ms: int | None = None,
) -> Path:
    """The page of one video: `frames` (numbered `numbers`) played over the timeline of all `total` frames."""
    uris = [jpeg_uri(f, side) for f in frames]
    stretch = (int(numbers[0]), int(numbers[-1])) if len(numbers) else (0, 0)
    svg, left, scale = timeline_svg(marks, total, fps, stretch)
    step = (numbers[1] - numbers[0]) if len(numbers) > 1 else 1
    every = "every frame" if step == 1 else f"one frame in {step}"
    player = {"uris": uris, "numbers": [int(n) for n in numbers], "fps": fps, "left": left, "scale": scale,
              "delay": delay_ms or max(20, int(round(1000 * step / fps)))}
    counts = {o: sum(1 for m in marks if m.outcome == o and (o != "TP" or m.row == "spotted")) for o in COLOURS}
    legend = "".join(f'<span style="background:{c}">{o} {counts[o]}</span>' for o, c in COLOURS.items())
    first = f'<img id="frame" src="{uris[0]}" width="{2 * side}" alt="frame">' if uris else "<p>no frame</p>"
    body = (f'<div class="player">{first}<div><button id="play" type="button">play</button> '
            f'<input id="slider" type="range" min="0" max="{max(len(uris) - 1, 0)}" value="0" style="width:{WIDTH - 120}px"> '
            f'<span id="frame-label"></span></div></div><p class="legend">{legend}</p>{svg}'
            f'<p class="muted">Top row: the true intervals (TP: matched by a spot with IoU &ge; 0.5; FN: missed). Bottom row: '
            f'the spotted intervals (TP or FP). The shaded band is the stretch the player shows (frames '
            f'{stretch[0]}..{stretch[1]}, {every}); hover an interval for its frames.</p>'
            f'<script type="application/json" id="frames">{json.dumps(player)}</script><script>{SCRIPT}</script>')
    table = "".join(f"<tr><td>{esc(m.row)}</td><td>{esc(m.outcome)}</td><td class=num>{m.onset}</td>"
                    f"<td class=num>{m.offset}</td><td>{esc(m.label)}</td></tr>" for m in sorted(marks, key=lambda m: (m.onset, m.row)))
    sections = [("player", "The video and its intervals", body),
                ("intervals", "Every interval", f"<table><thead><tr><th>row</th><th>outcome</th><th>onset</th>"
                                                f"<th>offset</th><th>label</th></tr></thead><tbody>{table}</tbody></table>"),
                ("facts", "Settings", key_value_table(facts))]
    return write_page(out, f"occmer spotting: {video}", f"Spotting on {video}",
                      f"{total} frames at {fps:g} fps; MEGC rules (IoU &ge; 0.5)", sections, STYLE)

"""`demo-long`: the long-video demo (occmer.demo.long_video) read as a long-video database.

The demo writes its truth to `root/demo.json` and each video's frames to one memory-mapped
`root/<video>/frames.npy`; this adapter reads that manifest directly (databases sit left of
the demo in the pipeline, so the demo imports the file names from here, not the other way).
Blinks are in the manifest but are not intervals: the long-video databases do not label them.
"""

from __future__ import annotations

import json

from occmer.databases.base import Problem
from occmer.databases.long_video import LongInterval, LongScan, LongVideoDatabase, LongVideoRecord, register_long

DATABASE_ID = "demo-long"
MANIFEST = "demo.json"
FRAMES = "frames.npy"
HEAD_MOTION = "head_motion.npy"


def _interval(event: dict, where: str) -> LongInterval:
    return LongInterval(
        onset=int(event["onset"]), apex=int(event["apex"]), offset=int(event["offset"]), kind=str(event["kind"]),
        emotion=str(event.get("emotion", "")), objective_class=str(event.get("objective_class", "")),
        action_units="+".join(str(n) for n in event.get("action_units", [])), source=where,
    )


@register_long
class DemoLong(LongVideoDatabase):
    """The long demo: `occmer spot` or `write_long_demo(root)` builds it (docs/spotting.md)."""

    name = DATABASE_ID
    fps = 30.0
    description = "synthetic long videos with micro- and macro-expressions at known frames (occmer.demo.long_video)"

    def scan(self) -> LongScan:
        manifest = self.root / MANIFEST
        scan = LongScan()
        try:
            document = json.loads(manifest.read_text())
            fps = float(document["params"]["fps"])
            entries = list(document["videos"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            scan.problems.append(Problem(DATABASE_ID, str(manifest), f"not a long demo manifest ({error})",
                                         "rebuild it with occmer.demo.long_video.write_long_demo"))
            return scan
        for k, entry in enumerate(entries):
            try:
                scan.videos.append(self._record(entry, fps, f"{manifest} video {k}"))
            except (KeyError, TypeError, ValueError) as error:
                scan.problems.append(Problem(f"{DATABASE_ID}_{k}", str(manifest), f"video entry unreadable ({error})",
                                             "rebuild the demo with write_long_demo"))
        return scan

    def _record(self, entry: dict, fps: float, where: str) -> LongVideoRecord:
        video = str(entry["video"])
        folder = self.root / video
        array = folder / FRAMES
        if not array.is_file():
            raise ValueError(f"{array} is missing")
        intervals = tuple(_interval(e, f"{where} event {i}") for i, e in enumerate(entry["events"]) if e["kind"] != "blink")
        return LongVideoRecord(
            video_id=f"{DATABASE_ID}_{video}", database=DATABASE_ID, subject=f"{DATABASE_ID}/{video}",
            folder=folder, fps=fps, intervals=intervals, array=array, first_frame=0,
        )

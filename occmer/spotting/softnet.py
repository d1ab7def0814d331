"""SOFTNet spotting (Liong, See, Wong and Phan, ICIP 2021): a learnt per-frame score, then peaks.

Follows the public code, github.com/genbing99/SoftNet-SpotME (file, function):

- k (load_label.py, `cal_k`): N = the mean of offset - onset of the expressions of the kind
  sought, k = int((N + 1) / 2). Micro and macro are two runs, each with its own k and network.
- Input per frame pair (i, i + k) (extraction_preprocess.py, `extract_preprocess`): TV-L1 flow of
  the face crop (128 x 128 there), u, v and optical strain; the mean of an 11 x 11 patch at the
  nose (iBUG point 28) subtracted (u and v then taken absolute: head motion removed); each eye
  blanked by a hexagon through its six points pushed 15 px outwards; the box of both brows and
  eyes (brow points 17..26 and the lower lids, padded 12 px) resized to 42 x 21 over the mouth box
  (points 50, 57, 60, 64, padded 12 px) resized to 42 x 21: a 42 x 42 x 3 input. The landmarks
  are found once per video, on its first frame with a face.
- Pseudo-labels (training.py, `pseudo_labeling`): pair i is 1 when the frames i .. i + k - 1 meet
  frames onset + 1 .. offset of an expression (0-based; the code's "IoU > 0"), else 0: a 0/1
  target that the network regresses (MSE), so its output is a soft score.
- Training (training.py, `training`, `data_augmentation`, `normalize`, `SOFTNet`): negatives
  drawn at random down to half the larger class count, every positive kept; micro only: each
  positive also flipped left-right, blurred (Gaussian 7 x 7) and noised (Gaussian, variance
  0.01, clipped as skimage's random_noise clips); shuffled once; each map min-max normalised
  to 0..1 per sample; SGD lr 0.0005, batch 12, 10 epochs; a fresh network per held-out subject.
- Spotting (training.py, `spotting`): the scores smoothed by a mean over 2k pairs (frame c gets
  the mean of pairs c - k .. c + k - 1); threshold T = mean + p (max - mean) of the smoothed
  curve, p = 0.55 (fixed there: "0.55 achieved the highest F1-Score"); peaks at least k apart
  and at least T; each peak c spotted as [c - k, c + k].

Where occmer differs, and why (docs/spotting.md):

- k comes from the training subjects only (the reference computes it on the whole database,
  the held-out subject included); the baseline does the same in occmer.
- Landmarks are mediapipe's (the iBUG-68 points taken at their mediapipe vertices,
  occmer.faces.pointsets), found on the whole frame and moved into the face crop; a video with
  no face found in its first `FIND_FACE_SECONDS` uses a fixed face layout (`FALLBACK_LAYOUT`).
- CPU: the flow is computed at `flow_size` (64 px, the reference 128 px: the 42 x 21 regions
  are about that resolution anyway; the ROI paddings scale with it), 2.5x faster. Every pair
  is used (`stride` 1, as the reference); a larger stride computes every `stride`-th pair and
  interpolates the scores linearly in between (3x faster at 3, but it spotted worse on the
  long demo: benchmark/RESULTS.md).
- Strain derivatives are occmer's central differences (the reference: forward differences).
- Peaks: occmer's `find_peaks` (strictly above T, the highest kept first) in place of scipy's.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn

from occmer.errors import BenchError, ConfigError
from occmer.faces.landmarks import MediapipeBackend
from occmer.faces.pointsets import IBUG68_TO_MEDIAPIPE
from occmer.features.flow import TVL1Flow
from occmer.features.strain import optical_strain
from occmer.models.softnet import INPUT_SIDE, SOFTNet
from occmer.progress import progress_bar
from occmer.seeding import stable_hash
from occmer.spotting.feature_difference import crop, find_peaks, threshold
from occmer.spotting.intervals import KINDS, MICRO, Interval
from occmer.spotting.metrics import OVERALL, spotting_scores
from occmer.spotting.task import FoldResult, SpottingRun, truth_intervals
from occmer.spotting.video import FrameFilter, LongVideoSource, filtered_frames

REFERENCE_SIDE = 128  # the reference's face crop; its pixel paddings are in this frame
ROI_PAD, EYE_PAD, NOSE_HALF = 12, 15, 5
FIND_FACE_SECONDS = 10.0
# A face's layout as fractions of the face box, for a video where no face is found: the boxes
# the reference's paddings give on an upright, frontal face.
FALLBACK_LAYOUT = {"brows_eyes": (0.05, 0.12, 0.95, 0.55), "mouth": (0.25, 0.62, 0.75, 0.95), "nose": (0.5, 0.42)}


@dataclass(frozen=True)
class SoftNetSettings:
    """The spotter's settings: the reference's training and threshold, occmer's sampling (module doc)."""

    p: float = 0.55
    epochs: int = 10
    batch_size: int = 12
    lr: float = 0.0005
    negative_share: float = 0.5
    flow_size: int = 64
    stride: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.p <= 1.0:
            raise ConfigError(f"SOFTNet threshold share p must be in 0..1 (got {self.p})")
        if self.stride < 1 or self.flow_size < 32 or self.epochs < 1 or self.batch_size < 1:
            raise ConfigError(f"SOFTNet settings out of range: {self}")


def softnet_k(truth: Iterable[Interval], kind: str) -> int:
    """k = int((N + 1) / 2), N the mean offset - onset of the `kind` expressions (`cal_k`)."""
    spans = [t.offset - t.onset for t in truth if t.kind == kind]
    if not spans:
        raise BenchError(f"no {kind}-expression in the training subjects: SOFTNet's k cannot be set; add subjects")
    return max(1, int((float(np.mean(spans)) + 1) / 2))


def pseudo_labels(n_pairs: int, spans: Iterable[tuple[int, int]], k: int) -> np.ndarray:
    """(n_pairs,) float32 0/1: pair i is 1 when frames i..i+k-1 meet frames onset+1..offset of a span.

    Spans are 0-based (onset, offset) frame numbers within the video (`pseudo_labeling`).
    """
    y = np.zeros(n_pairs, np.float32)
    for onset, offset in spans:
        first, last = max(0, onset + 2 - k), min(n_pairs - 1, offset)
        if last >= first and offset >= onset + 1:
            y[first : last + 1] = 1.0
    return y


def smooth_scores(scores: np.ndarray, k: int) -> np.ndarray:
    """(n - 2k,): entry j is the mean of scores j..j+2k-1, the score of frame j + k (`spotting`)."""
    n = len(scores)
    if n < 2 * k + 1:
        return np.zeros(0, np.float64)
    total = np.concatenate([[0.0], np.cumsum(np.asarray(scores, np.float64))])
    return (total[2 * k : n] - total[: n - 2 * k]) / (2 * k)


def spot_scores(scores: np.ndarray, k: int, p: float, video: str, first_frame: int = 0, kind: str = MICRO,
                subject: str = "", database: str = "") -> list[Interval]:
    """The spotted intervals of one video's pair scores: smoothed, thresholded, [c - k, c + k] per peak c."""
    smoothed = smooth_scores(scores, k)
    if smoothed.size == 0:
        return []
    peaks = find_peaks(smoothed, threshold(smoothed, p), k)
    # smoothed[j] is frame c = j + k, spotted as [c - k, c + k] = [j, j + 2k] (inside the video)
    return [Interval(video, first_frame + j, first_frame + j + 2 * k, kind, "", subject, database)
            for j in peaks.tolist()]


# --------------------------------------------------------------------------------------------
# Input maps
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FaceRegions:
    """Where the maps are cut, in the flow_size x flow_size face crop: boxes (x0, y0, x1, y1)."""

    brows_eyes: tuple[int, int, int, int]
    mouth: tuple[int, int, int, int]
    nose: tuple[int, int]
    nose_half: int
    eyes: tuple[np.ndarray, ...]  # (6, 2) int32 polygons blanked, none for the fallback layout
    found_at: int | None  # the frame the landmarks come from (None: the fallback layout)


def _ibug(points: np.ndarray, index: int) -> np.ndarray:
    return points[IBUG68_TO_MEDIAPIPE[index]]


def regions_from_landmarks(points: np.ndarray, size: int, found_at: int | None = 0) -> FaceRegions:
    """The reference's regions from 478 mediapipe points given in the REFERENCE_SIDE face crop."""
    side, scale = float(REFERENCE_SIDE), size / REFERENCE_SIDE

    def p(i: int) -> np.ndarray:
        return _ibug(points, i)

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = (int(round(float(np.clip(v, 0, side)) * scale)) for v in (x0, y0, x1, y1))
        return (x0, y0, max(x1, x0 + 2), max(y1, y0 + 2))

    brows_eyes = box(p(17)[0] - ROI_PAD, min(p(19)[1], p(24)[1]) - ROI_PAD, p(26)[0] + ROI_PAD,
                     max(p(41)[1], p(46)[1]) + ROI_PAD)
    mouth = box(p(60)[0] - ROI_PAD, p(50)[1] - ROI_PAD, p(64)[0] + ROI_PAD, p(57)[1] + ROI_PAD)
    push = np.array([(-EYE_PAD, 0), (0, -EYE_PAD), (0, -EYE_PAD), (EYE_PAD, 0), (0, EYE_PAD), (0, EYE_PAD)], np.float32)
    eyes = tuple(np.round(np.clip(np.stack([p(i) for i in range(first, first + 6)]) + push, 0, side) * scale)
                 .astype(np.int32) for first in (36, 42))
    nose = tuple(int(round(float(v) * scale)) for v in p(28))
    return FaceRegions(brows_eyes, mouth, (nose[0], nose[1]), max(1, int(round(NOSE_HALF * scale))), eyes, found_at)


def fallback_regions(size: int) -> FaceRegions:
    """FALLBACK_LAYOUT in a size x size crop (no eyes blanked: their outline is not known)."""
    def box(fractions: tuple[float, ...]) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = (int(round(f * size)) for f in fractions)
        return (x0, y0, x1, y1)

    nx, ny = FALLBACK_LAYOUT["nose"]
    return FaceRegions(box(FALLBACK_LAYOUT["brows_eyes"]), box(FALLBACK_LAYOUT["mouth"]),
                       (int(round(nx * size)), int(round(ny * size))), max(1, int(round(NOSE_HALF * size / REFERENCE_SIDE))),
                       (), None)


def face_crop(frame: np.ndarray, box: tuple[int, int, int, int] | None, size: int) -> np.ndarray:
    """The face box of a gray frame resized to size x size (uint8)."""
    face = crop(frame, box)
    interpolation = cv2.INTER_AREA if face.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(face), (size, size), interpolation=interpolation)


def pair_maps(first: np.ndarray, second: np.ndarray, regions: FaceRegions, flow: dict) -> np.ndarray:
    """(42, 42, 3) float32: u, v, strain of the pair's TV-L1 flow, head motion removed, eyes blanked, ROIs stacked."""
    field = TVL1Flow.compute(first, second, flow)
    maps = np.dstack([field[..., 0], field[..., 1], optical_strain(field)]).astype(np.float64)
    (nx, ny), h = regions.nose, regions.nose_half
    nose = maps[max(0, ny - h) : ny + h + 1, max(0, nx - h) : nx + h + 1].reshape(-1, 3).mean(axis=0)
    maps = maps - nose
    maps[..., :2] = np.abs(maps[..., :2])
    for eye in regions.eyes:
        cv2.fillPoly(maps, [eye], (0.0, 0.0, 0.0))
    half = INPUT_SIDE // 2
    parts = []
    for x0, y0, x1, y1 in (regions.brows_eyes, regions.mouth):
        parts.append(cv2.resize(maps[y0:y1, x0:x1], (INPUT_SIDE, half)))
    return np.concatenate(parts, axis=0).astype(np.float32)


class MapCache:
    """Each video's pair maps per k (every `stride`-th pair), read in one pass over its frames for
    all the k the folds need; the landmarks found once per video. Shared by seeds and folds."""

    def __init__(self, settings: SoftNetSettings, frame_filter: FrameFilter | None = None) -> None:
        self.settings, self.frame_filter = settings, frame_filter
        self.maps: dict[tuple[str, int], np.ndarray] = {}
        self.regions: dict[str, FaceRegions] = {}
        self.flow = TVL1Flow.settings()
        self._backend: MediapipeBackend | None = None

    def find_regions(self, video: LongVideoSource) -> FaceRegions:
        """The regions from the first frame with a face (within FIND_FACE_SECONDS), else the fallback layout."""
        if video.video in self.regions:
            return self.regions[video.video]
        if self._backend is None:
            self._backend = MediapipeBackend()
        size, regions = self.settings.flow_size, fallback_regions(self.settings.flow_size)
        limit = int(FIND_FACE_SECONDS * video.fps)
        for number, frame in enumerate(filtered_frames(video, self.frame_filter)):
            if number >= limit:
                break
            points = self._backend.detect(frame)
            if points is None:
                continue
            x0, y0, x1, y1 = video.face_box or (0, 0, frame.shape[1], frame.shape[0])
            in_crop = (points - (x0, y0)) * (REFERENCE_SIDE / (x1 - x0), REFERENCE_SIDE / (y1 - y0))
            regions = regions_from_landmarks(in_crop, size, number)
            break
        self.regions[video.video] = regions
        return regions

    def missing(self, video: LongVideoSource, ks: Iterable[int]) -> list[int]:
        """The k among `ks` whose maps of `video` are not computed yet."""
        return sorted({int(k) for k in ks} - {k for (name, k) in self.maps if name == video.video})

    def prepare(self, video: LongVideoSource, ks: Iterable[int], bar: object | None = None) -> None:
        missing = self.missing(video, ks)
        if not missing:
            return
        regions, stride, size = self.find_regions(video), self.settings.stride, self.settings.flow_size
        window: deque[np.ndarray] = deque(maxlen=max(missing) + 1)
        found: dict[int, list[np.ndarray]] = {k: [] for k in missing}
        for t, frame in enumerate(filtered_frames(video, self.frame_filter)):
            window.append(face_crop(frame, video.face_box, size))
            for k in missing:
                start = t - k
                if start >= 0 and start % stride == 0:
                    found[k].append(pair_maps(window[-1 - k], window[-1], regions, self.flow))
            if bar is not None:
                bar.update(1)  # type: ignore[attr-defined]
        for k, maps in found.items():
            self.maps[(video.video, k)] = np.stack(maps) if maps else np.zeros((0, INPUT_SIDE, INPUT_SIDE, 3), np.float32)

    def get(self, video: LongVideoSource, k: int) -> np.ndarray:
        self.prepare(video, (k,))
        return self.maps[(video.video, k)]

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None


# --------------------------------------------------------------------------------------------
# Training and scoring
# --------------------------------------------------------------------------------------------

def normalise(x: np.ndarray) -> np.ndarray:
    """Each sample's maps min-max scaled to 0..1 (cv2.NORM_MINMAX per channel: a flat map -> 0)."""
    low = x.min(axis=(1, 2), keepdims=True)
    span = x.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (x - low) / np.where(span > 0, span, 1.0), 0.0).astype(np.float32)


def augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Three copies of each positive (flipped, blurred, noised), in the reference's order per sample."""
    out = []
    for image in x.astype(np.float64):
        out.append(np.fliplr(image))
        out.append(cv2.GaussianBlur(image, (7, 7), 0))
        low = -1.0 if image.min() < 0 else 0.0
        out.append(np.clip(image + rng.normal(0.0, 0.1, image.shape), low, 1.0))
    return np.asarray(out, np.float32).reshape(-1, *x.shape[1:])


def training_set(x: np.ndarray, y: np.ndarray, kind: str, settings: SoftNetSettings,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Negatives down to `negative_share` of the larger class, positives kept (micro: augmented), shuffled."""
    negatives, positives = np.flatnonzero(y == 0), np.flatnonzero(y > 0)
    keep = min(len(negatives), int(max(len(negatives), len(positives)) * settings.negative_share))
    chosen = np.sort(np.concatenate([rng.choice(negatives, keep, replace=False), positives]))
    x, y = x[chosen], y[chosen]
    if kind == MICRO and (y > 0).any():
        extra = augment(x[y > 0], rng)
        x, y = np.concatenate([x, extra]), np.concatenate([y, np.ones(len(extra), np.float32)])
    order = rng.permutation(len(y))
    return normalise(x[order]), y[order]


def train_network(x: np.ndarray, y: np.ndarray, settings: SoftNetSettings, seed: int) -> SOFTNet:
    """SGD on the MSE, batches in the (once shuffled) order every epoch, as the reference's generator feeds them."""
    torch.manual_seed(seed)
    net = SOFTNet()
    optimiser = torch.optim.SGD(net.parameters(), lr=settings.lr)
    loss = nn.MSELoss()
    inputs = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    targets = torch.from_numpy(y)
    net.train()
    for _ in range(settings.epochs):
        for start in range(0, len(targets), settings.batch_size):
            batch = slice(start, start + settings.batch_size)
            optimiser.zero_grad()
            loss(net(inputs[batch]), targets[batch]).backward()
            optimiser.step()
    return net


def predict(net: SOFTNet, maps: np.ndarray, batch: int = 512) -> np.ndarray:
    net.eval()
    x = normalise(maps).transpose(0, 3, 1, 2)
    with torch.no_grad():
        return np.concatenate([net(torch.from_numpy(np.ascontiguousarray(x[i : i + batch]))).numpy()
                               for i in range(0, len(x), batch)] or [np.zeros(0, np.float32)])


def pair_scores(net: SOFTNet, maps: np.ndarray, n_pairs: int, stride: int) -> np.ndarray:
    """(n_pairs,) scores: predicted every `stride`-th pair, linearly interpolated in between."""
    sampled = predict(net, maps)
    if stride == 1 or len(sampled) == 0:
        return sampled
    return np.interp(np.arange(n_pairs), np.arange(len(sampled)) * stride, sampled)


def _spans(video: LongVideoSource, kind: str) -> list[tuple[int, int]]:
    return [(t.onset - video.first_frame, t.offset - video.first_frame) for t in truth_intervals(video) if t.kind == kind]


def fold_seed(seed: int, subject: str, kind: str) -> int:
    """One fold's seed alone: independent of order and of the other folds."""
    return stable_hash(f"{seed}|softnet|{subject}|{kind}") % (2**31)


@dataclass
class SoftNetFold:
    """One (held-out subject, kind): k, the trained network's spots and what training saw."""

    result: FoldResult
    spotted: list[Interval]
    train_samples: int
    train_seconds: float


def _spot_videos(net: SOFTNet, cache: MapCache, videos: Sequence[LongVideoSource], k: int, kind: str) -> list[Interval]:
    out = []
    s = cache.settings
    for video in videos:
        scores = pair_scores(net, cache.get(video, k), max(0, video.count - k), s.stride)
        out += spot_scores(scores, k, s.p, video.video, video.first_frame, kind, video.subject, video.database)
    return out


def run_fold(cache: MapCache, videos: Sequence[LongVideoSource], subject: str, kind: str, seed: int) -> SoftNetFold:
    """Train on the other subjects' pairs (pseudo-labelled), spot the held-out subject's videos."""
    s = cache.settings
    train = [v for v in videos if v.subject != subject]
    test = [v for v in videos if v.subject == subject]
    k = softnet_k([t for v in train for t in truth_intervals(v)], kind)
    xs, ys = [], []
    for video in train:
        maps = cache.get(video, k)
        labels = pseudo_labels(max(0, video.count - k), _spans(video, kind), k)
        xs.append(maps)
        ys.append(labels[:: s.stride][: len(maps)])
    this_seed = fold_seed(seed, subject, kind)
    x, y = training_set(np.concatenate(xs), np.concatenate(ys), kind, s, np.random.default_rng(this_seed))
    start = time.process_time()
    net = train_network(x, y, s, this_seed)
    seconds = time.process_time() - start
    train_truth = [t for v in train for t in truth_intervals(v) if t.kind == kind]
    train_f1 = spotting_scores(train_truth, _spot_videos(net, cache, train, k, kind)).f1(OVERALL, kind)
    return SoftNetFold(FoldResult(subject, kind, k, s.p, train_f1), _spot_videos(net, cache, test, k, kind),
                       len(y), seconds)


def fold_ks(videos: Sequence[LongVideoSource], kinds: Sequence[str]) -> set[int]:
    """The k of every (held-out subject, kind) fold, so each video is read once for all of them."""
    ks = set()
    for subject in sorted({v.subject for v in videos}):
        truth = [t for v in videos if v.subject != subject for t in truth_intervals(v)]
        ks.update(softnet_k(truth, kind) for kind in kinds if any(t.kind == kind for t in truth))
    return ks


def run_softnet_loso(videos: Sequence[LongVideoSource], kinds: Sequence[str] = KINDS, seed: int = 0,
                     frame_filter: FrameFilter | None = None, settings: SoftNetSettings | None = None,
                     progress: bool = False, label: str = "SOFTNet", cache: MapCache | None = None) -> SpottingRun:
    """Leave-one-subject-out SOFTNet spotting; `cache` (a MapCache of the same filter) reuses maps across seeds."""
    subjects = sorted({v.subject for v in videos})
    if len(subjects) < 2:
        raise BenchError(f"leave-one-subject-out needs at least 2 subjects (got {len(subjects)})")
    own_cache = cache is None
    cache = cache or MapCache(settings or SoftNetSettings(), frame_filter)
    try:
        ks = fold_ks(videos, kinds)
        todo = [v for v in videos if cache.missing(v, ks)]
        with progress_bar(sum(v.count for v in todo), f"{label}: flow", "frame", enabled=progress and bool(todo)) as bar:
            for video in todo:
                cache.prepare(video, ks, bar)
        run = SpottingRun(fps=videos[0].fps)
        with progress_bar(len(subjects) * len(kinds), f"{label}: training", "fold", enabled=progress) as bar:
            for subject in subjects:
                for kind in kinds:
                    fold = run_fold(cache, videos, subject, kind, seed)
                    run.spotted += fold.spotted
                    run.folds.append(fold.result)
                    bar.update(1)
    finally:
        if own_cache:
            cache.close()
    for video in videos:
        run.truth += [t for t in truth_intervals(video) if t.kind in kinds]
        run.frames += video.count
    return run

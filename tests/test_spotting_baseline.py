"""The feature-difference spotter on arrays whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from occmer.errors import ConfigError
from occmer.spotting.feature_difference import (
    FeatureDifferenceSettings,
    block_histograms,
    chi_squared,
    contrast,
    contrast_curve,
    find_peaks,
    spot_curve,
    threshold,
)


def test_histograms_are_normalised_per_block():
    face = np.random.default_rng(0).integers(0, 256, (60, 60), np.uint8)
    hist = block_histograms(face)
    assert hist.shape == (36, 59)
    assert np.allclose(hist.sum(axis=1), 1.0)
    assert chi_squared(hist, hist).max() == 0.0


def test_contrast_and_threshold_follow_the_published_formulas():
    f = np.array([0, 0, 0, 1, 5, 1, 0, 0, 0], float)
    c = contrast(f, 1)
    # C_4 = 5 - (1 + 1) / 2 = 4; C_3 = 1 - (0 + 5) / 2 < 0 -> 0; within 2k of the ends C stays 0
    assert c.tolist() == [0, 0, 0, 0, 4, 0, 0, 0, 0]
    assert contrast(np.array([9.0, 0, 0, 0, 0, 0, 0, 0, 9]), 1)[[0, 1, 7, 8]].tolist() == [0, 0, 0, 0]
    assert threshold(np.array([0.0, 1.0, 2.0, 5.0]), 0.5) == pytest.approx(2.0 + 0.5 * 3.0)
    assert threshold(np.array([0.0, 1.0, 2.0, 5.0]), 0.0) == pytest.approx(2.0)


def test_peaks_are_k_apart_and_highest_first():
    curve = np.array([0, 3, 0, 5, 0, 0, 0, 2, 0], float)
    assert find_peaks(curve, 1.0, 3).tolist() == [3, 7]  # 1 is within 3 of the higher peak at 3
    assert find_peaks(curve, 4.0, 1).tolist() == [3]


def test_a_brief_change_is_spotted_where_it_happens():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (48, 48), np.uint8)
    other = rng.integers(0, 256, (48, 48), np.uint8)
    frames = [base.copy() for _ in range(60)]
    for t in range(30, 33):  # a 3-frame change
        frames[t] = other
    settings = FeatureDifferenceSettings(k=2, tau=0.5)
    curve = contrast_curve(iter(frames), settings)
    spotted = spot_curve(curve, settings, "v", first_frame=100)
    assert len(spotted) == 1
    assert 129 <= spotted[0].onset and spotted[0].offset <= 135


def test_settings_are_checked():
    assert FeatureDifferenceSettings.for_length(9).k == 4
    with pytest.raises(ConfigError):
        FeatureDifferenceSettings(k=0)
    with pytest.raises(ConfigError):
        FeatureDifferenceSettings(k=2, tau=1.5)

"""The occluder-behaviour options shared by `synthesize` and `preview` (issue 16)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from occmer.errors import ConfigError

SHADING_HELP = ("Template occluders and hands: light the occluder by the face under it, cast a soft contact shadow "
                "on the skin, add lens highlights and clear-lens refraction (docs/occluders.md). 'off' = the flat, "
                "uniformly lit occluder of earlier versions.")
MASK_MOTION_HELP = ("Fabric masks (surgical, n95, cloth): 'rigid' moves with the head only; 'skin' also follows the "
                    "face under the mask (smoothed, attenuated flow of the clean clip; control points stored per frame).")
HAND_PATH_HELP = ("hand: pass over the face instead of resting: DIRECTION[:ENTER:LEAVE], DIRECTION = left, right, up or "
                  "down (where it travels), ENTER/LEAVE = frame positions in the clip (0, 5, -1) or fractions (0.2, 0.8); "
                  "e.g. right:0.2:0.8.")


def occluder_behaviour_options(command: Callable) -> Callable:
    """Add --shading, --mask-motion and --hand-path to a click command."""
    command = click.option("--hand-path", default=None, help=HAND_PATH_HELP)(command)
    command = click.option("--mask-motion", type=click.Choice(["rigid", "skin"]), default=None,
                           help=MASK_MOTION_HELP + "  [default: rigid]")(command)
    command = click.option("--shading", type=click.Choice(["on", "off"]), default=None,
                           help=SHADING_HELP + "  [default: on]")(command)
    return command


def behaviour_options(mask: str, shading: str | None, mask_motion: str | None, hand_path: str | None) -> dict[str, Any]:
    """The options given on the command line, to merge into the occluder options (unset ones left out).

    An option that the chosen --mask would ignore is refused rather than dropped silently.
    """
    family = mask.split(":", 1)[0]
    if hand_path is not None and family not in ("hand", "random"):
        raise ConfigError(f"--hand-path moves a hand; it needs --mask hand (or random with hand in --choices), not {mask!r}")
    if mask_motion == "skin" and family not in ("surgical", "n95", "cloth", "random"):
        raise ConfigError(
            f"--mask-motion skin is for the fabric masks (surgical, n95, cloth); --mask {mask} stays rigid"
        )
    if hand_path is not None:
        from occmer.occluders.hand import parse_hand_path

        parse_hand_path(hand_path)  # a bad path stops here, before the database is scanned
    options = {"shading": shading, "mask_motion": mask_motion, "hand_path": hand_path}
    return {k: v for k, v in options.items() if v is not None}

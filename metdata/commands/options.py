"""Options shared by several commands, defined once so that their names, ranges and help agree."""

from __future__ import annotations

import click


def image_options(defaults, noun: str):
    """--max-side-px, --min-side-px, --max-aspect-ratio and --jpeg-quality: the knobs of every image source.

    `defaults` is the source's parameter dataclass (its fields give the defaults); `noun` names what is
    stored ("exhibits", "photos") in the help.
    """
    options = [
        click.option("--max-side-px", type=click.IntRange(min=16), default=defaults.max_side_px, show_default=True,
                     help="Downsample so the longest side is at most this (never upscale); the smallest "
                          "rendition the source offers that covers it is downloaded."),
        click.option("--min-side-px", type=click.IntRange(min=1), default=defaults.min_side_px, show_default=True,
                     help=f"Drop {noun} whose shorter side is below this (status too_small)."),
        click.option("--max-aspect-ratio", type=click.FloatRange(min=1), default=defaults.max_aspect_ratio,
                     show_default=True,
                     help=f"Drop {noun} whose long/short side ratio is above this (status aspect_ratio)."),
        click.option("--jpeg-quality", type=click.IntRange(1, 95), default=defaults.jpeg_quality,
                     show_default=True, help=f"JPEG quality of the stored {noun} (Pillow advises against "
                                             "values above 95)."),
    ]

    def decorate(command):
        for option in reversed(options):
            command = option(command)
        return command

    return decorate

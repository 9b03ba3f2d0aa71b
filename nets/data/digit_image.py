"""Turn a photo or drawing of one digit into a 28x28 MNIST-style input.

MNIST's recipe (LeCun et al.): grey levels with the ink bright on a dark background, the digit
cropped and scaled to fit a 20x20 box keeping its aspect ratio, then placed in a 28x28 field so
that its centre of mass sits at the centre. We follow it step by step, and refuse input that
cannot hold a digit (not an image, blank, animated, absurdly large or tiny) with a clear error.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
from scipy import ndimage

from nnsweep.nets.data.readers import DataFormatError

MAX_PIXELS = 40_000_000  # ~ a 7,000 x 6,000 photo; more is almost surely a mistake (or a bomb)
MIN_SIDE = 8
BOX, FIELD = 20, 28
INK_LEVEL = 0.2  # fraction of the darkest-to-lightest range that counts as ink when cropping
BLANK_LEVEL = 0.1  # ink that never stands this far out of the background is no drawing at all


def load_grey(path: str | Path) -> np.ndarray:
    """The image file as float grey levels in [0, 1] (1 = white), whatever its mode or bit depth."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"image {path} does not exist")
    if not path.is_file():
        raise DataFormatError(f"image {path} is not a file; give the path of a PNG or JPEG of one digit")
    return decode_grey(path, f"image {path}")


def decode_grey(
    source: str | Path | BinaryIO,
    name: str = "image",
    max_pixels: int = MAX_PIXELS,
    formats: tuple[str, ...] | None = None,
) -> np.ndarray:
    """A path or an open binary file (an uploaded PNG) as float grey levels in [0, 1] (1 = white);
    ``name`` is what the errors call it. ``max_pixels`` bounds the work (a 63 KB PNG can hold 40
    million white pixels); ``formats`` limits what Pillow may open (None: every format it knows)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(source, formats=formats) as img:
            w, h = img.size
            if w * h > max_pixels:
                raise DataFormatError(f"{name} is {w}x{h} pixels, too large; crop it to the digit or scale it down")
            if min(w, h) < MIN_SIDE:
                raise DataFormatError(f"{name} is {w}x{h} pixels; a digit needs at least {MIN_SIDE}x{MIN_SIDE}")
            if getattr(img, "n_frames", 1) > 1:
                raise DataFormatError(
                    f"{name} is animated ({img.n_frames} frames); save the frame with the digit as PNG"
                )
            if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):  # 16/32-bit grey
                a = np.asarray(img, dtype=np.float64)
                return a / (65535.0 if a.max() > 255 else 255.0)
            if img.mode == "F":
                a = np.asarray(img, dtype=np.float64)
                if not np.isfinite(a).all():
                    raise DataFormatError(f"{name} holds NaN or infinite pixel values; save it as 8-bit PNG")
                return (a - a.min()) / max(a.max() - a.min(), 1e-12)
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                # Transparent drawings: what is transparent is paper, so lay them on white.
                rgba = img.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(white, rgba)
            return np.asarray(img.convert("L"), dtype=np.float64) / 255.0
    except UnidentifiedImageError:
        raise DataFormatError(
            f"{name} is not a readable image (no format Pillow knows); use a PNG or JPEG of one digit"
        ) from None
    except Image.DecompressionBombError as err:
        raise DataFormatError(f"{name} is not a usable image ({err}); use a PNG or JPEG of one digit") from None
    except OSError as err:
        raise DataFormatError(f"{name} could not be read ({err}); is it truncated?") from None
    except (ValueError, TypeError) as err:  # a mode Pillow cannot turn into grey levels (LAB ...)
        raise DataFormatError(
            f"{name} has pixels that cannot be read as grey levels ({err}); save it as 8-bit PNG"
        ) from None


def mnist_style(grey: np.ndarray, source: str = "image", min_extent: float = 0.0) -> np.ndarray:
    """``grey: (h, w)`` in [0, 1] -> ``(784,)`` float32 ink in [0, 1], MNIST-centred.

    Ink whose larger side spans less than ``min_extent`` of the image's larger side is refused: a
    click or a speck on a drawing pad would be blown up to 20x20 and read with confidence."""
    from PIL import Image

    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    ink = 1.0 - grey if np.median(border) > 0.5 else grey.copy()  # dark-on-light is inverted
    ink = np.clip(ink - np.median(np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])), 0.0, None)
    if ink.max() < BLANK_LEVEL:
        raise DataFormatError(f"{source} is blank (no stroke stands out from the background)")
    ink /= ink.max()
    rows, cols = np.nonzero(ink > INK_LEVEL)
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    h, w = crop.shape
    if max(h, w) < min_extent * max(grey.shape):
        raise DataFormatError(
            f"{source} is a mark {max(h, w)} pixels across, too small to be a digit; draw the "
            f"digit larger (at least {min_extent:.0%} of the pad)"
        )
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # Box-filter resampling averages every source pixel: a 2,000-pixel photo shrunk to 20 pixels
    # keeps its thin strokes (point-sampling interpolation would miss most of them).
    small = np.asarray(Image.fromarray(crop.astype(np.float32), mode="F").resize(size, Image.Resampling.BOX))
    small = np.clip(small.astype(np.float64), 0.0, 1.0)
    field = np.zeros((FIELD, FIELD))
    com_r, com_c = ndimage.center_of_mass(small)
    top = int(np.clip(round(FIELD / 2 - com_r), 0, FIELD - small.shape[0]))
    left = int(np.clip(round(FIELD / 2 - com_c), 0, FIELD - small.shape[1]))
    field[top : top + small.shape[0], left : left + small.shape[1]] = small
    return field.reshape(-1).astype(np.float32)


def load_digit(path: str | Path) -> np.ndarray:
    """A file -> ``(784,)`` float32 MNIST-style input in [0, 1]."""
    return mnist_style(load_grey(path), source=f"image {path}")

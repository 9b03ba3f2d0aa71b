"""Random shift, zoom and rotation of training digits (the NumPy LeNet-5 project's recipe, as
Keras' ``ImageDataGenerator(rotation_range=10, zoom_range=0.1, width/height_shift_range=0.1)``),
and, for clothes, a random left-right mirror (``horizontal_flip``): a mirrored shirt is still a
shirt, a mirrored 7 is not a digit.

Each image gets its own random affine map; all of a chunk's images are resampled by one
``scipy.ndimage.map_coordinates`` call (bilinear), so there is no Python loop over images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import map_coordinates

CHUNK = 4096  # images resampled per call: bounds the coordinate arrays to ~80 MB


@dataclass(frozen=True)
class Augmenter:
    """Callable ``augment(x, rng) -> x`` for flat images ``x: (n, side*side)``.

    Parameters
    ----------
    rotation : float
        Maximum rotation in degrees, either way.
    zoom : float
        Scale drawn from [1 - zoom, 1 + zoom].
    shift : float
        Maximum shift as a fraction of the image side, each axis.
    side : int
        Images are side x side.
    flip : bool
        Mirror each image left-right with probability 1/2. Drawn after the affine maps, so
        the other draws, and every run without it, stay as they were. Last, so a call that
        names the others by position means what it meant before flip existed.
    """

    rotation: float = 10.0
    zoom: float = 0.1
    shift: float = 0.1
    side: int = 28
    flip: bool = False

    def __post_init__(self):
        if self.rotation < 0 or not 0 <= self.zoom < 1 or not 0 <= self.shift < 1:
            raise ValueError(
                f"augmentation needs rotation >= 0, 0 <= zoom < 1, 0 <= shift < 1; got "
                f"rotation={self.rotation}, zoom={self.zoom}, shift={self.shift}"
            )

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = self._affine(x, rng)
        if self.flip and len(x):
            mirrored = rng.random(len(x)) < 0.5
            images = out.reshape(len(x), self.side, self.side)
            images = np.where(mirrored[:, None, None], images[:, :, ::-1], images)
            out = images.reshape(len(x), -1)
        return out

    def _affine(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n = len(x)
        if n == 0 or (self.rotation == 0 and self.zoom == 0 and self.shift == 0):
            return x
        s = self.side
        angle = np.deg2rad(rng.uniform(-self.rotation, self.rotation, n))
        scale = rng.uniform(1 - self.zoom, 1 + self.zoom, n)
        shifts = rng.uniform(-self.shift, self.shift, (n, 2)) * s
        images = x.reshape(n, s, s)
        out = np.empty_like(images)
        background = float(x.min())
        centre = (s - 1) / 2.0
        grid_r, grid_c = np.mgrid[0:s, 0:s].astype(np.float64) - centre
        for lo in range(0, n, CHUNK):
            hi = min(lo + CHUNK, n)
            cos = (np.cos(angle[lo:hi]) / scale[lo:hi])[:, None, None]
            sin = (np.sin(angle[lo:hi]) / scale[lo:hi])[:, None, None]
            # Inverse map: output pixel -> where to sample the input (rotate back, unzoom, unshift).
            r = grid_r - shifts[lo:hi, 0, None, None]
            c = grid_c - shifts[lo:hi, 1, None, None]
            src_r = cos * r - sin * c + centre
            src_c = sin * r + cos * c + centre
            sample = np.broadcast_to(np.arange(lo, hi, dtype=np.float64)[:, None, None], src_r.shape)
            out[lo:hi] = map_coordinates(images, [sample, src_r, src_c], order=1, mode="constant", cval=background)
        return out.reshape(n, -1)

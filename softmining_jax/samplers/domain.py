"""The sampling domain: a set of images, given by their sizes and an optional prior density."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class Domain:
    """A set of one or more images to sample pixel positions from.

    Attributes:
      sizes: ``((H_0, W_0), (H_1, W_1), ...)`` image sizes in pixels.
      priors: optional per-image non-negative prior weights, each a ``(H_m, W_m)`` array (e.g. the
        Sobel edge magnitude, see :func:`softmining_jax.samplers.priors.sobel_prior`). ``None``
        means a uniform prior.
    """

    sizes: tuple[tuple[int, int], ...]
    priors: tuple[np.ndarray, ...] | None = None

    def __post_init__(self):
        sizes = tuple((int(h), int(w)) for h, w in self.sizes)
        if not sizes:
            raise ValueError("Domain needs at least one image; got sizes=().")
        for m, (h, w) in enumerate(sizes):
            if h < 1 or w < 1:
                raise ValueError(f"Domain image {m} has invalid size (H, W)=({h}, {w}).")
        object.__setattr__(self, "sizes", sizes)
        if self.priors is not None:
            priors = tuple(np.asarray(p, dtype=np.float32) for p in self.priors)
            if len(priors) != len(sizes):
                raise ValueError(
                    f"Domain has {len(sizes)} images but {len(priors)} priors were given."
                )
            for m, (p, size) in enumerate(zip(priors, sizes, strict=True)):
                if p.shape != size:
                    raise ValueError(
                        f"Prior of image {m} has shape {p.shape}, expected (H, W)={size}."
                    )
                if not np.all(np.isfinite(p)) or np.any(p < 0):
                    raise ValueError(f"Prior of image {m} must be finite and non-negative.")
            object.__setattr__(self, "priors", priors)

    @property
    def num_images(self) -> int:
        return len(self.sizes)

    @property
    def num_pixels(self) -> int:
        return int(sum(h * w for h, w in self.sizes))

    @classmethod
    def from_sizes(cls, sizes: Sequence[tuple[int, int]]) -> Domain:
        """A domain with a uniform prior."""
        return cls(sizes=tuple(sizes))

    @classmethod
    def from_images(cls, images: Sequence[np.ndarray], edge_prior: bool = True) -> Domain:
        """A domain over ``images`` (each ``(H, W)`` or ``(H, W, C)``, any dtype).

        With ``edge_prior`` the prior is the Sobel edge magnitude of each image
        (:func:`~softmining_jax.samplers.priors.sobel_prior`).
        """
        from softmining_jax.samplers.priors import sobel_prior

        sizes = tuple(np.asarray(im).shape[:2] for im in images)
        priors = tuple(sobel_prior(im) for im in images) if edge_prior else None
        return cls(sizes=sizes, priors=priors)

"""EVOS: evolutionary selection of the training points.

Zhang et al., "EVOS: Efficient Implicit Neural Representations via Evolutionary Selection" (CVPR
2025; code: zwx-open/EVOS-INR). Every few iterations a full forward pass measures each point's
*fitness* (its squared error; the code's "add" crossover adds ``1e5`` times the squared error of
the image Laplacian, the "frequency-guided crossover"). *Selection* keeps the fittest
``use_ratio * (1 - mutation_ratio)`` of all points; *mutation* adds ``use_ratio *
mutation_ratio`` points drawn uniformly from the rest, anew every iteration (the code's defaults:
``use_ratio`` 0.5, ``mutation_ratio`` 0.5, "constant"). Training uses the selected and mutated
points.

Mini-batch form (:mod:`softmining_jax.samplers.ranked`): a sample comes from the fittest
``use_ratio * (1 - mutation_ratio)`` of the pixels with probability ``1 - mutation_ratio``, else
uniformly from the rest. Fitness is the latest dense L1 error map, refreshed by
:class:`softmining_jax.hooks.DenseRefresh` (``gin_configs/samplers/evos.gin``: once per epoch of
samples; the code's interval falls from 100 to 50 full-batch iterations). Not reproduced: the
Laplacian crossover (it needs the signed prediction of the whole image; the dense refresh gives
the L1 error; EVOS-INR's trainer weighs that term by ``1e-5`` unless ``lap_coff`` is set, the
Expansive-Supervision copy by ``1e5``), and the code's cross-frequency loss.

Their soft-mining baseline (``strategy="soft"`` in EVOS-INR's image trainer) trains on a batch of
``use_ratio`` of all pixels per step, with the authors' LMC (``a``, ``b`` as published, 10%
lowest-loss re-seed, 10% uniform) and its positions rounded to whole pixels; the loss weights
follow the 2024 code (drift divided by the weight): our ``official`` with ``version='2024'``.
"""

from __future__ import annotations

from softmining_jax.samplers.base import Sampler
from softmining_jax.samplers.population import check_fraction
from softmining_jax.samplers.ranked import constant, ranked_pool_sampler


def evos_sampler(use_ratio: float = 0.5, mutation_ratio: float = 0.5) -> Sampler:
    """Selection of the highest-error pixels plus uniform mutation (see the module docstring).

    Args:
      use_ratio: share of all pixels a full-batch iteration would train on, in ``(0, 1]``.
      mutation_ratio: share of those drawn uniformly from the unselected pixels, in ``[0, 1)``.
    """
    check_fraction("evos_sampler.use_ratio", use_ratio)
    check_fraction("evos_sampler.mutation_ratio", mutation_ratio)
    if use_ratio <= 0.0 or mutation_ratio >= 1.0:
        raise ValueError("evos_sampler needs use_ratio > 0 and mutation_ratio < 1, got "
                         f"{use_ratio} and {mutation_ratio}.")
    return ranked_pool_sampler("dense", top_fraction=constant(use_ratio * (1 - mutation_ratio)),
                               top_share=constant(1.0 - mutation_ratio))

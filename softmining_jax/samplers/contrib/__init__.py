"""Experimental moves and samplers.

A new idea starts here as a move (see :mod:`softmining_jax.samplers.population`) or a sampler,
registered for gin under its own name. It graduates into :mod:`softmining_jax.samplers` with a
shipped config once a side-by-side comparison against the strongest uniform baseline measured it
better; an idea that measured worse is deleted and recorded in ``docs/negative_results.md``.
"""

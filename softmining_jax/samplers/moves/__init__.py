"""Moves of a sample population (see :mod:`softmining_jax.samplers.population`)."""

from softmining_jax.samplers.moves.langevin import langevin
from softmining_jax.samplers.moves.reseed import reseed
from softmining_jax.samplers.moves.uniform_restart import uniform_restart
from softmining_jax.samplers.moves.view_hop import view_hop

__all__ = ["langevin", "reseed", "uniform_restart", "view_hop"]

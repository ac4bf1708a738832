"""Flax neural fields and encodings."""

from softmining_jax.fields.encodings import FourierEncoding
from softmining_jax.fields.hash_grid import HashGridEncoding, HashGridLayout, hash_encode
from softmining_jax.fields.image_field import ImageField
from softmining_jax.fields.mlp import MLP
from softmining_jax.fields.radiance_field import ProposalField, RadianceField

__all__ = ["MLP", "FourierEncoding", "HashGridEncoding", "HashGridLayout", "ImageField",
           "ProposalField", "RadianceField", "hash_encode"]

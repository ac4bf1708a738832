"""Rendering: cameras and rays (differentiable in pixel position), sampling along rays, volume
rendering."""

from softmining_jax.render.cameras import ndc_rays, pixel_rays
from softmining_jax.render.sampling import interlevel_loss, sample_pdf, stratified_bins
from softmining_jax.render.volume import volume_weights

__all__ = ["interlevel_loss", "ndc_rays", "pixel_rays", "sample_pdf", "stratified_bins",
           "volume_weights"]

"""softmining_jax: soft mining for neural-field training in JAX/Flax."""

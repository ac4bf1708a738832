"""Convert the LPIPS-Alex weights of the ``lpips`` PyTorch package to the ``.npz`` we read.

Offline, on a machine that has PyTorch and the two files (nothing is downloaded here)::

    python experiments/convert_lpips_weights.py --alexnet alexnet-owt-7be5be79.pth \\
        --lpips lpips/weights/v0.1/alex.pth --out ~/lpips_alex.npz

``--alexnet`` is torchvision's ImageNet AlexNet state dict, ``--lpips`` the linear heads shipped
with the ``lpips`` package. Then train with::

    --gin_bindings "blender_task.lpips = @lpips_metric()" \
    --gin_bindings "lpips_metric.weights = '~/lpips_alex.npz'"
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from softmining_jax.lpips import expected_shapes, load_weights  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alexnet", required=True, help="torchvision AlexNet state dict (.pth)")
    parser.add_argument("--lpips", required=True, help="lpips package alex.pth (linear heads)")
    parser.add_argument("--out", required=True, help="output .npz")
    args = parser.parse_args(argv)
    import torch  # only this offline tool needs PyTorch

    tensors = {}
    for path in (args.alexnet, args.lpips):
        state = torch.load(path, map_location="cpu", weights_only=True)
        tensors.update({k: v.numpy() for k, v in state.items()})
    wanted = {k: np.asarray(tensors[k], np.float32) for k in expected_shapes() if k in tensors}
    missing = sorted(set(expected_shapes()) - set(wanted))
    if missing:
        raise SystemExit(f"error: the inputs lack {missing}")
    out = pathlib.Path(args.out).expanduser()
    np.savez(out, **wanted)
    load_weights(out)  # checks every shape
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

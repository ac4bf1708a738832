#!/usr/bin/env bash
# The GPU check in one command (see experiments/gpu_check.py; README "Running on a GPU").
#
#   bash experiments/gpu_check.sh --prepare   # here, once: wheels and chair's data into .gpu/
#   bash experiments/gpu_check.sh             # on the device machine (carry: .gpu); writes $OUT
#
# The device machine has jax, flax, optax, orbax and tqdm but not gin-config, and reaches no
# package index: --prepare downloads gin-config's pure-Python wheel and copies chair's 100
# training views and its first 8 test views (about 34 MB, inside the 64 MiB a call carries).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--prepare" ]; then
  data=${SHARED_DATA:-../shared/data}/nerf_synthetic/chair
  rm -rf .gpu && mkdir -p .gpu/wheels .gpu/chair/train .gpu/chair/test
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d .gpu/wheels gin-config==0.5.0
  cp "$data"/train/*.png .gpu/chair/train/ && cp "$data"/transforms_train.json .gpu/chair/
  python3 - "$data" <<'PY'
import json, shutil, sys
src = sys.argv[1]
meta = json.load(open(f"{src}/transforms_test.json"))
meta["frames"] = meta["frames"][:8]
for frame in meta["frames"]:
    shutil.copy(f"{src}/{frame['file_path']}.png", f".gpu/chair/{frame['file_path']}.png")
json.dump(meta, open(".gpu/chair/transforms_test.json", "w"), indent=1)
PY
  du -sh .gpu
  exit 0
fi
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .gpu/wheels/*.whl
export PYTHONPATH="/tmp/site:$PWD" PYTHONUNBUFFERED=1
out=${OUT:-gpu_check_out}
mkdir -p "$out"
python3 experiments/gpu_check.py --data .gpu/chair --out "$out" "$@" 2>&1 | tee "$out/gpu_check.log"

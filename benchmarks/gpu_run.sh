#!/usr/bin/env bash
# GPU checks and figures, run on a lent GPU machine (see README "Benchmarks"):
# data generation and cache timings, the pair-training speed-up on the GPU, and a
# paper-settings DeepSign run at full 300x360 resolution on a 55-writer synthetic set.
set -euo pipefail
OUT=${OUT:-/tmp/inkface-gpu}
mkdir -p "$OUT"
# The project's environment: $PYTHON when set, else .venv/bin/python (made by
# `make install`), else python3 only where there is no .venv (a lent GPU machine whose
# system Python carries a CUDA build of torch); src/ goes first on the path either way.
if [ -n "${PYTHON:-}" ]; then
  PY=$PYTHON
elif [ -x .venv/bin/python ]; then
  PY=.venv/bin/python
else
  PY=python3
  echo "note: no .venv here; using $(command -v python3)" >&2
fi
export PYTHONPATH=$(pwd)/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
"$PY" -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
"$PY" -m inkface data synth-signatures --out /tmp/cedar55 --writers 55 --genuine 24 \
    --forgeries 24 --seed 0 | tail -1
for i in 1 2; do
  "$PY" -m inkface data cache --dataset cedar --root /tmp/cedar55 --size deepsign \
      --cache-dir /tmp/cache | tail -1
done
"$PY" benchmarks/bench_pair_training.py --device cuda --writers 4 --steps 10 --warmup 3
"$PY" -m inkface data pairs --dataset cedar --root /tmp/cedar55 | "$PY" -c \
  "import json,sys; d=json.load(sys.stdin); print({k: v['paper_pairs'] for k, v in d['splits'].items()})"
time "$PY" -m inkface train --recipe deepsign-cedar --root cedar=/tmp/cedar55 \
    --out /tmp/run-ds --cache-dir /tmp/cache --accelerator gpu --max-epochs 4 --quiet
"$PY" -c "
import json; m = json.load(open('/tmp/run-ds/metrics.json')); t = m['test_sets']['test/cedar']
print('paper metrics', t['paper']); print('eer skilled', t['test']['eer_skilled'])
print(json.dumps(json.load(open('/tmp/run-ds/history.json'))['epochs']))"
cp /tmp/run-ds/report.html "$OUT/deepsign-cedar-gpu-report.html"

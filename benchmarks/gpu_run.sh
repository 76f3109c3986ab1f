#!/usr/bin/env bash
# GPU checks and figures, run on a lent GPU machine (see README "Benchmarks"):
# data generation and cache timings, the pair-training speed-up on the GPU, and a
# paper-settings DeepSign run at full 300x360 resolution on a 55-writer synthetic set.
set -euo pipefail
OUT=${OUT:-/tmp/inkface-gpu}
mkdir -p "$OUT"
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$(pwd)/src PYTHONUNBUFFERED=1
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
python3 -m inkface data synth-signatures --out /tmp/cedar55 --writers 55 --genuine 24 \
    --forgeries 24 --seed 0 | tail -1
for i in 1 2; do
  python3 -m inkface data cache --dataset cedar --root /tmp/cedar55 --size deepsign \
      --cache-dir /tmp/cache | tail -1
done
python3 benchmarks/bench_pair_training.py --device cuda --writers 4 --steps 10 --warmup 3
python3 -m inkface data pairs --dataset cedar --root /tmp/cedar55 | python3 -c \
  "import json,sys; d=json.load(sys.stdin); print({k: v['paper_pairs'] for k, v in d['splits'].items()})"
time python3 -m inkface train --recipe deepsign-cedar --root cedar=/tmp/cedar55 \
    --out /tmp/run-ds --cache-dir /tmp/cache --accelerator gpu --max-epochs 4 --quiet
python3 -c "
import json; m = json.load(open('/tmp/run-ds/metrics.json')); t = m['test_sets']['test/cedar']
print('paper metrics', t['paper']); print('eer skilled', t['test']['eer_skilled'])
print(json.dumps(json.load(open('/tmp/run-ds/history.json'))['epochs']))"
cp /tmp/run-ds/report.html "$OUT/deepsign-cedar-gpu-report.html"

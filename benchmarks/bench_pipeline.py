"""End-to-end face pipeline speed (smile report §7.3): FPS and p50 / p99 frame latency
with 1 and 5 faces per frame for PyTorch eager, ONNX Runtime fp32 and ONNX Runtime int8,
measured side by side in one process, with the ratios.

    python benchmarks/bench_pipeline.py synthetic --threads 1
    python benchmarks/bench_pipeline.py some_video.mp4 --run runs/smile

Same options as ``inkface bench pipeline``; a thin wrapper over :mod:`inkface.faces.pipeline.bench`.
"""

from __future__ import annotations

import sys

from inkface.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "pipeline", *sys.argv[1:]]))

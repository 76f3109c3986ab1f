"""The real-time face pipeline against the published systems' per-frame loop (issue 12),
measured side by side in one process, with the ratios and the targets met or missed:

* the face-mask report's system (res10 SSD + MobileNetV2 224x224) and the smile systems
  (Haar or BlazeFace + the smile CNN): a naive loop (detect, then classify each face with
  PyTorch eager at the default threads) against ``inkface analyze``'s defaults;
* BlazeFace + the smile CNN on frames with 1 and 5 faces;
* the default thread budget against 1-4 threads while another process keeps a core busy.

It runs on OpenCV's ``Megamind.avi`` resized to 400 px wide when present (Debian
``opencv-doc``), else on a generated video. Detector weights come from ``inkface models
fetch ssd blazeface`` (systems whose weights are missing are skipped with a note).

    python benchmarks/bench_pipeline.py                    # same as `inkface bench realtime`
    python benchmarks/bench_pipeline.py --frames 270 --repeats 3
    python benchmarks/bench_pipeline.py backends synthetic --threads 1   # `inkface bench pipeline`

A thin wrapper over :mod:`inkface.faces.pipeline.bench_realtime` (and, with ``backends``,
the PyTorch / ONNX fp32 / int8 comparison of :mod:`inkface.faces.pipeline.bench`).
"""

from __future__ import annotations

import sys

from inkface.cli.main import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["backends"]:
        sys.exit(main(["bench", "pipeline", *args[1:]]))
    sys.exit(main(["bench", "realtime", *args]))

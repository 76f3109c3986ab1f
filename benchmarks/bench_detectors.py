"""Face detector speed in the layout of the smile report's Table 7.1 (FPS and seconds
per frame on 350x350 frames, CPU) and at 640x480, plus precision / recall at IoU 0.5 on
synthetic scenes and per mask class, OpenCV's sample photos (messi5.jpg found or not,
false positives on fruits.jpg / baboon.jpg) and optionally WIDER FACE or FDDB, for every
detector backend available here (the others are listed as unavailable with the reason).

    inkface models fetch ssd; inkface models fetch mtcnn; inkface models fetch blazeface_full
    python benchmarks/bench_detectors.py --repeats 50 --threads 1
    python benchmarks/bench_detectors.py --detectors mtcnn,ssd --wider ~/data/WIDER --limit 500

Same options as ``inkface bench detectors``; a thin wrapper
over :mod:`inkface.faces.detection.bench`.
"""

from __future__ import annotations

import sys

from inkface.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "detectors", *sys.argv[1:]]))

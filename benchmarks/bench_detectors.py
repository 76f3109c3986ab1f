"""Face detector speed in the layout of the smile report's Table 7.1 (FPS and seconds
per frame on 350x350 frames, CPU), plus precision / recall at IoU 0.5 on synthetic
scenes, for every detector backend available here (the others are listed as
unavailable with the reason).

    python benchmarks/bench_detectors.py --repeats 50

Same options as ``inkface bench detectors``; a thin wrapper
over :mod:`inkface.faces.detection.bench`.
"""

from __future__ import annotations

import sys

from inkface.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", "detectors", *sys.argv[1:]]))

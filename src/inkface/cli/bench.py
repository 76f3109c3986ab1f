"""``inkface bench detectors`` (smile report Table 7.1 layout), ``inkface bench
pipeline SOURCE`` (end-to-end FPS, PyTorch vs ONNX Runtime fp32 / int8) and ``inkface
bench realtime`` (the pipeline against the published systems' per-frame loop).

The command bodies import the benchmarks locally: every command module is imported when
``inkface`` starts, and the benchmarks pull in PyTorch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from inkface.cli.detector_flags import add_detector_flags, detector_settings
from inkface.core.errors import InkfaceError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="time face detectors and the face pipeline")
    commands = parser.add_subparsers(dest="bench_command", metavar="SUBCOMMAND", required=True)

    det = commands.add_parser("detectors", help="FPS / SPF and P/R of every face detector")
    det.add_argument(
        "--detectors", "--detector", default=None, help="comma-separated names (default: all)"
    )
    det.add_argument(
        "--detector-weights",
        type=Path,
        default=None,
        metavar="PATH",
        help="weight file of the one detector named by --detectors",
    )
    det.add_argument(
        "--detector-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="setting of the one detector named by --detectors (repeat)",
    )
    det.add_argument("--size", type=int, default=350, help="frame side (paper: 350)")
    det.add_argument("--large", default="640x480", help="second frame size WxH ('none': skip)")
    det.add_argument("--warmup", type=int, default=5)
    det.add_argument("--repeats", type=int, default=50)
    det.add_argument("--scenes", type=int, default=20, help="synthetic scenes for P/R")
    det.add_argument(
        "--per-class", type=int, default=30, help="single faces per mask class for P/R (0: none)"
    )
    det.add_argument(
        "--samples",
        type=Path,
        default=Path("/usr/share/doc/opencv-doc/examples/data"),
        help="OpenCV sample photos (messi5.jpg, fruits.jpg, baboon.jpg); skipped when absent",
    )
    det.add_argument("--wider", type=Path, default=None, help="WIDER FACE root (val split)")
    det.add_argument("--fddb", type=Path, default=None, help="FDDB root (all ten folds)")
    det.add_argument("--limit", type=int, default=None, help="images of WIDER FACE / FDDB used")
    det.add_argument("--threads", type=int, default=None, help="PyTorch / OpenCV threads")
    det.add_argument("--seed", type=int, default=0)
    det.set_defaults(func=_detectors)

    pipe = commands.add_parser("pipeline", help="end-to-end FPS: torch vs ONNX fp32 vs int8")
    pipe.add_argument("source", help='"synthetic" (1 and 5 faces per frame) or a frame source')
    pipe.add_argument("--run", type=Path, default=None, help="classifier run (default: untrained)")
    pipe.add_argument("--model", default="smile_cnn", help="architecture when no --run")
    add_detector_flags(pipe)
    pipe.add_argument("--faces", default="1,5", help="faces per synthetic frame")
    pipe.add_argument("--frames", type=int, default=10)
    pipe.add_argument("--warmup", type=int, default=10, help="untimed frames per row")
    pipe.add_argument("--repeats", type=int, default=3, help="timed passes over the frames")
    pipe.add_argument("--threads", type=int, default=None)
    pipe.add_argument("--backends", default="torch,onnx-fp32,onnx-int8")
    pipe.set_defaults(func=_pipeline)

    real = commands.add_parser(
        "realtime", help="the face pipeline against the published per-frame loop"
    )
    real.add_argument(
        "--video",
        type=Path,
        default=None,
        help="video to resize to 400 px wide (default: OpenCV's Megamind.avi when present, "
        "else a generated one)",
    )
    real.add_argument("--frames", type=int, default=120, help="frames of the video used")
    real.add_argument("--repeats", type=int, default=1, help="runs per row (median FPS kept)")
    real.add_argument("--systems", default=None, help="comma-separated detectors (default: all)")
    real.add_argument("--faces", type=int, default=5, help="faces per frame of the many-face row")
    real.add_argument("--sweep", default="1,2,3,4", help="thread counts timed on a busy core")
    real.set_defaults(func=_realtime)


def _names(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _detectors(args: argparse.Namespace) -> int:
    from inkface.faces.detection import bench

    for name, value, least in (("--size", args.size, 32), ("--repeats", args.repeats, 1)):
        if value < least:
            raise InkfaceError(f"{name}: must be >= {least}, got {value}")
    if args.wider and args.fddb:
        raise InkfaceError("--wider and --fddb: give one benchmark at a time")
    kind, root = ("wider", args.wider) if args.wider else ("fddb", args.fddb)
    large = _frame_size(args.large)
    options = _one_detector_options(args)
    samples = args.samples if (args.samples / "messi5.jpg").is_file() else None
    rows = bench.bench_detectors(
        _names(args.detectors) or None,
        args.size,
        args.warmup,
        args.repeats,
        args.scenes,
        args.seed,
        large=large,
        per_class=args.per_class,
        samples=samples,
        benchmark=(kind, root, args.limit) if root else None,
        threads=args.threads,
        options=options,
    )
    info = ", ".join(f"{k} {v}" for k, v in bench.system_info(args.threads).items())
    table = bench.format_detector_table(rows, args.warmup, args.repeats, args.size, large)
    bench.print_tables("System: " + info, table)
    return 0


def _one_detector_options(args: argparse.Namespace) -> dict[str, dict] | None:
    """``--detector-weights`` / ``--detector-option`` for the one detector they belong to."""
    from inkface.faces.detection.detectors import parse_detector_options

    options = parse_detector_options(args.detector_option)
    if args.detector_weights is None and not options:
        return None
    names = _names(args.detectors)
    if len(names) != 1 or names[0] == "auto":
        raise InkfaceError(
            "--detector-weights / --detector-option: name exactly one detector with --detectors"
        )
    if args.detector_weights is not None:
        options["model_path"] = args.detector_weights
    return {names[0]: options}


def _frame_size(text: str) -> tuple[int, int] | None:
    if text.strip().lower() == "none":
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InkfaceError(f"--large: expected WxH like 640x480 or 'none', got {text!r}") from None
    if min(w, h) < 32:
        raise InkfaceError(f"--large: sides must be >= 32, got {text!r}")
    return w, h


def _pipeline(args: argparse.Namespace) -> int:
    from inkface.faces.detection.bench import print_tables, system_info
    from inkface.faces.pipeline import bench

    try:
        faces = [int(n) for n in _names(args.faces)]
    except ValueError:
        raise InkfaceError(f"--faces: expected numbers like 1,5, got {args.faces!r}") from None
    if not faces or min(faces) < 1 or max(faces) > 9:
        raise InkfaceError(f"--faces: counts must be 1..9, got {args.faces!r}")
    known = ("torch", "onnx-fp32", "onnx-int8")
    backends = _names(args.backends)
    unknown = [b for b in backends if b not in known]
    if unknown or not backends:
        raise InkfaceError(f"--backends: choose from {', '.join(known)}, got {args.backends!r}")
    detector, weights, options = detector_settings(args)
    report = bench.bench_pipeline(
        args.source,
        run_dir=args.run,
        model=args.model,
        detector=detector,
        detector_weights=weights,
        detector_options=options,
        face_counts=faces,
        frames=args.frames,
        warmup=args.warmup,
        repeats=args.repeats,
        threads=args.threads,
        backends=backends,
    )
    print_tables(bench.format_pipeline_table(report, system_info(args.threads)))
    return 0


def _realtime(args: argparse.Namespace) -> int:
    from inkface.faces.detection.bench import print_tables, system_info
    from inkface.faces.pipeline import bench_realtime as bench

    try:
        sweep = [int(n) for n in _names(args.sweep)]
    except ValueError:
        raise InkfaceError(
            f"--sweep: expected thread counts like 1,2,4, got {args.sweep!r}"
        ) from None
    if any(n < 1 for n in sweep):
        raise InkfaceError(f"--sweep: thread counts must be >= 1, got {args.sweep!r}")
    if not 2 <= args.faces <= 9:
        raise InkfaceError(f"--faces: must be 2..9, got {args.faces}")
    wanted = _names(args.systems)
    systems = [s for s in bench.SYSTEMS if not wanted or s.detector in wanted]
    if wanted and len(systems) != len(wanted):
        known = ", ".join(s.detector for s in bench.SYSTEMS)
        raise InkfaceError(f"--systems: choose from {known}, got {args.systems!r}")
    if args.video is not None and not args.video.is_file():
        raise InkfaceError(f"{args.video}: no such video (--video)")
    report = bench.bench_realtime(
        frames=args.frames,
        repeats=args.repeats,
        source=args.video or bench.MEGAMIND,
        systems=systems,
        sweep=sweep,
        many_faces=args.faces,
    )
    print_tables(bench.format_realtime_table(report, system_info()))
    return 0

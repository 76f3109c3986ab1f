"""``inkface analyze``: run the real-time face pipeline (detect, classify, track) over an
image, a folder, a video, a webcam or a stream, writing an annotated video and/or JSON
Lines (smile report §7.3; face-mask report's live demo)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inkface.cli.detector_flags import add_detector_flags, detector_settings
from inkface.core.atomic import check_output_path, is_standard_output
from inkface.core.errors import InkfaceError

TASKS = ("smile", "expression", "mask")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze", help="detect, classify and track faces in images or video"
    )
    parser.add_argument("source", help="image, folder of images, video file, webcam index or URL")
    parser.add_argument("--task", choices=TASKS, default=None, help="head name of --run")
    parser.add_argument("--run", type=Path, default=None, help="run folder of the classifier")
    parser.add_argument(
        "--head",
        "--run2",
        dest="heads",
        action="append",
        default=[],
        metavar="NAME=RUN_DIR",
        help="another classifier head (repeatable), e.g. mask=runs/mask",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="annotated video (.mp4 or .avi), or image (.png, .jpg) for an image source",
    )
    parser.add_argument(
        "--jsonl", type=Path, default=None, help="one JSON record per frame (- for stdout)"
    )
    add_detector_flags(parser)
    parser.add_argument("--detect-every", type=int, default=1, help="run the detector every N")
    parser.add_argument(
        "--detect-size",
        type=int,
        default=None,
        metavar="PIXELS",
        help="detect on frames shrunk to this longer side (boxes mapped back); default: full",
    )
    parser.add_argument("--margin", type=float, default=0.1, help="crop margin (fraction)")
    parser.add_argument("--no-square", action="store_true", help="keep crops rectangular")
    parser.add_argument("--smoothing", type=float, default=0.6, help="EMA weight of the past")
    parser.add_argument("--backend", choices=("auto", "torch", "onnx"), default="auto")
    parser.add_argument(
        "--precision",
        choices=("fp32", "int8"),
        default="fp32",
        help="int8: the heads' model.int8.onnx (inkface export --int8)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="total threads for PyTorch, ONNX Runtime and OpenCV together, split between the "
        "detect and classify stages (default: the usable cores, at most 8; 1: no overlap)",
    )
    parser.add_argument(
        "--no-overlap", action="store_true", help="run the stages one after the other"
    )
    parser.add_argument(
        "--in-flight",
        type=int,
        default=None,
        metavar="N",
        help="frames between reading and writing when the stages overlap (default: "
        "2 x threads); bounds memory and latency",
    )
    parser.add_argument("--max-frames", type=int, default=None)
    parser.add_argument("--show", action="store_true", help="live window (needs a display)")
    parser.add_argument("--no-progress", action="store_true")
    parser.set_defaults(func=_analyze)


def parse_heads(task: str | None, run: Path | None, extra: list[str]) -> dict[str, Path]:
    """Head name -> run folder from ``--task/--run`` and ``--head NAME=RUN_DIR``."""
    heads: dict[str, Path] = {}
    if run is not None and task is not None:
        # Local import: the pipeline loads torch and OpenCV, kept off `inkface --help`.
        from inkface.faces.pipeline.analyze import check_head_task

        check_head_task(run, task)
        heads[task] = run
    elif run is not None:
        heads[_head_name(run)] = run
    elif task is not None:
        raise InkfaceError("--task: needs --run RUN_DIR")
    for item in extra:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise InkfaceError(f"--head: expected NAME=RUN_DIR, got {item!r}")
        if name.strip() in heads:
            raise InkfaceError(f"--head: head {name.strip()!r} given twice")
        heads[name.strip()] = Path(path.strip())
    if not heads:
        raise InkfaceError("give a classifier: --task TASK --run RUN_DIR or --head NAME=RUN_DIR")
    return heads


def _head_name(run: Path) -> str:
    from inkface.models.run import read_meta

    meta = read_meta(run)
    return str((meta.extra or {}).get("head") or meta.architecture)


def _analyze(args: argparse.Namespace) -> int:
    # Outputs first: a folder, or a path under a file, is refused before any work starts.
    for path, what in ((args.out, "--out"), (args.jsonl, "--jsonl")):
        if path is not None:
            check_output_path(path, what)
    from inkface.faces.pipeline.analyze import analyze, check_outputs

    check_outputs(args.source, args.out, args.jsonl)
    detector, weights, options = detector_settings(args)
    if args.out is None and args.jsonl is None and not args.show:
        print("note: no --out, --jsonl or --show; printing the summary only")
    summary = analyze(
        args.source,
        parse_heads(args.task, args.run, args.heads),
        detector=detector,
        out_video=args.out,
        out_jsonl=args.jsonl,
        detect_every=args.detect_every,
        margin=args.margin,
        square=not args.no_square,
        smoothing=args.smoothing,
        show=args.show,
        progress=not args.no_progress,
        max_frames=args.max_frames,
        backend=args.backend,
        threads=args.threads,
        detector_weights=weights,
        detector_options=options,
        detect_size=args.detect_size,
        overlap=not args.no_overlap,
        in_flight=args.in_flight,
        precision=args.precision,
    )
    # With the records on standard output, the summary goes to standard error.
    to_stdout = args.jsonl is not None and is_standard_output(args.jsonl)
    print(json.dumps(summary.to_dict()), file=sys.stderr if to_stdout else sys.stdout)
    return 0

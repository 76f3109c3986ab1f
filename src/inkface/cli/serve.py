"""``inkface serve``: the HTTP service and web page over trained run folders."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="HTTP API and web page for trained runs (faces, signatures, gallery)",
        description="Load run folders once and serve them over HTTP (OpenAPI at /docs, "
        "web page at /). Example: inkface serve --run mask=runs/mask --run sig=runs/sig",
    )
    parser.add_argument(
        "--run",
        action="append",
        default=[],
        metavar="NAME=RUN_DIR",
        help="a run to serve under NAME (repeat): face heads, verifiers, writer CNNs",
    )
    parser.add_argument("--gallery", type=Path, default=None, help="enrolment gallery (.db)")
    parser.add_argument(
        "--gallery-model", default=None, metavar="NAME", help="run that embeds for the gallery"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--detector",
        default="haar",
        help="face detector: haar (default), lbp, hog, mtcnn, blazeface, blazeface_full, ssd, "
        "yunet, or auto (the best one whose weights are present)",
    )
    parser.add_argument(
        "--detector-weights", type=Path, default=None, help="the detector's weight file"
    )
    parser.add_argument(
        "--detector-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="detector setting, e.g. min_neighbors=5 (repeat)",
    )
    parser.add_argument(
        "--backend", default="auto", choices=("auto", "torch", "onnx"), help="inference backend"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="inference worker threads (default: cores, at most 4)",
    )
    parser.add_argument(
        "--token",
        default=None,
        help="bearer token required on /v1 and /metrics (or INKFACE_TOKEN; default: none)",
    )
    parser.add_argument(
        "--max-body-mb", type=float, default=10.0, help="request body limit in MiB (default 10)"
    )
    parser.add_argument(
        "--max-pending",
        type=int,
        default=32,
        help="inference requests in flight before 503 (default 32)",
    )
    parser.add_argument(
        "--batch-wait-ms",
        type=float,
        default=0.0,
        help="micro-batching wait per face head in ms (default 0: off; on a CPU a batch "
        "costs as much per face as single calls)",
    )
    parser.add_argument(
        "--max-batch", type=int, default=32, help="faces per micro-batch (default 32)"
    )
    parser.add_argument(
        "--max-images", type=int, default=16, help="images per analyze-batch (default 16)"
    )
    parser.add_argument(
        "--max-megapixels",
        type=float,
        default=16.0,
        help="pixels per uploaded image, checked from its header (default 16 million)",
    )
    parser.add_argument(
        "--max-references",
        type=int,
        default=10,
        help="reference images per verification or enrolment (default 10)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow this origin (repeat; default: CORS off)",
    )
    parser.add_argument("--plain-logs", action="store_true", help="text logs instead of JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from inkface.core.errors import InkfaceError
    from inkface.faces.detection.detectors import parse_detector_options
    from inkface.service.config import MIB, ServiceConfig, default_threads
    from inkface.service.loaded import load_models
    from inkface.service.server import serve

    if not 0 < args.port < 65536:
        raise InkfaceError(f"--port: expected 1-65535, got {args.port}")
    ranges = {
        "--max-body-mb": (args.max_body_mb, 0.001, 4096),
        "--max-megapixels": (args.max_megapixels, 0.000001, 50),
        "--batch-wait-ms": (args.batch_wait_ms, 0, 1000),
    }
    for flag, (value, low, high) in ranges.items():
        if not (math.isfinite(value) and low <= value <= high):
            raise InkfaceError(f"{flag}: expected a number from {low:g} to {high:g}, got {value}")
    runs = {}
    for item in args.run:  # names keep their case: they are the API's head names
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            raise InkfaceError(f"--run {item!r}: expected NAME=RUN_DIR, e.g. mask=runs/mask")
        if name in runs:
            raise InkfaceError(f"--run {name}: given twice")
        runs[name] = Path(folder)
    config = ServiceConfig(
        max_body_bytes=int(args.max_body_mb * MIB),
        max_pending=args.max_pending,
        threads=args.threads if args.threads is not None else default_threads(),
        batch_wait_ms=args.batch_wait_ms,
        max_batch=args.max_batch,
        max_images=args.max_images,
        max_references=args.max_references,
        max_pixels=int(args.max_megapixels * 1e6),
        token=args.token or os.environ.get("INKFACE_TOKEN") or None,
        cors_origins=tuple(args.cors_origin),
    )
    models = load_models(
        runs,
        args.gallery,
        args.gallery_model,
        detector=args.detector,
        detector_options=parse_detector_options(args.detector_option),
        detector_weights=args.detector_weights,
        backend=args.backend,
    )
    print(
        f"serving {len(models.models)} model(s) on http://{args.host}:{args.port} "
        "(page at /, API docs at /docs)",
        flush=True,
    )
    serve(models, config, host=args.host, port=args.port, json_logs=not args.plain_logs)
    return 0

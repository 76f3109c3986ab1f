"""Face analysis for the service: detect, crop, classify every face with every head.

Unlike the video pipeline there is no tracking or smoothing (each request stands
alone): labels and probabilities are the head's raw verdict on this image. Decoding and
detection run per image in the worker pool; the crops of all images of a request go to
each head in one call, merged with other requests' crops by that head's
:class:`~inkface.service.batching.MicroBatcher`.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import cv2
import numpy as np

from inkface.faces.classification.classifier import FaceClassifier
from inkface.faces.pipeline.results import FaceResult, FrameResult, HeadResult
from inkface.faces.pipeline.sinks import draw_result
from inkface.faces.types import Face, crop_face
from inkface.service.batching import MicroBatcher
from inkface.service.errors import ApiError
from inkface.service.loaded import LoadedModels
from inkface.service.uploads import Upload

CROP_MARGIN = 0.1  # the pipeline's default: a little context around the detector's box
JPEG_QUALITY = 90


@dataclass
class _Detected:
    upload: Upload
    image: np.ndarray  # BGR
    faces: list[Face]
    crops: list[np.ndarray]
    ms: dict[str, float]


def choose_heads(models: LoadedModels, wanted: str | None) -> dict[str, FaceClassifier]:
    """Every loaded face head, or those named in ``wanted`` (comma-separated); 404 for
    a name that is not loaded."""
    heads = models.face_heads()
    if not heads:
        raise ApiError(
            404,
            "no face head is loaded; start the server with --run mask=RUN_DIR "
            "(a smile, expression or mask run)",
        )
    if not wanted:
        return heads
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    unknown = [n for n in names if n not in heads]
    if unknown:
        raise ApiError(404, f"heads: no head named {unknown[0]!r} (loaded: {', '.join(heads)})")
    return {n: heads[n] for n in names}


def _detect(models: LoadedModels, upload: Upload) -> _Detected:
    t0 = time.perf_counter()
    rgb = upload.decode("rgb")
    image = np.ascontiguousarray(rgb[:, :, ::-1])
    t1 = time.perf_counter()
    faces = models.detector().detect(image)
    crops = [crop_face(image, face.box, CROP_MARGIN, square=True) for face in faces]
    t2 = time.perf_counter()
    return _Detected(
        upload, image, faces, crops, {"decode": 1e3 * (t1 - t0), "detect": 1e3 * (t2 - t1)}
    )


def _verdicts(head: FaceClassifier, rows: np.ndarray) -> list[HeadResult]:
    names = head.class_names
    if len(names) != rows.shape[1]:
        names = [f"class_{i}" for i in range(rows.shape[1])]
    out = []
    for row in rows:
        best = int(np.argmax(row))
        probs = {n: float(v) for n, v in zip(names, row, strict=True)}
        out.append(HeadResult(names[best], float(row[best]), probs, probs))
    return out


def _annotate(item: _Detected, faces: list[FaceResult]) -> str:
    canvas = draw_result(item.image, FrameResult(0, 0.0, True, faces))
    ok, data = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ApiError(500, "could not encode the annotated image")
    return base64.b64encode(data.tobytes()).decode("ascii")


async def analyze_images(
    models: LoadedModels,
    heads: Mapping[str, FaceClassifier],
    batchers: Mapping[str, MicroBatcher],
    executor: Executor,
    uploads: Sequence[Upload],
    annotate: bool = False,
) -> tuple[list[dict], dict[str, float]]:
    """Per image: its size, every face (box, detector score, each head's verdict) and,
    with ``annotate``, the annotated JPEG as base64; plus the request's stage timings."""
    loop = asyncio.get_running_loop()
    detected = await asyncio.gather(
        *(loop.run_in_executor(executor, _detect, models, upload) for upload in uploads)
    )
    crops = [crop for item in detected for crop in item.crops]
    t0 = time.perf_counter()
    verdicts: dict[str, list[HeadResult]] = {}
    if crops:
        rows = await asyncio.gather(*(batchers[name].submit(crops) for name in heads))
        verdicts = {
            name: _verdicts(head, r) for (name, head), r in zip(heads.items(), rows, strict=True)
        }
    classify_ms = 1e3 * (time.perf_counter() - t0)
    results, start, annotate_ms = [], 0, 0.0
    for item in detected:
        faces = [
            FaceResult(
                face.box,
                None,
                float(face.score),
                True,
                {name: verdicts[name][start + k] for name in heads},
            )
            for k, face in enumerate(item.faces)
        ]
        start += len(item.faces)
        encoded = None
        if annotate:
            t = time.perf_counter()
            encoded = await loop.run_in_executor(executor, _annotate, item, faces)
            annotate_ms += 1e3 * (time.perf_counter() - t)
        results.append(
            {
                "name": item.upload.name,
                "width": int(item.image.shape[1]),
                "height": int(item.image.shape[0]),
                "faces": [
                    {
                        "box": [int(v) for v in f.box],
                        "score": round(f.score, 4),
                        "heads": {
                            n: {"label": h.label, "score": h.score, "probabilities": h.probs}
                            for n, h in f.heads.items()
                        },
                    }
                    for f in faces
                ],
                "annotated_jpeg": encoded,
            }
        )
    timings = {
        "decode": sum(d.ms["decode"] for d in detected),
        "detect": sum(d.ms["detect"] for d in detected),
        "classify": classify_ms,
        **({"annotate": annotate_ms} if annotate else {}),
    }
    return results, {k: round(v, 3) for k, v in timings.items()}

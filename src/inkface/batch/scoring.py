"""``BatchPredictor``: run folders in, one table of rows per batch of inputs out.

The one object both engines run, and the one a user hands to their own engine: it is
picklable (only its settings travel; models load on first use in the process that
scores), so it can go to Ray Data's ``map_batches`` as a callable class, to Spark's
``predict_batch_udf`` or to a process pool. Faces: every image (or sampled video frame)
is decoded and searched for faces, and the crops of the whole batch go to each head in
one call. Pairs: each pair is verified with the run's decision policy
(:class:`~inkface.signatures.verification.verifier.Verifier`). A bad input becomes a
``failed`` row (:mod:`inkface.batch.rows`); it never stops the batch.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from inkface.batch.inputs import BatchInput, Mode, local_path
from inkface.batch.reading import failure_reason, read_image_bgr, read_signature, sample_frames
from inkface.batch.rows import FAILED, NO_FACE, OK, column_name, output_schema, to_table
from inkface.core.errors import InkfaceError
from inkface.faces.classification.classifier import TASK as FACE_TASK
from inkface.faces.classification.classifier import FaceClassifier
from inkface.faces.detection.detectors import FaceDetector, get_detector
from inkface.faces.types import crop_face
from inkface.inference import load_predictor
from inkface.models.run import META_FILE, read_meta
from inkface.signatures.verification.embedder import VERIFICATION_TASK
from inkface.signatures.verification.verifier import Verifier

CLASSIFY_CHUNK = 64  # crops held before the heads run: bounds memory on long videos
EMBED_BATCH = 64  # signatures per embedder call
EMBEDDING_CACHE = 50_000  # signature embeddings kept per predictor (about 25 MB at 128-D)


@dataclass(frozen=True)
class BatchSettings:
    """Everything a worker needs to rebuild the models (hashable, small, picklable)."""

    runs: tuple[tuple[str, str], ...]
    detector: str = "haar"
    detector_weights: str | None = None
    detector_options: tuple[tuple[str, Any], ...] = ()
    backend: str = "auto"
    threads: int | None = None
    every_n_frames: int = 30
    margin: float = 0.1
    operating_point: str | None = None

    def as_kwargs(self) -> dict[str, Any]:
        """The :class:`BatchPredictor` keyword arguments that rebuild these settings."""
        return {
            "runs": dict(self.runs),
            "detector": self.detector,
            "detector_weights": self.detector_weights,
            "detector_options": dict(self.detector_options),
            "backend": self.backend,
            "threads": self.threads,
            "every_n_frames": self.every_n_frames,
            "margin": self.margin,
            "operating_point": self.operating_point,
        }


@dataclass
class _Loaded:
    detector: FaceDetector | None = None
    heads: dict[str, FaceClassifier] = field(default_factory=dict)
    verifier: Verifier | None = None
    # Signature embeddings by (location, size, mtime): references recur across pairs
    # and chunks (a bank checks many cheques against a few references per customer).
    embeddings: collections.OrderedDict = field(default_factory=collections.OrderedDict)


def plan_runs(runs: Mapping[str, str | Path]) -> tuple[Mode, dict[str, list[str]]]:
    """The job's mode and each face head's class names, from the runs' ``meta.json``
    alone: face classifiers (any number) score faces; one verification run scores
    pairs. Anything else is a one-line error naming the run."""
    if not runs:
        raise InkfaceError("--run: give at least one NAME=RUN_DIR")
    tasks = {}
    classes: dict[str, list[str]] = {}
    for name, run in runs.items():
        meta = read_meta(run)
        tasks[name] = meta.task
        if meta.task == FACE_TASK:
            names = list((meta.extra or {}).get("class_names") or [])
            if not names:
                raise InkfaceError(f"{Path(run) / META_FILE}: face classifier has no class_names")
            classes[name] = names
        elif meta.task != VERIFICATION_TASK:
            raise InkfaceError(
                f"{run}: a {meta.task} run cannot be batch-scored; give face classifiers "
                "(smile, expression, mask) or one verification run"
            )
    if VERIFICATION_TASK in tasks.values():
        if len(runs) > 1:
            raise InkfaceError("--run: a verification run is scored alone (one --run)")
        return "pairs", {}
    return "faces", classes


class BatchPredictor:
    """Score batches of inputs with the models of ``runs`` (head name -> run folder).

    ``detector`` (+ ``detector_weights``, ``detector_options``) finds faces;
    ``every_n_frames`` samples videos; ``margin`` widens face crops as the pipeline does;
    ``operating_point`` picks a verifier's decision threshold (None: the run's default);
    ``threads`` caps the runtime's threads per predictor (one process per core: 1).

    ``predictor(batch)`` accepts what Ray Data passes to ``map_batches`` (a dict of
    columns with ``location``, optional ``kind`` and ``references``), a pandas
    DataFrame with those columns, or a list of paths, and returns a ``pyarrow.Table``
    of :attr:`schema`.
    """

    def __init__(
        self,
        runs: Mapping[str, str | Path],
        *,
        detector: str = "haar",
        detector_weights: str | Path | None = None,
        detector_options: Mapping[str, Any] | None = None,
        backend: str = "auto",
        threads: int | None = None,
        every_n_frames: int = 30,
        margin: float = 0.1,
        operating_point: str | None = None,
    ) -> None:
        if every_n_frames < 1:
            raise InkfaceError(f"every_n_frames: must be >= 1, got {every_n_frames}")
        if threads is not None and threads < 1:
            raise InkfaceError(f"threads: must be >= 1, got {threads}")
        if not 0.0 <= margin <= 10.0:
            raise InkfaceError(f"margin: must be in [0, 10], got {margin}")
        self.settings = BatchSettings(
            runs=tuple((str(k), str(v)) for k, v in runs.items()),
            detector=detector,
            detector_weights=None if detector_weights is None else str(detector_weights),
            detector_options=tuple(sorted((detector_options or {}).items())),
            backend=backend,
            threads=threads,
            every_n_frames=int(every_n_frames),
            margin=float(margin),
            operating_point=operating_point,
        )
        self._setup()

    @classmethod
    def from_settings(cls, settings: BatchSettings) -> BatchPredictor:
        predictor = cls.__new__(cls)
        predictor.settings = settings
        predictor._setup()
        return predictor

    def _setup(self) -> None:
        self.mode, self.classes = plan_runs(dict(self.settings.runs))
        self.schema = output_schema(self.mode, self.classes)
        self._loaded: _Loaded | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings}  # models are rebuilt where the object lands

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.settings = state["settings"]
        self._setup()

    def __call__(self, batch: Any) -> pa.Table:
        return self.score(_inputs_of(batch))

    def load(self) -> None:
        """Load the models now (else on the first batch); errors name the run."""
        if self._loaded is not None:
            return
        s = self.settings
        loaded = _Loaded()
        if self.mode == "pairs":
            (_, run), *_ = s.runs
            verifier = load_predictor(run, backend=s.backend, threads=s.threads)  # type: ignore[arg-type]
            assert isinstance(verifier, Verifier)
            loaded.verifier = verifier
        else:
            for name, run in s.runs:
                head = load_predictor(run, backend=s.backend, threads=s.threads)  # type: ignore[arg-type]
                assert isinstance(head, FaceClassifier)
                loaded.heads[name] = head
            loaded.detector = get_detector(
                s.detector, s.detector_weights, **dict(s.detector_options)
            )
        self._loaded = loaded

    def score(self, inputs: Sequence[BatchInput | str]) -> pa.Table:
        """The rows of ``inputs`` (paths, URLs or :class:`BatchInput`), in input order."""
        self.load()
        items = [
            i if isinstance(i, BatchInput) else BatchInput.from_item({"location": i})
            for i in inputs
        ]
        rows = self._pairs(items) if self.mode == "pairs" else self._faces(items)
        return to_table(rows, self.schema)

    def per_input(self, locations: Sequence[str]) -> list[str]:
        """One JSON array of row objects per input (Spark's ``predict_batch_udf`` needs
        exactly one result per input row)."""
        table = self.score(list(locations))
        grouped: dict[str, list[dict[str, Any]]] = {str(loc): [] for loc in locations}
        for row in table.to_pylist():
            grouped.setdefault(row["input"], []).append(row)
        return [json.dumps(grouped[str(loc)]) for loc in locations]

    # --- faces -----------------------------------------------------------------------

    def _faces(self, items: Sequence[BatchInput]) -> list[dict[str, Any]]:
        loaded = self._loaded
        assert loaded is not None and loaded.detector is not None
        rows: list[dict[str, Any]] = []
        crops: list[np.ndarray] = []
        owners: list[dict[str, Any]] = []
        for item in items:
            try:
                for frame, timestamp, image in self._images(item):
                    found = self._detect(loaded.detector, item, frame, timestamp, image)
                    for row, crop in found:
                        rows.append(row)
                        if crop is not None:
                            crops.append(crop)
                            owners.append(row)
                    if len(crops) >= CLASSIFY_CHUNK:
                        self._classify(loaded.heads, crops, owners)
                        crops, owners = [], []
            except Exception as exc:  # one bad input is a row, never the job's end
                rows.append(
                    {"input": item.location, "status": FAILED, "error": failure_reason(exc)}
                )
        self._classify(loaded.heads, crops, owners)
        return rows

    def _images(self, item: BatchInput) -> Iterator[tuple[int | None, float | None, np.ndarray]]:
        if item.kind == "video":
            for frame in sample_frames(item.location, self.settings.every_n_frames):
                yield frame.index, frame.timestamp_s, frame.image
        else:
            yield None, None, read_image_bgr(item.location)

    def _detect(
        self,
        detector: FaceDetector,
        item: BatchInput,
        frame: int | None,
        timestamp: float | None,
        image: np.ndarray,
    ) -> list[tuple[dict[str, Any], np.ndarray | None]]:
        base = {
            "input": item.location,
            "frame": frame,
            "timestamp_s": None if timestamp is None else round(timestamp, 4),
            "width": int(image.shape[1]),
            "height": int(image.shape[0]),
        }
        faces = detector.detect(image)
        if not faces:
            return [({**base, "status": NO_FACE}, None)]
        found = []
        for index, face in enumerate(faces):
            x1, y1, x2, y2 = (int(v) for v in face.box)
            row = {
                **base,
                "status": OK,
                "face": index,
                "x1": x1,
                "y1": y1,
                "x2": x2,
                "y2": y2,
                "detector_score": float(face.score),
            }
            found.append((row, crop_face(image, face.box, self.settings.margin, square=True)))
        return found

    def _classify(
        self,
        heads: Mapping[str, FaceClassifier],
        crops: list[np.ndarray],
        owners: list[dict[str, Any]],
    ) -> None:
        if not crops:
            return
        for name, head in heads.items():
            probs = head.predict_proba(crops)
            classes = self.classes[name]
            prefix = column_name(name)
            for row, p in zip(owners, probs, strict=True):
                best = int(np.argmax(p))
                row[f"{prefix}_label"] = classes[best]
                row[f"{prefix}_score"] = float(p[best])
                for cls, value in zip(classes, p, strict=True):
                    row[f"{prefix}_p_{column_name(cls)}"] = float(value)

    # --- pairs -----------------------------------------------------------------------

    def _pairs(self, items: Sequence[BatchInput]) -> list[dict[str, Any]]:
        """Each distinct image of the chunk is read and embedded once (references are
        shared by many pairs), then every pair is decided by the run's policy."""
        loaded = self._loaded
        assert loaded is not None and loaded.verifier is not None
        verifier = loaded.verifier
        embeddings, errors = _embed_distinct(verifier, items, loaded.embeddings)
        rows = []
        for item in items:
            row: dict[str, Any] = {
                "input": item.location,
                "references": json.dumps(list(item.references)),
            }
            try:
                bad = next(
                    (errors[p] for p in (*item.references, item.location) if p in errors), None
                )
                if bad is not None:
                    raise bad
                result = verifier.decide(
                    np.stack([embeddings[r] for r in item.references]),
                    embeddings[item.location],
                    item.references,
                    item.location,
                    self.settings.operating_point,
                )
            except Exception as exc:  # one bad pair is a row, never the job's end
                rows.append({**row, "status": FAILED, "error": failure_reason(exc)})
                continue
            rows.append(
                {
                    **row,
                    "status": OK,
                    "distance": result.distance,
                    "threshold": result.threshold,
                    "decision": result.decision,
                    "similarity": result.similarity,
                    "p_genuine": result.p_genuine,
                    "operating_point": result.operating_point,
                    "k": result.k,
                }
            )
        return rows


def _embed_distinct(
    verifier: Verifier, items: Sequence[BatchInput], cache: collections.OrderedDict
) -> tuple[dict[str, np.ndarray], dict[str, Exception]]:
    """Embeddings of every distinct image of ``items`` (from ``cache`` when that file was
    embedded before and has not changed), and why the others failed."""
    locations = list(dict.fromkeys(p for i in items for p in (*i.references, i.location)))
    found: dict[str, np.ndarray] = {}
    prepared: dict[str, np.ndarray] = {}
    keys: dict[str, tuple] = {}
    errors: dict[str, Exception] = {}
    for location in locations:
        keys[location] = key = _file_key(location)
        if key in cache:
            cache.move_to_end(key)
            found[location] = cache[key]
            continue
        try:
            prepared[location] = verifier.prepare([read_signature(location)])[0]
        except Exception as exc:  # named in the rows of the pairs that use it
            errors[location] = exc
    names = list(prepared)
    for start in range(0, len(names), EMBED_BATCH):
        chunk = names[start : start + EMBED_BATCH]
        vectors = np.asarray(verifier.backend(np.stack([prepared[n] for n in chunk])))
        for name, vector in zip(chunk, vectors, strict=True):
            found[name] = cache[keys[name]] = vector.astype(np.float32)
    while len(cache) > EMBEDDING_CACHE:
        cache.popitem(last=False)
    return found, errors


def _file_key(location: str) -> tuple:
    """What identifies an image's content cheaply: a local file's path, size and
    modification time (a rewritten file is embedded again); a URL as it is."""
    path = local_path(location)
    if path is None:
        return (location,)
    try:
        info = path.stat()
    except (OSError, ValueError):
        return (location, None)  # reading it will fail and say why; never cached
    return (location, info.st_size, info.st_mtime_ns)


def _inputs_of(batch: Any) -> list[BatchInput]:
    """Inputs from a Ray/pandas batch of columns, or a list of paths / items."""
    if hasattr(batch, "to_dict") and hasattr(batch, "columns"):  # a pandas DataFrame
        batch = {c: batch[c].tolist() for c in batch.columns}
    if isinstance(batch, Mapping):
        if "location" not in batch:
            raise InkfaceError("batch: needs a 'location' column of paths or URLs")
        n = len(batch["location"])
        keys = [k for k in ("location", "kind", "references") if k in batch]
        return [BatchInput.from_item({k: _plain(batch[k][i]) for k in keys}) for i in range(n)]
    return [
        item
        if isinstance(item, BatchInput)
        else BatchInput.from_item(item if isinstance(item, Mapping) else {"location": item})
        for item in batch
    ]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value

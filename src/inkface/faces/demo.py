"""``make demo`` for faces: generated mask faces -> a trained classifier -> an analysed video.

Generate synthetic mask / no-mask / mask-worn-incorrectly faces, train the small smile
CNN architecture on them (3 classes, 64x64, a minute or two on a CPU), save it as a
pipeline head, then run the face pipeline over a short generated video with several
faces, writing an annotated video and one JSON line per frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inkface.faces.classification.recipe import FaceRecipe
from inkface.faces.classification.train import train_face_classifier
from inkface.faces.pipeline.analyze import analyze
from inkface.faces.synth.generator import generate_faces


@dataclass(frozen=True)
class FaceDemoResult:
    run_dir: Path
    accuracy: float
    video: Path | None
    jsonl: Path | None
    seconds: float


def _demo_recipe(data: Path, epochs: int) -> Any:

    return FaceRecipe.model_validate(
        {
            "name": "mask-demo",
            "task": "mask",
            "head": "mask",
            "description": "small CNN on generated mask faces (demo)",
            "model": {
                "name": "smile_cnn",
                "kwargs": {"widths": [16, 32, 64, 128], "dropout": 0.05},
                "input_size": [64, 64],
            },
            "data": {
                "train": [{"name": "mask", "root": str(data)}],
                "detector": None,
                "fractions": [0.7, 0.15, 0.15],
                "augment": None,
            },
            "training": {
                "optimizer": {"name": "adam", "lr": 1e-3},
                "batch_size": 32,
                "max_epochs": epochs,
                "schedule": {"name": "plateau", "patience": 4, "min_lr": 1e-7},
            },
            "accelerator": "cpu",
        }
    )


def run_face_demo(
    out_dir: str | Path = "runs/face-demo",
    images: int = 450,
    epochs: int = 30,
    seed: int = 0,
    progress: bool = True,
) -> FaceDemoResult:
    """Generate, train, save, analyse a video; prints where everything is."""

    start = time.perf_counter()
    out = Path(out_dir)
    data = out / f"data-mask-{images}-s{seed}"
    scenes = out / f"video-mask-s{seed}"
    if not (data / "boxes.json").is_file():
        print(f"[1/3] generating {images} synthetic mask faces (and a short video) into {out}")
        generate_faces(data, "mask", images, seed=seed, size=96, progress=progress)
        generate_faces(scenes, "mask", 12, seed=seed + 1, size=96, scenes=True, progress=progress)
    else:
        print(f"[1/3] reusing synthetic faces in {data}")
    print(f"[2/3] training a 3-class mask classifier (smile CNN at 64x64, {epochs} epochs)")
    run = train_face_classifier(
        _demo_recipe(data, epochs),
        out / "run",
        cache_dir="",
        resume=False,
        progress=progress,
        seed=seed,
    )
    accuracy = float(next(iter(run.metrics["tests"].values()))["accuracy"])
    print(f"  held-out accuracy {accuracy:.3f}; report: {run.run_dir / 'report.html'}")
    video_out = jsonl_out = None
    videos = sorted((scenes / "scenes").glob("*.mp4")) + sorted((scenes / "scenes").glob("*.avi"))
    if not videos:
        print(f"[3/3] skipped: no generated video in {scenes / 'scenes'}")
    else:
        video_out, jsonl_out = out / "annotated.mp4", out / "faces.jsonl"
        print(f"[3/3] analysing {videos[0].name} with the trained head")
        summary = analyze(
            videos[0],
            {"mask": run.run_dir},
            detector="haar",
            out_video=video_out,
            out_jsonl=jsonl_out,
            progress=progress,
        )
        print(f"  {summary.frames} frames, {summary.faces} faces, {summary.mean_fps:.1f} FPS")
        print(f"  annotated video: {video_out}\n  per-frame JSON lines: {jsonl_out}")
    seconds = time.perf_counter() - start
    print(f"model: {run.run_dir} (load with inkface.load_predictor); wall time {seconds:.0f} s")
    return FaceDemoResult(run.run_dir, accuracy, video_out, jsonl_out, seconds)

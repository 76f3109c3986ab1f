"""Run folders, images and apps the service tests share (small, seeded, untrained)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from inkface.faces.classification.classifier import init_untrained_classifier
from inkface.faces.synth.generator import render_single
from inkface.models import get_model
from inkface.models.run import RunMeta, save_run_model

SIGNATURE_SIZE = (64, 80)


def face_head(folder: Path, model: str = "smile_cnn") -> Path:
    """An untrained face classifier run (the smile paper's CNN by default)."""
    return init_untrained_classifier(folder, model)


def verifier_run(folder: Path, threshold: float = 0.6) -> Path:
    """An untrained DeepSign verifier run at a small input size."""
    torch.manual_seed(0)
    meta = RunMeta(
        "deepsign",
        {},
        SIGNATURE_SIZE,
        {"style": "cedar"},
        threshold,
        task="signature-verification",
    )
    save_run_model(folder, get_model("deepsign"), meta)
    return folder


def writer_cnn_run(folder: Path, writers: tuple[str, ...] = ("ann", "bob", "cid")) -> Path:
    """An untrained closed-set writer CNN over ``writers``."""
    torch.manual_seed(0)
    kwargs = {"num_classes": len(writers), "conv_layers": 2}
    meta = RunMeta(
        "writer_cnn",
        kwargs,
        (128, 128),
        {"style": "cedar"},
        None,
        task="signature-identification-cnn",
        extra={"class_names": list(writers)},
    )
    save_run_model(folder, get_model("writer_cnn", **kwargs), meta)
    return folder


def face_png(seed: int = 0, size: int = 160) -> bytes:
    """A synthetic face that OpenCV's Haar cascade finds, PNG-encoded."""
    image = render_single("smile", "smile", np.random.default_rng(seed), size).image
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


def signature_png(seed: int = 0) -> bytes:
    """A dark stroke on white paper."""
    rng = np.random.default_rng(seed)
    page = np.full((120, 220), 255, np.uint8)
    points = rng.integers([10, 20], [210, 100], size=(6, 2)).astype(np.int32)
    cv2.polylines(page, [points], False, 0, 3)
    ok, data = cv2.imencode(".png", page)
    assert ok
    return data.tobytes()


def blank_png(width: int = 40, height: int = 30) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 200, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def huge_png_header(width: int = 60_000, height: int = 60_000) -> bytes:
    """A few hundred bytes whose header declares ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")

"""What the face pipeline says about a frame: per face its box, track and each head's
verdict, with the stage timings, and the JSON Lines record written for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inkface.faces.types import Box


@dataclass(frozen=True)
class HeadResult:
    """One head's verdict on one face: smoothed label, its probability, all smoothed
    probabilities and this frame's raw ones."""

    label: str
    score: float
    probs: dict[str, float]
    raw: dict[str, float]


@dataclass(frozen=True)
class FaceResult:
    """One face of a frame: its box, track, detector score, whether it was detected on
    this frame (or carried by its track), and each head's verdict."""

    box: Box
    track_id: int | None
    score: float
    detected: bool
    heads: dict[str, HeadResult]


@dataclass
class FrameResult:
    """Everything the pipeline found on one frame, with per-stage timings in ms."""

    index: int
    timestamp_s: float
    detected: bool
    faces: list[FaceResult]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        """The JSON Lines record of this frame."""
        return {
            "frame": self.index,
            "timestamp_s": round(self.timestamp_s, 4),
            "detected": self.detected,
            "faces": [
                {
                    "box": list(f.box),
                    "track_id": f.track_id,
                    "score": round(f.score, 4),
                    "detected": f.detected,
                    "heads": {
                        name: {
                            "label": h.label,
                            "score": round(h.score, 4),
                            "probs": {k: round(v, 4) for k, v in h.probs.items()},
                            "raw_probs": {k: round(v, 4) for k, v in h.raw.items()},
                        }
                        for name, h in f.heads.items()
                    },
                }
                for f in self.faces
            ],
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }

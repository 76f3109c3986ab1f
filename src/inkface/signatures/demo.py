"""``make demo``: the whole signature-verification story on generated data, on a CPU.

Generate a synthetic CEDAR-layout set, train DeepSign (recipe ``deepsign-demo``),
evaluate on held-out writers, write the report, then verify one genuine signature and
one skilled forgery of a held-out writer with the saved model, exactly as a user would:
several reference signatures, the run's default operating point (``eer``, fixed on the
validation writers), and every decision printed with the error rates that operating
point promised on validation and measured on the held-out writers.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inkface.evaluation.operating_points import percent
from inkface.signatures.data.pairs import split_writers
from inkface.signatures.data.readers import read_cedar
from inkface.signatures.synth.generator import generate_signatures
from inkface.signatures.verification.recipe import load_recipe
from inkface.signatures.verification.train import train_verifier
from inkface.signatures.verification.verifier import VerificationResult, load_verifier

# A desk enrols several references; 5 is the most with thresholds of their own. Each
# writer has 8 genuine signatures (5 references + 3 questioned per held-out writer) and
# 4 skilled forgeries: the same 60 pairs per writer as 6 + 6 (so the same training time),
# more of them genuine, which is where the verifier errs on this data.
DEMO_REFERENCES = 5


@dataclass(frozen=True)
class DemoResult:
    run_dir: Path
    auroc: float
    eer: float
    genuine_check: VerificationResult
    forgery_check: VerificationResult
    seconds: float


def run_demo(
    out_dir: str | Path = "runs/demo",
    writers: int = 60,
    genuine: int = 8,
    forgeries: int = 4,
    seed: int = 0,
    progress: bool = True,
) -> DemoResult:
    """Generate, train, evaluate, verify; returns the headline numbers."""

    start = time.perf_counter()
    out = Path(out_dir)
    data = out / f"data-w{writers}-g{genuine}-f{forgeries}-s{seed}"
    if not (data / "full_org").is_dir():
        print(f"[1/4] generating {writers} synthetic writers into {data}")
        generate_signatures(
            data, writers, genuine, forgeries, layout="cedar", seed=seed, progress=progress
        )
    else:
        print(f"[1/4] reusing synthetic signatures in {data}")
    recipe = load_recipe("deepsign-demo").with_roots({"cedar": data})
    print("[2/4] training DeepSign (recipe deepsign-demo) on the training writers")
    run_dir = train_verifier(recipe, out / "run", cache_dir=out / "cache", progress=progress)
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    test = metrics["test_sets"][metrics["primary_test_set"]]

    dataset = read_cedar(data)
    held_out = split_writers([w.writer_id for w in dataset.writers], seed=recipe.data.seed).test[0]
    writer = next(w for w in dataset.writers if w.writer_id == held_out)
    verifier = load_verifier(run_dir)
    k = min(DEMO_REFERENCES, len(writer.genuine) - 1)
    references = list(writer.genuine[:k])
    point = verifier.policy.default_operating_point
    print(
        f"[3/4] verifying writer {held_out} (held out: never seen in training or validation) "
        f"with the saved model: {k} reference signatures, operating point {point}"
    )
    genuine_check = verifier.verify(references, writer.genuine[k])
    forgery_check = verifier.verify(references, writer.forged[0])
    for label, result, expected in (
        ("genuine signature", genuine_check, "genuine"),
        ("skilled forgery", forgery_check, "forged"),
    ):
        verdict = "right" if result.decision == expected else "WRONG"
        print(
            f"  a {label}: {result.rule} distance to the {result.k} references "
            f"{result.distance:.3f} vs threshold {result.threshold:.3f} -> {result.decision} "
            f"({verdict}; p_genuine {_p(result.p_genuine)})"
        )
        print(f"    {json.dumps(result.as_dict())}")
    print(_promise(genuine_check, test["decision"]["operating_points"]))
    result = DemoResult(
        run_dir,
        auroc=float(test["paper"]["auroc"]),
        eer=float(test["test"]["eer_skilled"]),
        genuine_check=genuine_check,
        forgery_check=forgery_check,
        seconds=time.perf_counter() - start,
    )
    print(
        f"[4/4] held-out writers: AUROC {result.auroc:.3f}, EER (skilled) {result.eer:.3f}, "
        f"accuracy {test['paper']['accuracy']:.3f}; wall time {result.seconds:.0f} s"
    )
    print(f"report: {run_dir / 'report.html'}")
    return result


def _p(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _promise(result: VerificationResult, measured: dict[str, Any]) -> str:
    """What the operating point promised on validation and what the held-out writers got."""
    got = (measured.get(result.operating_point) or {}).get(str(result.k_threshold)) or {}
    ci = got.get("ci") or {}

    def interval(key: str) -> str:
        low_high = ci.get(key)
        return "" if not low_high else f" [{percent(low_high[0])}, {percent(low_high[1])}]"

    return (
        f"  operating point {result.operating_point} with {result.k_threshold} references, "
        f"fixed on the validation writers: it promised FAR {percent(result.far)} on skilled "
        f"forgeries and FRR {percent(result.frr)} on genuine signatures; on the held-out "
        f"writers it gave FAR {percent(got.get('far_skilled'))}{interval('far_skilled')}, "
        f"FAR on random forgeries {percent(got.get('far_random'))}{interval('far_random')} "
        f"and FRR {percent(got.get('frr'))}{interval('frr')} (95% intervals over writers). "
        "Other points: inkface verify --operating-point far=0.01|frr=0.05|accuracy|..."
    )

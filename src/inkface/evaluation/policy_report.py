"""Report tables of a verifier's decision policy (``report.html`` and printed summaries).

Rows are plain dicts of strings and numbers, ready for
:func:`inkface.evaluation.report.write_report`'s ``extra_tables``. Rates are printed as
percentages with their writer-bootstrap interval; FAR/FRR are named FMR/FNMR as in
ISO/IEC 19795-1 (comparison level).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inkface.evaluation.operating_points import percent


def _with_ci(rates: Mapping[str, Any], key: str) -> str:
    value = percent(rates.get(key))
    ci = (rates.get("ci") or {}).get(key)
    return value if not ci else f"{value} [{percent(ci[0])}, {percent(ci[1])}]"


def operating_point_rows(
    policy: Mapping[str, Any], test: Mapping[str, Any], k: int = 1
) -> list[dict[str, Any]]:
    """One row per operating point at k references: threshold, what validation promised,
    what the test writers got (with intervals)."""
    rows = []
    for name, entry in policy["operating_points"].items():
        val = (entry.get("validation") or {}).get(str(k)) or {}
        got = (test["operating_points"].get(name) or {}).get(str(k)) or {}
        if not got:
            continue
        impostors = policy["impostors"]
        rows.append(
            {
                "operating point": name
                + (" (default)" if name == policy["default_operating_point"] else ""),
                "threshold": entry["thresholds"].get(str(k)),
                f"validation FAR ({impostors})": percent(val.get(f"far_{impostors}")),
                "validation FRR": percent(val.get("frr")),
                "test FMR skilled": _with_ci(got, "far_skilled"),
                "test FMR random": _with_ci(got, "far_random"),
                "test FNMR": _with_ci(got, "frr"),
            }
        )
    return rows


def references_rows(policy: Mapping[str, Any], test: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per operating point, test FMR (skilled) / FNMR for each number of references."""
    rows = []
    for name, by_k in test["operating_points"].items():
        row: dict[str, Any] = {"operating point": name}
        for k, rates in by_k.items():
            row[f"k={k} FMR / FNMR"] = (
                f"{percent(rates.get('far_skilled'))} / {percent(rates.get('frr'))}"
            )
        rows.append(row)
    return rows


def combination_rows(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Validation EER per combination rule and k, the chosen rule marked."""
    combination = policy["combination"]
    rows = []
    for rule, by_k in combination.get("validation_eer", {}).items():
        row: dict[str, Any] = {"rule": rule + (" (chosen)" if rule == combination["rule"] else "")}
        row.update({f"EER k={k}": percent(v) for k, v in by_k.items()})
        rows.append(row)
    return rows


def user_threshold_rows(test: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Global-threshold EER, sigver's user-threshold EER and the enrolment rule's EER per
    number of references (test writers)."""
    block = test["user_thresholds"]
    rows = []
    for k, value in block["eer_global"].items():
        rows.append(
            {
                "references": int(k),
                "EER global threshold": percent(value),
                "EER user thresholds (per-writer EER, a-posteriori)": percent(
                    block["eer_user"].get(k)
                ),
                "EER writer thresholds from references": percent(block["eer_writer_rule"].get(k)),
            }
        )
    return rows


def writer_rate_rows(policy: Mapping[str, Any], test: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per operating point and enrolment size: test FMR / FNMR with the global threshold
    and with the writer thresholds derived from the references (the normalisation chosen
    on validation; strength 0 is the global threshold itself)."""
    block = test["user_thresholds"]
    chosen = (policy.get("writer_thresholds") or {}).get("operating_points", {})
    rows = []
    for name, by_k in block["operating_points"].items():
        rule = chosen.get(name) or {}
        for k, writer in by_k.items():
            glob = (test["operating_points"].get(name) or {}).get(k) or {}
            rows.append(
                {
                    "operating point": name,
                    "writer rule": f"{rule.get('family')} {rule.get('strength')}",
                    "references": int(k),
                    "global FMR skilled": _with_ci(glob, "far_skilled"),
                    "global FNMR": _with_ci(glob, "frr"),
                    "writer FMR skilled": _with_ci(writer, "far_skilled"),
                    "writer FNMR": _with_ci(writer, "frr"),
                }
            )
    return rows


def calibration_rows(policy: Mapping[str, Any], test: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per k: the calibration method kept, its cross-validated Brier scores, test ECE."""
    rows = []
    for k, entry in policy["calibration"].items():
        cv = entry.get("cv_brier") or {}
        ece = (test["calibration"].get(k) or {}).get("ece")
        rows.append(
            {
                "references": int(k),
                "method": entry["method"],
                "validation CV Brier (platt)": cv.get("platt"),
                "validation CV Brier (isotonic)": cv.get("isotonic"),
                "test ECE": ece,
            }
        )
    return rows


def policy_tables(policy: Mapping[str, Any], test: Mapping[str, Any], test_set: str) -> dict:
    """Every policy table for ``report.html``, headed with the test set's name."""
    rule = policy["combination"]
    return {
        f"Operating points, 1 reference ({test_set}; thresholds fixed on validation)": (
            operating_point_rows(policy, test)
        ),
        f"Combination of several references: validation EER per rule; chosen: {rule['rule']}, "
        f"{rule['reason']}": combination_rows(policy),
        f"Test FMR (skilled) / FNMR by number of references, rule {rule['rule']}": (
            references_rows(policy, test)
        ),
        "Global vs user thresholds: EER (test writers)": user_threshold_rows(test),
        "Global vs writer thresholds (rule: family and strength chosen on validation)": (
            writer_rate_rows(policy, test)
        ),
        "Calibration of p_genuine (even prior odds)": calibration_rows(policy, test),
    }

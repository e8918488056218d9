"""Regression gate: compare a run's metrics with the committed baseline under per-metric tolerances.

The baseline (eval/baseline.json) holds the flat metrics, each question's pass/fail, the question-set
digest and the settings it was made with. `check` lists every metric that got worse past its tolerance;
`rag eval` exits 1 when that list is not empty.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag import RagError

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "baseline.json"
TOLERANCES = HERE / "tolerances.json"


@dataclass
class Regression:
    """One metric that got worse than the baseline allows."""

    metric: str
    baseline: float
    current: float
    allowed: float  # the worst value the tolerance accepts

    def __str__(self) -> str:
        unit = " ms" if self.metric.startswith("latency.") else ""
        return (f"{self.metric}: {self.baseline:.3f}{unit} -> {self.current:.3f}{unit} "
                f"(worst allowed {self.allowed:.3f}{unit})")


def load_rules(path: Path = TOLERANCES) -> list[dict[str, Any]]:
    """The tolerance rules, first match wins."""
    try:
        return json.loads(path.read_text())["rules"]
    except (OSError, ValueError, KeyError) as e:
        raise RagError(f"cannot read the tolerances file {path}: {e}", "restore eval/tolerances.json from git") from None


def rule_for(metric: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    """The first rule whose pattern matches metric (a metric no rule matches may not drop at all)."""
    return next((r for r in rules if fnmatch.fnmatchcase(metric, r["match"])), {"max_drop": 0.0})


def allowed(metric: str, base: float, rules: list[dict[str, Any]]) -> float:
    """The worst value of metric that still passes, given its baseline value."""
    rule = rule_for(metric, rules)
    if "max_ratio" in rule:
        return max(base * rule["max_ratio"], base + rule.get("min_abs_ms", 0.0))
    if "max_rise" in rule:
        return base + rule["max_rise"]
    return base - rule.get("max_drop", 0.0)


def lower_is_better(metric: str, rules: list[dict[str, Any]]) -> bool:
    """Latency and false abstention: smaller is better."""
    rule = rule_for(metric, rules)
    return "max_ratio" in rule or "max_rise" in rule


def gated(metric: str, rules: list[dict[str, Any]]) -> bool:
    """Whether a metric can fail the gate (latency cannot: it depends on how busy the machine is, not on the
    change; it is reported, and bench/ measures speed)."""
    return rule_for(metric, rules).get("gate", True)


def check(current: dict[str, float], baseline: dict[str, float], rules: list[dict[str, Any]],
          *, ungated: bool = False) -> list[Regression]:
    """Every gated metric present in both runs that is worse than its tolerance allows (ungated=True: the same
    for the metrics that are only reported)."""
    out = []
    for metric in sorted(baseline.keys() & current.keys()):
        if gated(metric, rules) == ungated:
            continue
        base, now = baseline[metric], current[metric]
        worst = allowed(metric, base, rules)
        worse = now > worst + 1e-9 if lower_is_better(metric, rules) else now < worst - 1e-9
        if worse:
            out.append(Regression(metric, base, now, worst))
    return out


def load_baseline(path: Path = BASELINE) -> dict[str, Any] | None:
    """The baseline, or None when there is none yet."""
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        data["metrics"], data["questions"]  # noqa: B018 - both must be there
        return data
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RagError(f"the baseline {path} is unreadable: {e}",
                       "restore it from git, or write a new one with `rag eval --update-baseline`") from None


def make_baseline(flat_metrics: dict[str, float], rows: list[dict[str, Any]], digest: str,
                  settings: dict[str, Any]) -> dict[str, Any]:
    """What --update-baseline writes."""
    return {
        "questions_digest": digest,
        "settings": settings,
        "metrics": {k: round(v, 4) for k, v in sorted(flat_metrics.items())},
        "questions": {r["id"]: {"passed": r["passed"], "reason": r["reason"]} for r in rows},
    }


def changes(rows: list[dict[str, Any]], baseline: dict[str, Any] | None) -> dict[str, list[str]]:
    """Question ids that newly failed / newly passed since the baseline, and ids new to it."""
    before = (baseline or {}).get("questions", {})
    out: dict[str, list[str]] = {"newly_failed": [], "newly_passed": [], "new": []}
    for r in rows:
        if r["id"] not in before:
            out["new"].append(r["id"])
        elif before[r["id"]]["passed"] and not r["passed"]:
            out["newly_failed"].append(r["id"])
        elif not before[r["id"]]["passed"] and r["passed"]:
            out["newly_passed"].append(r["id"])
    return out

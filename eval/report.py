"""Eval reports: a Markdown summary for the terminal, a JSON file, and a self-contained HTML page with plots."""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from typing import Any

COLUMNS = [("n", "n"), ("hit@1", "hit@1"), ("hit@5", "hit@5"), ("hit@10", "hit@10"), ("recall@10", "recall@10"),
           ("mrr@10", "MRR@10"), ("ndcg@10", "nDCG@10"), ("citation_validity", "cit. valid"),
           ("citation_precision", "cit. prec."), ("citation_recall", "cit. recall"), ("keyword_recall", "kw recall"),
           ("abstention", "abstained"), ("declined", "declined"), ("false_abstention", "false abst."),
           ("not_stated", "'not stated'"), ("coverage_ok", "coverage ok"), ("pass_rate", "pass")]
# row-level test of "this question misses the target metric", to show why a target is not met
MISSES = {
    "hit@5": lambda r: r.get("hit@5") == 0.0,
    "recall@10": lambda r: r.get("recall@10", 1.0) < 1.0,
    "citation_validity": lambda r: not r["citation_valid"],
    "abstention": lambda r: not r["abstained"],
    "declined": lambda r: not (r["abstained"] or r.get("said_not_stated")),
    "not_stated": lambda r: bool(r.get("said_not_stated")),
    "coverage_ok": lambda r: r.get("coverage_ok") is False,
    "false_abstention": lambda r: r["answerable"] and r["abstained"] and r["type"] != "famous",
    "keyword_recall": lambda r: (r.get("keyword_recall") or 0.0) < 1.0,
    "citation_recall": lambda r: r["answerable"] and (r.get("citation_recall") or 0.0) < 1.0,
    "citation_precision": lambda r: r["answerable"] and (r.get("citation_precision") or 0.0) < 1.0,
    "fact_recall": lambda r: "expected_facts" in r and (r.get("fact_recall") or 0.0) < 1.0,
}


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    return str(v) if isinstance(v, int) else f"{v:.3f}"


def metrics_table(summary: dict[str, Any]) -> str:
    """Markdown table: one row per question group."""
    head = "| group | " + " | ".join(label for _, label in COLUMNS) + " |"
    lines = [head, "|---" * (len(COLUMNS) + 1) + "|"]
    for group, ms in summary["groups"].items():
        lines.append(f"| {group} | " + " | ".join(_fmt(ms.get(k)) for k, _ in COLUMNS) + " |")
    return "\n".join(lines)


def misses(target: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The questions that keep a target from being met (those of its group that miss its metric)."""
    group, metric = target["metric"].split(".", 1)
    test = MISSES.get(metric)
    if test is None:
        return []
    members = [r for r in rows if group == "all" or r["type"] == group or r["group"] == group or
               (group == "answerable" and r["answerable"]) or (group == "unanswerable" and not r["answerable"])]
    return [r for r in members if test(r)]


def why(target: dict[str, Any], rows: list[dict[str, Any]], limit: int = 6) -> str:
    """One line on why a target is not met: how many questions miss it and their commonest reasons."""
    missed = misses(target, rows)
    if not missed:
        return ""
    reasons = Counter(_kind(r["reason"]) for r in missed)
    common = "; ".join(f"{n}× {k}" for k, n in reasons.most_common(3))
    members = Counter(r["group"] for r in rows)
    by_group = ", ".join(f"{n} of {members[grp]} {grp}" for grp, n in Counter(r["group"] for r in missed).most_common())
    ids = ", ".join(r["id"] for r in missed[:limit]) + (" …" if len(missed) > limit else "")
    return f"{len(missed)} questions miss it ({by_group}; {common}): {ids}"


def _kind(reason: str) -> str:
    """A reason without its per-question numbers, so that like reasons count together."""
    for prefix in ("first expected paper at rank", "missing keywords", "answered instead of abstaining",
                   "abstained wrongly", "cites no expected paper"):  # "missing keywords" covers a compare's facts
        if reason.startswith(prefix):
            return prefix
    return reason


def markdown(result: dict[str, Any]) -> str:
    """The terminal summary: metrics by group, latency, targets, gate verdict, what changed."""
    s, rows = result["summary"], result["rows"]
    lat = s["latency"]
    out = [f"## rag eval: {len(rows)} questions, mode {result['mode']}, configuration '{result['config']}'", "",
           metrics_table(s), "",
           f"Latency: retrieval p50 {lat['retrieve_p50_ms']:.1f} ms, p95 {lat['retrieve_p95_ms']:.1f} ms; "
           f"whole answer p50 {lat['answer_p50_ms']:.1f} ms, p95 {lat['answer_p95_ms']:.1f} ms", "", "### Targets"]
    for t in result["targets"]:
        mark = "met" if t["met"] else "NOT met"
        line = f"- {t['metric']} {t['op']} {t['goal']}: {_fmt(t['value'])} — {mark}"
        if not t["met"]:
            line += f"\n  why: {why(t, rows)}"
        out.append(line)
    if "judge" in result:
        j = result["judge"]
        out += ["", f"LLM judge ({j['model']}): faithfulness {_fmt(j['faithfulness'])} over {j['sentences']} sentences, "
                    f"answer relevance {_fmt(j['relevance'])} over {j['answers']} answers "
                    f"({j['cached']} of {j['calls']} replies from cache)"]
    out += ["", "### Gate"]
    gate = result.get("gate")
    if gate is None:
        out.append("not gated: no baseline for these questions (`rag eval --update-baseline` writes one; "
                   "`--baseline FILE` picks another)")
    else:
        if gate["note"]:
            out.append(f"note: {gate['note']}")
        if gate["regressions"]:
            out.append(f"FAILED: {len(gate['regressions'])} metric(s) got worse than the baseline allows:")
            out += [f"- {r}" for r in gate["regressions"]]
        else:
            out.append(f"passed: no metric worse than the baseline allows ({gate['checked']} checked)")
        if gate.get("slower"):
            out.append("reported, not gated (timing depends on how busy the machine is; `python -m bench.*` measures "
                       "speed): " + "; ".join(str(r) for r in gate["slower"]))
        by_id = {r["id"]: r for r in rows}
        for label, key in (("newly failed", "newly_failed"), ("newly passed", "newly_passed")):
            ids = gate["changes"][key]
            # held-out questions are counted, never named: reading them one by one would end their being held out
            shown = [i for i in ids if by_id[i].get("split") != "holdout"]
            held = len(ids) - len(shown)
            if ids:
                out.append(f"{label} ({len(ids)}): " + "; ".join(f"{i} ({by_id[i]['reason']})" for i in shown[:10])
                           + (f"{'; ' if shown else ''}{held} held-out question(s)" if held else ""))
    return "\n".join(out)


def compare_table(results: list[dict[str, Any]]) -> str:
    """Markdown table: one row per configuration, the headline metrics side by side."""
    cols = [("single.hit@5", "single hit@5"), ("title.hit@5", "title hit@5"), ("paraphrase.hit@5", "paraphrase hit@5"),
            ("hard [dev].hit@1", "hard dev hit@1"), ("hard [dev].hit@5", "hard dev hit@5"),
            ("hard [holdout].hit@1", "hard holdout hit@1"), ("hard [holdout].hit@5", "hard holdout hit@5"),
            ("multi.recall@10", "multi R@10"), ("answerable.mrr@10", "MRR@10"), ("answerable.ndcg@10", "nDCG@10"),
            ("answerable.citation_precision", "cit. prec."), ("answerable.citation_recall", "cit. recall"),
            ("single.keyword_recall", "single kw"), ("unanswerable.declined", "declined"),
            ("answerable.false_abstention", "false abst."), ("latency.answer_p50_ms", "answer p50 ms"),
            ("ingest_s", "ingest s")]
    cols = [(k, c) for k, c in cols if k == "ingest_s" or any(k in r["flat"] for r in results)]  # a set without hard questions
    lines = ["| configuration | " + " | ".join(c for _, c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for r in results:
        vals = {**r["flat"], "ingest_s": r.get("ingest_s")}
        cells = [f"{vals[k]:.1f}" if k.endswith(("_ms", "_s")) and vals.get(k) is not None else _fmt(vals.get(k))
                 for k, _ in cols]
        lines.append(f"| {r['config']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- HTML

def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def plots(result: dict[str, Any], baseline: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(title, data URI) of each plot; empty when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out = []
    flat, base = result["flat"], (baseline or {}).get("metrics", {})
    keys = [t["metric"] for t in result["targets"]] + ["answerable.mrr@10", "answerable.citation_precision",
                                                         "answerable.citation_recall", "all.pass_rate"]
    keys = [k for k in dict.fromkeys(keys) if k in flat]
    fig, ax = plt.subplots(figsize=(9, 0.42 * len(keys) + 1.2))
    y = range(len(keys))
    ax.barh([i + 0.2 for i in y], [flat[k] for k in keys], 0.4, label="this run")
    ax.barh([i - 0.2 for i in y], [base.get(k, 0) for k in keys], 0.4, label="baseline", color="lightgray")
    for i, t in enumerate(result["targets"]):
        if t["metric"] in keys:
            ax.plot([t["goal"]] * 2, [keys.index(t["metric"]) - 0.4, keys.index(t["metric"]) + 0.4], color="tab:red")
    ax.set_yticks(list(y), keys)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.05)
    ax.set_title("Metrics vs baseline (red: target)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    out.append(("Metrics vs baseline", _png(fig)))
    plt.close(fig)

    groups = [g for g in result["summary"]["groups"] if g not in ("all",)]
    shown = [("hit@5", "hit@5"), ("citation_recall", "citation recall"), ("keyword_recall", "keyword recall"),
             ("pass_rate", "pass rate")]
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(shown)
    for j, (key, label) in enumerate(shown):
        vals = [result["summary"]["groups"][g].get(key) or 0.0 for g in groups]
        ax.bar([i + j * width - 0.4 + width / 2 for i in range(len(groups))], vals, width, label=label)
    ax.set_xticks(range(len(groups)), groups, rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title("By question type")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    out.append(("By question type", _png(fig)))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 3.5))
    rows = result["rows"]
    ax.hist([r["retrieve_ms"] for r in rows], bins=30, alpha=0.7, label="retrieval")
    ax.hist([r["answer_ms"] for r in rows], bins=30, alpha=0.7, label="whole answer")
    ax.set_xlabel("ms per question")
    ax.set_ylabel("questions")
    ax.set_title("Latency distribution")
    ax.legend()
    fig.tight_layout()
    out.append(("Latency distribution", _png(fig)))
    plt.close(fig)
    return out


def _status(row: dict[str, Any], changes: dict[str, list[str]]) -> str:
    if row["id"] in changes.get("newly_failed", []):
        return "newly failed"
    if row["id"] in changes.get("newly_passed", []):
        return "newly passed"
    if row["id"] in changes.get("new", []):
        return "new · " + ("pass" if row["passed"] else "fail")
    return "pass" if row["passed"] else "fail"


def tables_html(rows: list[dict[str, Any]]) -> str:
    """Each compare question's table as `rag compare` made it: gold rows green, others red; a cell holding an
    expected fact of its own paper in bold, and the facts no cell of their paper holds listed under it."""
    e = html.escape
    parts = []
    for r in (r for r in rows if "table" in r):
        parts.append(f"<h3>{e(r['id'])}: {e(r['question'])}</h3>")
        if not r["table"]:
            parts.append("<p class='bad'>no table (abstained)</p>")
        facts = {t: fs for t, fs in r.get("expected_facts", {}).items()}
        body = []
        for row in r["table"]:
            mine = facts.get(row["title"], [])
            cells = "".join(
                f"<td>{'<b>' if any(f.casefold() in c.casefold() for f in mine) else ''}{e(c) or '–'}"
                f"{'</b>' if any(f.casefold() in c.casefold() for f in mine) else ''}</td>" for c in row["cells"])
            body.append(f"<tr class='{'good' if row['gold'] else 'bad'}'><td>[{row['n']}]</td><td>{e(row['title'])}</td>"
                        f"{cells}</tr>")
        if body:
            parts.append("<table><tr><th>[n]</th><th>paper</th><th>proposes</th><th>task or data</th><th>reports</th>"
                         "</tr>" + "".join(body) + "</table>")
        missing = r.get("table_missing_facts") or []
        if missing:
            parts.append(f"<p class='muted'>facts in no cell of their paper: {e('; '.join(missing))}</p>")
    return "<h2>Comparison tables</h2>" + "".join(parts) if parts else ""


def html_report(result: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    """A self-contained HTML page (plots inline, no outside requests); all corpus text is escaped."""
    e = html.escape
    gate = result.get("gate") or {"regressions": [], "changes": {}, "checked": 0, "note": "no baseline"}
    verdict = ("no baseline" if result.get("gate") is None else
               f"FAILED: {len(gate['regressions'])} regression(s)" if gate["regressions"] else "passed")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>rag eval: {e(result['config'])}</title>",
             "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1300px}table{border-collapse:collapse;"
             "font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;vertical-align:top}th{background:#f3f3f3}"
             ".bad{background:#fde2e2}.good{background:#e2f7e2}.muted{color:#777}</style></head><body>",
             f"<h1>rag eval — {len(result['rows'])} questions, mode {e(result['mode'])}, "
             f"configuration '{e(result['config'])}'</h1>",
             f"<p>Gate: <b>{e(verdict)}</b>. {e(gate.get('note') or '')}</p>"]
    if gate["regressions"]:
        parts.append("<ul>" + "".join(f"<li class='bad'>{e(str(r))}</li>" for r in gate["regressions"]) + "</ul>")
    parts.append("<h2>Targets</h2><table><tr><th>metric</th><th>goal</th><th>value</th><th>why not met</th></tr>")
    for t in result["targets"]:
        cls = "good" if t["met"] else "bad"
        parts.append(f"<tr class='{cls}'><td>{e(t['metric'])}</td><td>{e(t['op'])} {t['goal']}</td>"
                     f"<td>{_fmt(t['value'])}</td><td>{e(why(t, result['rows'], limit=40))}</td></tr>")
    parts.append("</table><h2>Metrics vs baseline</h2><table><tr><th>metric</th><th>this run</th><th>baseline</th>"
                 "<th>change</th></tr>")
    base = (baseline or {}).get("metrics", {})
    bad = {r.metric for r in gate["regressions"]}
    for k, v in result["flat"].items():
        b = base.get(k)
        delta = "" if b is None else f"{v - b:+.3f}"
        parts.append(f"<tr class='{'bad' if k in bad else ''}'><td>{e(k)}</td><td>{v:.3f}</td>"
                     f"<td>{_fmt(b)}</td><td>{delta}</td></tr>")
    parts.append("</table>")
    for title, uri in plots(result, baseline):
        parts.append(f"<h2>{e(title)}</h2><img alt='{e(title)}' src='{uri}'>")
    parts.append(tables_html(result["rows"]))
    parts.append("<h2>Questions</h2><p class='muted'>Newly failed first, then newly passed, then failing.</p>"
                 "<table><tr><th>id</th><th>type</th><th>status</th><th>why</th><th>question</th>"
                 "<th>expected</th><th>cited</th><th>rank</th><th>ms</th></tr>")
    order = {"newly failed": 0, "newly passed": 1}
    rows = sorted(result["rows"], key=lambda r: (order.get(_status(r, gate["changes"]), 2), r["passed"], r["id"]))
    for r in rows:
        status = _status(r, gate["changes"])
        cls = "bad" if "fail" in status else "good" if "passed" in status else ""
        parts.append(
            f"<tr class='{cls}'><td>{e(r['id'])}</td><td>{e(r['group'])}</td><td>{e(status)}</td><td>{e(r['reason'])}</td>"
            f"<td>{e(r['question'])}</td><td>{e('; '.join(r['expected_titles']) or '(none: unanswerable)')}</td>"
            f"<td>{e('; '.join(r['cited_titles']) or ('(abstained)' if r['abstained'] else '(none)'))}</td>"
            f"<td>{r['first_rank'] or '–'}</td><td>{r['answer_ms']:.0f}</td></tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts)

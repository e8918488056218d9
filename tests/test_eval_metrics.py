"""Eval metrics on hand-computed cases, golden-file loading errors, and the gate's comparison rules."""

from __future__ import annotations

import json
import math

import pytest

from eval import gate as g
from eval import golden
from eval import metrics as m
from eval.runner import parse_config
from rag.errors import RagError

RANKED = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]


def test_rank_based_metrics_on_a_hand_computed_ranking():
    # expected papers at ranks 2 and 7
    exp = ["b", "g"]
    assert m.first_rank(RANKED, exp) == 2
    assert m.hit_at(RANKED, exp, 1) == 0.0 and m.hit_at(RANKED, exp, 2) == 1.0
    assert m.recall_at(RANKED, exp, 5) == 0.5 and m.recall_at(RANKED, exp, 10) == 1.0
    assert m.reciprocal_rank(RANKED, exp) == 0.5
    ideal = 1 + 1 / math.log2(3)
    assert m.ndcg_at(RANKED, exp, 10) == pytest.approx((1 / math.log2(3) + 1 / math.log2(8)) / ideal)


def test_rank_metrics_when_nothing_or_everything_is_found():
    assert m.first_rank(RANKED, ["z"]) is None
    assert m.hit_at(RANKED, ["z"], 10) == 0.0
    assert m.reciprocal_rank(RANKED, ["k"], 10) == 0.0  # rank 11 is outside MRR@10
    assert m.ndcg_at(["x", "y"], ["x", "y"], 10) == pytest.approx(1.0)
    assert m.ndcg_at(["x", "x", "y"], ["x", "y"], 10) < 1.0  # a repeated id gains nothing the second time
    assert m.recall_at(RANKED, [], 5) == 0.0 and m.ndcg_at(RANKED, [], 10) == 0.0


def test_citation_and_keyword_metrics():
    assert m.citation_precision(["a", "b", "a", "c"], ["a", "x"]) == pytest.approx(1 / 3)
    assert m.citation_precision([], ["a"]) is None
    assert m.citation_recall(["a", "b"], ["a", "x", "y", "z"]) == 0.25
    assert m.keyword_recall("Uses PagedAttention for 24x throughput", ["pagedattention", "24x", "LoRA"]) == pytest.approx(2 / 3)
    assert m.keyword_recall("anything", []) is None


def test_mean_and_percentile():
    assert m.mean([1.0, None, 3.0]) == 2.0 and m.mean([None]) is None
    assert m.percentile([10, 20, 30, 40, 50], 50) == 30
    assert m.percentile([10, 20], 95) == pytest.approx(19.5)
    assert m.percentile([], 50) is None


# --------------------------------------------------------------------------- golden files

def _write(tmp_path, lines):
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


GOOD = json.dumps({"id": "q1", "type": "single", "question": "What is X?", "expected_titles": ["T"],
                   "expected_keywords": ["k"]})


@pytest.mark.parametrize("bad, message", [
    ("{not json", "q.jsonl:2: not valid JSON"),
    (json.dumps({"id": "q2", "type": "single", "question": "Q"}), "q.jsonl:2: missing field(s) expected_titles"),
    (json.dumps({"id": "q2", "type": "single", "question": "  ", "expected_titles": []}), "q.jsonl:2: the question is empty"),
    (json.dumps({"id": "q2", "type": "dated", "question": "Q", "expected_titles": [], "since": "June"}), "is not a date"),
    (GOOD, "q.jsonl:2: duplicate id 'q1'"),
    ("[1, 2]", "q.jsonl:2: expected a JSON object"),
])
def test_a_malformed_questions_file_is_a_clear_error_naming_the_line(tmp_path, bad, message):
    with pytest.raises(RagError) as e:
        golden.load(_write(tmp_path, [GOOD, bad]))
    assert message in e.value.message


def test_questions_load_with_types_groups_and_dates(tmp_path):
    near = json.dumps({"id": "u1", "type": "unanswerable", "question": "Q?", "expected_titles": [],
                       "expected_keywords": [], "near_title": "T", "since": "2024-01-01"})
    qs = golden.load(_write(tmp_path, [GOOD, "", near]))
    assert [q.id for q in qs] == ["q1", "u1"]
    assert qs[0].answerable and not qs[1].answerable
    assert qs[1].group == "unanswerable (near miss)" and str(qs[1].since) == "2024-01-01"
    assert golden.digest(qs) != golden.digest(qs[:1])
    with pytest.raises(RagError, match="holds no questions"):
        golden.load(_write(tmp_path, [""]))
    with pytest.raises(RagError, match="cannot read"):
        golden.load(tmp_path / "missing.jsonl")


def test_the_committed_golden_set_loads():
    qs = golden.load(golden.QUESTIONS)
    assert len(qs) >= 120 and {q.type for q in qs} == set(golden.TYPES)


# --------------------------------------------------------------------------- gate rules

RULES = g.load_rules()


def test_gate_flags_drops_past_tolerance_and_lets_small_ones_pass():
    base = {"single.hit@5": 0.95, "all.hit@5": 0.90, "all.citation_validity": 1.0,
            "answerable.false_abstention": 0.03, "latency.answer_p50_ms": 20.0}
    same = dict(base)
    assert g.check(same, base, RULES) == []
    small = {**base, "single.hit@5": 0.93, "all.hit@5": 0.895, "latency.answer_p50_ms": 45.0}
    assert g.check(small, base, RULES) == []  # 0.02 per-type slack, 0.01 overall, latency below 20+30 ms
    worse = {**base, "single.hit@5": 0.90, "all.citation_validity": 0.99, "answerable.false_abstention": 0.05,
             "latency.answer_p50_ms": 61.0}
    found = {r.metric for r in g.check(worse, base, RULES)}
    assert found == {"single.hit@5", "all.citation_validity", "answerable.false_abstention"}
    # latency past its tolerance is reported, never gated: it measures the machine's load as much as the change
    assert [r.metric for r in g.check(worse, base, RULES, ungated=True)] == ["latency.answer_p50_ms"]
    assert g.check(small, base, RULES, ungated=True) == []


def test_gate_ignores_metrics_only_one_side_has_and_explains_each_regression():
    regs = g.check({"single.hit@5": 0.5, "new.metric": 0.0}, {"single.hit@5": 0.9, "old.metric": 1.0}, RULES)
    assert len(regs) == 1
    assert str(regs[0]) == "single.hit@5: 0.900 -> 0.500 (worst allowed 0.870)"
    assert g.allowed("latency.retrieve_p95_ms", 100.0, RULES) == 300.0  # ratio beats the absolute slack


def test_newly_failed_and_newly_passed_questions():
    baseline = {"questions": {"a": {"passed": True}, "b": {"passed": False}, "c": {"passed": True}}}
    rows = [{"id": "a", "passed": False}, {"id": "b", "passed": True}, {"id": "c", "passed": True},
            {"id": "d", "passed": True}]
    assert g.changes(rows, baseline) == {"newly_failed": ["a"], "newly_passed": ["b"], "new": ["d"]}


def test_an_unreadable_baseline_is_a_clear_error(tmp_path):
    bad = tmp_path / "baseline.json"
    bad.write_text("{}")
    with pytest.raises(RagError, match="unreadable"):
        g.load_baseline(bad)
    assert g.load_baseline(tmp_path / "none.json") is None


def test_compare_configs_parse_and_reject_unknown_settings():
    c = parse_config("wide:answer_k=8,rrf_k=30")
    assert c.name == "wide" and c.overrides == {"answer_k": "8", "rrf_k": "30"}
    with pytest.raises(RagError, match="bad --config part"):
        parse_config("x:no_such_setting=1")


def test_table_scores_count_rows_facts_in_their_own_row_and_cells_from_their_own_paper():
    """rag compare's table scored by hand: a gold row with its fact, a gold row whose fact sits in another
    paper's row (not counted), a row that does not belong, and a cell borrowing words from another paper."""
    from rag import Comparison, PaperRecord, paper_id
    from rag.answer.compare import Cell, Row

    from eval.harness import table_scores

    abstracts = {"A": "We propose Foo. Foo is 4x faster on ImageNet.", "B": "We introduce Bar for parsing.",
                 "C": "We study Baz."}
    q = golden.Question("c-x", "compare", "which?", ["A", "B"], expected_facts={"A": ["4x faster"], "B": ["Bar"]})
    rows = [Row(1, paper_id("A"), "A", None, Cell("The authors propose Foo.", 0), results=Cell("Foo is 4x faster on ImageNet.", 1)),
            Row(2, paper_id("B"), "B", None, Cell("Parsing with Bar and Foo is 4x faster.", 0)),  # borrows A's words
            Row(3, paper_id("C"), "C", None, Cell("The authors study Baz.", 0))]
    by_id = {paper_id(t): PaperRecord(paper_id=paper_id(t), title=t, abstract=a) for t, a in abstracts.items()}
    s = table_scores(q, Comparison("which?", rows, 3), by_id.get)
    assert s["table_row_recall"] == 1.0 and math.isclose(s["table_row_precision"], 2 / 3)
    assert s["table_cell_recall"] == 1.0  # "Bar" in B's row (its own), "4x faster" in A's row
    assert math.isclose(s["table_cell_precision"], 3 / 4) and [r["gold"] for r in s["table"]] == [True, True, False]
    q2 = golden.Question("c-y", "compare", "which?", ["A", "B"], expected_facts={"A": ["Bar", "ImageNet"]})
    assert table_scores(q2, Comparison("which?", rows, 3), by_id.get)["table_cell_recall"] == 0.5  # "Bar": B's row only
    gone = table_scores(q, Comparison("which?", [], 3, abstained=True, text="no"), by_id.get)
    assert gone["table_row_recall"] == 0.0 and gone["table_row_precision"] is None and gone["table_cell_recall"] == 0.0

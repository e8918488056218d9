"""Which support check tells a supported claim from a miscited one? Lexical overlap vs embeddings.

    python -m bench.support

Claims about a paper, each paired with its own abstract (supported) and with the abstract of the
most similar other paper (miscited, a hard negative):
  - verbatim: a sentence of the abstract, turned to the third person (what the offline mode writes);
  - reworded: the golden set's single/title/paraphrase questions, which describe one paper in other words
    (a stand-in for an LLM's rewording).
Reports ROC AUC and the accuracy at the threshold the answerer uses, for lexical support
(rag.answer.citations.support) and for the best sentence cosine with WordLlama.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def auc(pos: list[float], neg: list[float]) -> float:
    """Probability that a random supported pair scores above a random miscited one."""
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float((p > n).mean() + 0.5 * (p == n).mean())


def main() -> None:
    from eval import golden
    from rag.answer.answerer import SUPPORT_MIN
    from rag.answer.support import support
    from rag.text.sentences import split_sentences
    from rag.corpus.readers import load_corpus
    from rag.embed.wordllama import WordLlamaEmbedder
    from rag.answer.extractive import third_person

    papers = {p.title: p for p in load_corpus([ROOT / "seeds"]).papers}
    titles = list(papers)
    emb = WordLlamaEmbedder()
    abs_vecs = emb.embed([papers[t].abstract for t in titles])

    def nearest_other(title: str) -> str:
        sims = abs_vecs @ abs_vecs[titles.index(title)]
        order = np.argsort(-sims)
        return next(titles[i] for i in order if titles[i] != title)

    claims: dict[str, list[tuple[str, str]]] = {"verbatim": [], "reworded": []}
    rng = np.random.default_rng(0)
    for t in titles[::5]:
        sents = split_sentences(papers[t].abstract)
        claims["verbatim"].append((third_person(sents[int(rng.integers(len(sents)))]), t))
    for q in golden.load(golden.QUESTIONS):
        if q.type in ("single", "title", "paraphrase"):
            claims["reworded"].append((q.question, q.expected_titles[0]))

    def lexical(claim: str, title: str) -> float:
        return support(claim, {1: f"{title}\n{papers[title].abstract}"}).score

    def dense(claim: str, title: str) -> float:
        sents = split_sentences(papers[title].abstract)
        v = emb.embed([claim] + sents)
        return float((v[1:] @ v[0]).max())

    report = {}
    print(f"| claims | n | check | AUC | supported kept at {SUPPORT_MIN} | miscited caught at {SUPPORT_MIN} |")
    print("|---|---|---|---|---|---|")
    for kind, pairs in claims.items():
        for name, fn in (("lexical", lexical), ("dense", dense)):
            pos = [fn(c, t) for c, t in pairs]
            neg = [fn(c, nearest_other(t)) for c, t in pairs]
            row = {"n": len(pairs), "auc": auc(pos, neg),
                   "kept": float(np.mean([x >= SUPPORT_MIN for x in pos])),
                   "caught": float(np.mean([x < SUPPORT_MIN for x in neg]))}
            row["sweep"] = {f"{x:.2f}": [float(np.mean([v >= x for v in pos])), float(np.mean([v < x for v in neg]))]
                            for x in np.arange(0.2, 0.75, 0.05)}
            report[f"{kind}/{name}"] = row
            print(f"| {kind} | {row['n']} | {name} | {row['auc']:.3f} | {row['kept']:.2f} | {row['caught']:.2f} |")
    out = ROOT / "artifacts" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "support.json").write_text(json.dumps(report, indent=1))
    print("\nlexical threshold sweep on reworded claims (supported kept, miscited caught):")
    for x, (kept, caught) in report["reworded/lexical"]["sweep"].items():
        print(f"  {x}: {kept:.2f} kept, {caught:.2f} caught")


if __name__ == "__main__":
    main()

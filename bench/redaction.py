"""Redaction: precision and recall on the labelled corpus, and the transform's overhead.

The corpus (tests/fixtures/redaction/corpus.jsonl) holds chat lines with their secrets (kind
and text) and look-alikes (order numbers, timestamps, tracking numbers, ...). A secret counts
as found when its text is gone and its kind's replacement is there; precision is found secrets
over all replacements made. The overhead is the transform's throughput (bench/transform_throughput.py's
records, default mapping) with the default policy against the same run without one; target <= 15 %.

    PYTHONPATH=plugins python bench/redaction.py [--count 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))
sys.path.insert(0, str(REPO / "bench"))

from lesync.mapping import RedactionPolicy, fields_meta_from_schema, load_mapping, redactor  # noqa: E402
from lesync.mapping.redaction import Redactor  # noqa: E402

CORPUS = REPO / "tests" / "fixtures" / "redaction" / "corpus.jsonl"


@dataclass
class Score:
    found: int = 0
    missed: list[tuple[int, str, str]] = field(default_factory=list)  # (row id, kind, text)
    replacements: int = 0
    lookalikes: int = 0
    lookalikes_hit: list[tuple[int, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.found / self.replacements if self.replacements else 1.0

    @property
    def recall(self) -> float:
        total = self.found + len(self.missed)
        return self.found / total if total else 1.0


def load_corpus(path: Path = CORPUS) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score(redact: Redactor, corpus: list[dict]) -> Score:
    result = Score()
    markers = set(redact.policy.replacement.model_dump().values())
    for row in corpus:
        out = redact.text(row["text"])
        result.replacements += sum(out.count(marker) for marker in markers)
        for kind, text in row["secrets"]:
            marker = getattr(redact.policy.replacement, kind)
            if text not in out and marker in out:
                result.found += 1
            else:
                result.missed.append((row["id"], kind, text))
        for text in row["lookalikes"]:
            result.lookalikes += 1
            if text not in out:
                result.lookalikes_hit.append((row["id"], text))
    return result


def throughput(count: int, repeat: int) -> tuple[float, float]:
    """``(conversations/s without redaction, with the default policy)``, CPU time, best of ``repeat``."""
    import transform_throughput as bench

    mapping = load_mapping(REPO / "include" / "mappings" / "chat_transcript.yaml")
    redacting = mapping.with_redaction(RedactionPolicy())
    meta = fields_meta_from_schema("Chat_Transcript__c")
    records = bench.build_records(count)
    bench.run(records[:500], mapping, meta)
    bench.run(records[:500], redacting, meta)
    plain, redacted = [], []
    for _ in range(repeat):  # alternated, so a busy machine slows both alike
        plain.append(bench.run(records, mapping, meta)[1])
        redacted.append(bench.run(records, redacting, meta)[1])
    return count / min(plain), count / min(redacted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    corpus = load_corpus()
    result = score(redactor(RedactionPolicy()), corpus)
    secrets = result.found + len(result.missed)
    print(
        f"corpus: {len(corpus)} lines, {secrets} secrets, {result.lookalikes} look-alikes; "
        f"precision {result.precision:.3f}, recall {result.recall:.3f}; "
        f"look-alikes redacted: {len(result.lookalikes_hit)}"
    )
    for item in result.missed:
        print(f"  missed: line {item[0]} {item[1]} {item[2]!r}")
    for item in result.lookalikes_hit:
        print(f"  look-alike redacted: line {item[0]} {item[1]!r}")
    plain, redacted = throughput(args.count, args.repeat)
    print(
        f"transform: {plain:,.0f} conversations/s without redaction, {redacted:,.0f} with the default "
        f"policy (CPU, one core): overhead {100 * (plain - redacted) / plain:.1f} % (target <= 15 %)"
    )


if __name__ == "__main__":
    main()

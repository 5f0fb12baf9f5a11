"""Scores predicted spans against gold spans: precision, recall and F1 per label.

Two ways to match: exact (same start, end and label) and lenient (same label, overlapping
characters). Plain Python, no Django: `manage.py evaluate` and the benchmarks both use it.
"""

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str


@dataclass
class Tally:
    predicted: int = 0
    gold: int = 0
    predicted_matched: int = 0
    gold_matched: int = 0

    @property
    def precision(self) -> float:
        return self.predicted_matched / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.gold_matched / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, other: "Tally") -> None:
        self.predicted += other.predicted
        self.gold += other.gold
        self.predicted_matched += other.predicted_matched
        self.gold_matched += other.gold_matched


@dataclass
class Scores:
    """Tallies per label and overall, for one matching mode."""

    per_label: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))

    @property
    def overall(self) -> Tally:
        total = Tally()
        for tally in self.per_label.values():
            total.add(tally)
        return total


def _matches(a: Span, b: Span, *, lenient: bool) -> bool:
    if a.label != b.label:
        return False
    if lenient:
        return a.start < b.end and b.start < a.end
    return a.start == b.start and a.end == b.end


def score_document(gold: list[Span], predicted: list[Span], scores: dict[str, Scores]) -> None:
    """Adds one document's counts to `scores` ({"exact": Scores, "lenient": Scores})."""
    for mode, lenient in (("exact", False), ("lenient", True)):
        per_label = scores[mode].per_label
        for span in predicted:
            tally = per_label[span.label]
            tally.predicted += 1
            if any(_matches(span, g, lenient=lenient) for g in gold):
                tally.predicted_matched += 1
        for span in gold:
            tally = per_label[span.label]
            tally.gold += 1
            if any(_matches(span, p, lenient=lenient) for p in predicted):
                tally.gold_matched += 1


@dataclass
class ClaimTally:
    """Claims found against gold claims (overlap, one to one), and speakers right on the matched
    ones: the sums of annotation.claims.score_claims over documents."""

    gold: int = 0
    found: int = 0
    matched: int = 0
    speaker_correct: int = 0

    def add(self, one: dict) -> None:
        self.gold += one["gold"]
        self.found += one["found"]
        self.matched += one["matched"]
        self.speaker_correct += one["speaker_correct"]

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def speaker_accuracy(self) -> float:
        return self.speaker_correct / self.matched if self.matched else 0.0

    def format(self) -> str:
        return (f"claims   gold {self.gold}, found {self.found}, matched {self.matched}: "
                f"P {self.precision:.3f}  R {self.recall:.3f}  F1 {self.f1:.3f}  "
                f"speakers {self.speaker_accuracy:.3f} ({self.speaker_correct}/{self.matched})")


def new_scores() -> dict:
    return {"exact": Scores(), "lenient": Scores(), "claims": ClaimTally()}


def format_table(scores: dict[str, Scores], labels: list[str]) -> str:
    lines = [f"{'label':<8} {'mode':<8} {'gold':>5} {'pred':>5} {'P':>6} {'R':>6} {'F1':>6}"]
    for label in [*labels, "ALL"]:
        for mode in ("exact", "lenient"):
            tally = scores[mode].overall if label == "ALL" else scores[mode].per_label[label]
            lines.append(f"{label:<8} {mode:<8} {tally.gold:>5} {tally.predicted:>5} "
                         f"{tally.precision:>6.3f} {tally.recall:>6.3f} {tally.f1:>6.3f}")
    return "\n".join(lines)

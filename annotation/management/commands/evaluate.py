import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from annotation import claims as claim_finder
from annotation import evaluation, extraction
from annotation.models import Claim, Label, Mention
from corpus import importing
from corpus.models import Article, ImportBatch
from corpus.text import body_bounds, text_hash

# Training copies are stored with this first line, so they never collide with a stored article
# of the same text; their spans shift with it. Everything is rolled back at the end.
TRAINING_PREFIX = "Evaluation training copy\n"


class _RollBack(Exception):
    pass


class Command(BaseCommand):
    help = ("Score the pre-tagger against hand-annotated JSONL (the gold seeds.jsonl shape): "
            "precision, recall and F1 per label, exact and overlapping; and the claims found: "
            "precision, recall and F1 (overlap with a gold claim) and speaker accuracy on the "
            "matched ones.")

    def add_arguments(self, parser):
        parser.add_argument("gold", type=Path, metavar="GOLD.jsonl")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--fresh", action="store_true",
                          help="run the pipeline on the gold texts now instead of reading the "
                               "stored pre-tags (the texts need not be in the corpus)")
        mode.add_argument("--learn-from", type=Path, metavar="TRAIN.jsonl",
                          help="score the pipeline on GOLD before and after learning from the "
                               "decisions in TRAIN (nothing is kept)")
        mode.add_argument("--cross-validate", action="store_true",
                          help="for each GOLD document, learn from all the others and score it "
                               "before and after (nothing is kept)")

    def handle(self, *args, gold: Path, fresh=False, learn_from=None, cross_validate=False, **options):
        documents = self.read_gold(gold)
        self.labels = list(Label.objects.values_list("name", flat=True))
        if learn_from:
            self.before_after(documents, train=[d for _, d in self.read_gold(learn_from)],
                              what=f"after learning from {learn_from.name}")
        elif cross_validate:
            self.cross_validate(documents)
        elif fresh:
            self.report(self.score(documents, self.fresh), f"the pipeline run now against {gold.name}")
        else:
            self.report(self.score(documents, self.stored), f"the stored pre-tags against {gold.name}")

    def report(self, scores, what: str, *, claims: bool = True) -> None:
        self.stdout.write(f"{self.scored} documents, {what}:\n")
        self.stdout.write(evaluation.format_table(scores, self.labels) + "\n")
        if claims and scores["claims"].gold:
            self.stdout.write(scores["claims"].format() + "\n")

    def score(self, documents, predict, scores=None):
        scores = scores or evaluation.new_scores()
        self.scored = 0
        for number, document in documents:
            predicted = predict(document)
            if predicted is None:
                self.stderr.write(f"line {number}: this text is not in the corpus "
                                  "(import it, or use --fresh); skipped")
                continue
            predicted, found_claims = predicted
            gold = [evaluation.Span(s["start"], s["end"], s["label"]) for s in document["spans"]]
            evaluation.score_document(gold, predicted, scores)
            if found_claims is not None and document.get("claims") is not None:
                scores["claims"].add(claim_finder.score_claims(document["claims"], found_claims))
            self.scored += 1
        if not self.scored:
            raise CommandError("No gold document could be scored.")
        return scores

    def before_after(self, documents, *, train: list[dict], what: str) -> None:
        before = self.score(documents, lambda d: self.fresh(d, learnt=False))
        after = self.learnt(train, lambda: self.score(documents, self.fresh))
        self.report(before, "the pipeline before learning")
        self.report(after, what)
        self.delta(before, after)

    def cross_validate(self, documents) -> None:
        before, after = evaluation.new_scores(), evaluation.new_scores()
        for index, held_out in enumerate(documents):
            others = [d for i, (_, d) in enumerate(documents) if i != index]
            self.score([held_out], lambda d: self.fresh(d, learnt=False), before)
            self.learnt(others, lambda: self.score([held_out], self.fresh, after))
        self.scored = len(documents)
        self.report(before, "each scored before learning")
        self.report(after, "each scored after learning from all the others (leave one out)")
        self.delta(before, after)

    def learnt(self, train: list[dict], measure):
        """Run `measure` after importing `train` as confirmed decisions, then roll all back."""
        result = None
        try:
            with transaction.atomic():
                rows = [importing.Row(file="training", number=n, text=TRAINING_PREFIX + d["text"],
                                      title=f"training {n}", spans=[
                                          (s["start"] + len(TRAINING_PREFIX), s["end"] + len(TRAINING_PREFIX),
                                           s["label"]) for s in d["spans"]])
                        for n, d in enumerate(train, start=1)]
                importing.store_confirmed(ImportBatch.objects.create(confirmed=True), rows)
                result = measure()
                raise _RollBack
        except _RollBack:
            pass
        return result

    def delta(self, before, after) -> None:
        lines = ["lenient F1 before → after:"]
        for label in [*self.labels, "ALL"]:
            b = before["lenient"].overall if label == "ALL" else before["lenient"].per_label[label]
            a = after["lenient"].overall if label == "ALL" else after["lenient"].per_label[label]
            lines.append(f"  {label:<8} {b.f1:.3f} → {a.f1:.3f} ({a.f1 - b.f1:+.3f})")
        self.stdout.write("\n".join(lines))

    def read_gold(self, path: Path) -> list[tuple[int, dict]]:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}") from None
        documents = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                document = json.loads(line)
                assert isinstance(document.get("text"), str) and isinstance(document.get("spans"), list)
            except (ValueError, AssertionError):
                raise CommandError(f"{path.name}, line {number}: expected a JSON object with "
                                   '"text" and "spans"') from None
            documents.append((number, document))
        return documents

    def stored(self, document: dict) -> list[evaluation.Span] | None:
        article = Article.objects.filter(text_hash=text_hash(document["text"])).first()
        if article is None:
            return None
        if article.text != document["text"]:
            raise CommandError(f"Article {article.pk} holds this text with different characters "
                               "(same normalised text): its offsets do not line up with the gold file")
        machine = article.mentions.filter(origin__in=[Mention.Origin.MODEL, Mention.Origin.PATTERN])
        claims = [claim_finder.FoundClaim(c.start, c.end, c.speaker or None, c.speaker_start,
                                          c.speaker_end, c.cue or None, c.direct)
                  for c in article.claims.filter(origin=Claim.Origin.MODEL)]
        return ([evaluation.Span(m.start, m.end, m.label.name) for m in machine.select_related("label")],
                claims)

    def fresh(self, document: dict, *, learnt: bool = True):
        text = document["text"]
        start, end = body_bounds(text)
        found = next(extraction.analyse(extraction.get_nlp(), [(text[start:end], start)], learnt=learnt))
        return [evaluation.Span(f.start_char, f.end_char, f.label) for f in found.entities], found.claims

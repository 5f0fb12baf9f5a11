import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation import evaluation, extraction
from annotation import nlp as spacy_nlp
from annotation.models import Label, Mention
from corpus.models import Article
from corpus.text import body_bounds, text_hash


class Command(BaseCommand):
    help = ("Score the pre-tagger against hand-annotated JSONL (the gold seeds.jsonl shape): "
            "precision, recall and F1 per label, exact and overlapping.")

    def add_arguments(self, parser):
        parser.add_argument("gold", type=Path, metavar="GOLD.jsonl")
        parser.add_argument("--fresh", action="store_true",
                            help="run the pipeline on the gold texts now instead of reading the "
                                 "stored pre-tags (the texts need not be in the corpus)")

    def handle(self, *args, gold: Path, fresh: bool = False, **options):
        documents = self.read_gold(gold)
        labels = list(Label.objects.values_list("name", flat=True))
        scores = evaluation.new_scores()
        scored = 0
        for number, document in documents:
            predicted = self.fresh(document) if fresh else self.stored(document)
            if predicted is None:
                self.stderr.write(f"{gold.name}, line {number}: this text is not in the corpus "
                                  "(import it, or use --fresh); skipped")
                continue
            gold_spans = [evaluation.Span(s["start"], s["end"], s["label"]) for s in document["spans"]]
            evaluation.score_document(gold_spans, predicted, scores)
            scored += 1
        if not scored:
            raise CommandError("No gold document could be scored.")
        source = "the pipeline run now" if fresh else "the stored pre-tags"
        self.stdout.write(f"{scored} documents, {source} against {gold.name}:\n")
        self.stdout.write(evaluation.format_table(scores, labels))

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
        return [evaluation.Span(m.start, m.end, m.label.name) for m in machine.select_related("label")]

    def fresh(self, document: dict) -> list[evaluation.Span]:
        text = document["text"]
        start, end = body_bounds(text)
        found = next(spacy_nlp.find_entities_in_bodies(extraction.get_nlp(), [(text[start:end], start)],
                                                       Label.objects.all().spacy_map()))
        return [evaluation.Span(f.start_char, f.end_char, f.label) for f in found]

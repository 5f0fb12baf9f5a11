import io
import json

import pytest
from django.core.management import CommandError, call_command

from annotation import decisions
from corpus.models import Article
from tests.gold import GOLD


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_pretag_sync_tags_every_untagged_article(seed_articles, nlp):
    out, err = run("pretag", "--sync")
    assert "Pre-tagged 5 articles" in out
    assert "Pre-tagging" in err  # the progress bar
    assert not Article.objects.untagged().exists()
    assert "Nothing to pre-tag" in run("pretag", "--sync")[0]


def test_pretag_one_article_by_id(seed_articles, nlp):
    run("pretag", "--sync", "--article", str(seed_articles[1].pk))
    assert list(Article.objects.exclude(status="new")) == [seed_articles[1]]


def test_pretag_unknown_article_is_a_clear_error(db):
    with pytest.raises(CommandError, match="No article with id 424242"):
        run("pretag", "--article", "424242")


def test_pretag_enqueues_chunks_for_the_workers(seed_articles, broker, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        out, _ = run("pretag", "--no-wait")
    assert "Enqueued 5 articles in 1 message." in out
    assert broker.queues["default"].qsize() == 1


def test_export_writes_one_gold_shaped_line_per_article_with_statuses(seed_articles, nlp, analyst, tmp_path):
    run("pretag", "--sync")
    mention = seed_articles[0].mentions.order_by("start").first()
    decisions.confirm(mention.pk, version=1, by=analyst)
    path = tmp_path / "out.jsonl"
    run("export_annotations", "--format", "jsonl", "--output", str(path))
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 5
    first = lines[0]
    assert {"text", "spans", "claims"} <= first.keys()
    assert first["text"] == seed_articles[0].text
    span = first["spans"][0]
    assert span == {"start": mention.start, "end": mention.end, "label": mention.label.name,
                    "text": mention.text, "status": "confirmed", "origin": "model"}


def test_export_to_an_unwritable_path_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="Cannot write"):
        run("export_annotations", "--output", str(tmp_path / "missing" / "out.jsonl"))


def test_evaluate_scores_stored_pretags_per_label(seed_articles, nlp):
    run("pretag", "--sync")
    out, _ = run("evaluate", str(GOLD))
    assert "5 documents, the stored pre-tags" in out
    rows = {tuple(line.split()[:2]): line.split()[2:] for line in out.splitlines()[2:] if line.strip()}
    gold, predicted, precision, recall, f1 = rows[("ALL", "lenient")]
    assert int(gold) == 282
    assert float(f1) > 0.7


def test_evaluate_fresh_needs_no_stored_articles(db, nlp):
    out, _ = run("evaluate", "--fresh", str(GOLD))
    assert "5 documents, the pipeline run now" in out


def test_evaluate_skips_texts_not_in_the_corpus_and_says_so(db, tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text(json.dumps({"text": "Unknown.", "spans": []}) + "\n", encoding="utf-8")
    with pytest.raises(CommandError, match="No gold document could be scored"):
        run("evaluate", str(path))


def test_evaluate_refuses_a_malformed_gold_file(db, tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text("{broken\n", encoding="utf-8")
    with pytest.raises(CommandError, match="line 1: expected a JSON object"):
        run("evaluate", str(path))


def test_evaluate_cross_validates_learning_and_keeps_nothing(db, nlp):
    out, _ = run("evaluate", "--cross-validate", str(GOLD))
    assert "each scored after learning from all the others (leave one out)" in out
    assert "lenient F1 before → after:" in out
    from annotation.models import Entity

    assert not Article.objects.exists() and not Entity.objects.exists()


def test_evaluate_learn_from_scores_before_and_after(db, nlp, tmp_path):
    lines = GOLD.read_text(encoding="utf-8").splitlines()
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    train.write_text("\n".join(lines[:3]), encoding="utf-8")
    test.write_text("\n".join(lines[3:]), encoding="utf-8")
    out, _ = run("evaluate", str(test), "--learn-from", str(train))
    assert "2 documents, the pipeline before learning" in out
    assert "2 documents, after learning from train.jsonl" in out


def test_pretag_untouched_retags_only_articles_nobody_started(seed_articles, nlp, analyst):
    run("pretag", "--sync")
    started = seed_articles[0]
    mention = started.mentions.first()
    decisions.confirm(mention.pk, version=1, by=analyst)
    out, _ = run("pretag", "--sync", "--untouched")
    assert "Pre-tagged 4 articles" in out
    assert started.events.filter(action="article.pretag").count() == 1

"""Exports for spaCy and Prodigy users and spreadsheets: approved annotations as spaCy DocBin,
Prodigy-style JSONL and a CSV of mentions, from the command and from the admins' download page."""

import csv
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import spacy
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path, reverse
from spacy.tokens import DocBin

import config.urls
from annotation import export_views, exporting
from annotation import urls as annotation_urls
from annotation.models import Label, Mention
from corpus.models import Article
from tests.factories import ArticleFactory, ClaimFactory, MentionFactory, SourceFactory, UserFactory
from tests.gold import gold_documents

TEXT = "Habib Essid said 36 attackers were killed in Ben Guerdane. The U.N.-brokered truce held."

# The download page's URLs, under the annotation namespace, until annotation/urls.py names them;
# the view tests use this module as their URLconf.
EXPORT_URLS = [path("exports/", export_views.export_page, name="export_page"),
               path("exports/download/", export_views.download_export, name="download_export")]
urlpatterns = [
    path("", include((annotation_urls.urlpatterns + EXPORT_URLS, "annotation")))
    if getattr(pattern, "namespace", None) == "annotation" else pattern
    for pattern in config.urls.urlpatterns
]


def run(*args, stdout=None) -> tuple[str, str]:
    out, err = stdout if stdout is not None else io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return (out.getvalue() if stdout is None else ""), err.getvalue()


def words(text: str, phrase: str) -> dict:
    start = text.index(phrase)
    return {"start": start, "end": start + len(phrase)}


def label(name: str) -> Label:
    return Label.objects.get(name=name)


def load_docs(source: Path | bytes) -> list:
    vocab = spacy.blank("en").vocab
    doc_bin = DocBin().from_bytes(source) if isinstance(source, bytes) else DocBin().from_disk(source)
    return list(doc_bin.get_docs(vocab))


def ents(doc) -> list[tuple[int, int, str, str]]:
    return [(ent.start_char, ent.end_char, ent.label_, ent.text) for ent in doc.ents]


@pytest.fixture
def article(db, analyst):
    """An approved article: two confirmed mentions (one linked to an entity), one inside a token
    ("U.N." in "U.N.-brokered"), a suggestion nobody decided on, a rejected one; a confirmed and
    a suggested claim."""
    article = ArticleFactory(text=TEXT, title="Attack", url="https://news.example/attack",
                             source=SourceFactory(name="TAP"), status=Article.Status.APPROVED)
    MentionFactory(article=article, **words(TEXT, "Habib Essid"), status="confirmed",
                   decided_by=analyst, origin="model")
    MentionFactory(article=article, **words(TEXT, "Ben Guerdane"), label=label("PLACE"),
                   status="confirmed", origin="analyst", decided_by=analyst)
    MentionFactory(article=article, **words(TEXT, "U.N."), label=label("GROUP"), status="confirmed")
    MentionFactory(article=article, **words(TEXT, "36"), label=label("FIGURE"), status="suggested")
    MentionFactory(article=article, **words(TEXT, "truce"), label=label("GROUP"), status="rejected")
    ClaimFactory(article=article, **words(TEXT, "36 attackers were killed in Ben Guerdane"),
                 speaker="Habib Essid", speaker_start=0, speaker_end=11, cue="said", status="confirmed")
    ClaimFactory(article=article, **words(TEXT, "The U.N.-brokered truce held."), status="suggested")
    return article


@pytest.fixture
def gold_articles(db):
    """The five gold seeds as approved articles, their spans as confirmed mentions and their
    claims as confirmed claims."""
    articles = []
    for seed in gold_documents():
        article = ArticleFactory(text=seed["text"], title=seed["id"], status=Article.Status.APPROVED)
        labels = {label.name: label for label in Label.objects.all()}
        Mention.objects.bulk_create(
            Mention(article=article, start=s["start"], end=s["end"], text=seed["text"][s["start"]:s["end"]],
                    label=labels[s["label"]], status="confirmed", origin="analyst")
            for s in seed["spans"])
        for claim in seed["claims"]:
            ClaimFactory(article=article, start=claim["start"], end=claim["end"], status="confirmed")
        articles.append(article)
    return articles


# =============================================================================================
# spaCy DocBin
# =============================================================================================

def test_spacy_file_gives_back_the_confirmed_mentions_as_entities(article, tmp_path):
    path = tmp_path / "train.spacy"
    _, err = run("export_annotations", "--format", "spacy", "-o", str(path))
    [doc] = load_docs(path)
    assert doc.text == TEXT
    assert ents(doc) == [(0, 11, "ACTOR", "Habib Essid"), (45, 57, "PLACE", "Ben Guerdane"),
                         (63, 76, "GROUP", "U.N.-brokered")]
    # "U.N." is inside the token "U.N.-brokered": widened, and said so.
    assert "Wrote 1 articles to" in err
    assert "1 span did not fall on token edges: 1 widened to whole tokens, 0 left out." in err
    assert f"{article.text_hash[:12]} mention GROUP 63-67 'U.N.': widened to 63-76" in err
    [claim] = doc.spans["claims"]
    assert (claim.start_char, claim.end_char, claim.label_) == (17, 57, "CLAIM")
    assert doc.user_data["text_hash"] == article.text_hash
    assert (doc.user_data["title"], doc.user_data["url"], doc.user_data["source"]) == (
        "Attack", "https://news.example/attack", "TAP")


def test_spacy_marks_undecided_suggestions_missing_and_rejected_ones_outside(article, tmp_path):
    path = tmp_path / "train.spacy"
    run("export_annotations", "--format", "spacy", "-o", str(path))
    [doc] = load_docs(path)
    iob = {token.text: token.ent_iob_ for token in doc}
    assert iob["36"] == ""          # missing: nobody decided whether it is a FIGURE
    assert iob["truce"] == "O"      # rejected: not an entity
    assert iob["killed"] == "O"
    assert [token.ent_iob_ for token in doc[:2]] == ["B", "I"]


def test_spacy_marks_the_boilerplate_missing(db, tmp_path):
    text = "Home / World / Libya\nHabib Essid said so.\nShare this:\nTweet"
    article = ArticleFactory(text=text, status=Article.Status.APPROVED)
    assert 0 < article.body_start < article.body_end < len(text)  # the breadcrumb and the sharing
    MentionFactory(article=article, **words(text, "Habib Essid"), status="confirmed")
    path = tmp_path / "train.spacy"
    run("export_annotations", "--format", "spacy", "-o", str(path))
    [doc] = load_docs(path)
    body = [t.ent_iob_ for t in doc if article.body_start <= t.idx < article.body_end and not t.is_space]
    outside = [t.ent_iob_ for t in doc if not article.body_start <= t.idx < article.body_end]
    assert body == ["B", "I", "O", "O", "O"]
    assert set(outside) == {""}  # nobody annotates the page furniture: unknown, not "no entity"


def test_a_mention_widened_onto_the_token_of_another_is_left_out_and_reported(article, tmp_path):
    # "U.N." and "brokered" are both inside the one token "U.N.-brokered".
    MentionFactory(article=article, **words(TEXT, "brokered"), status="confirmed")
    path = tmp_path / "train.spacy"
    _, err = run("export_annotations", "--format", "spacy", "-o", str(path))
    [doc] = load_docs(path)
    assert [ent.text for ent in doc.ents] == ["Habib Essid", "Ben Guerdane", "U.N.-brokered"]
    assert "2 spans did not fall on token edges: 1 widened to whole tokens, 1 left out." in err
    assert "mention ACTOR 68-76 'brokered': left out (it shares a token with the entity before it" in err


def test_spacy_round_trip_of_the_gold_seeds(gold_articles, tmp_path):
    path = tmp_path / "gold.spacy"
    _, err = run("export_annotations", "--format", "spacy", "-o", str(path))
    docs = load_docs(path)
    assert [doc.user_data["text_hash"] for doc in docs] == [a.text_hash for a in gold_articles]
    for doc, article in zip(docs, gold_articles, strict=True):
        stored = sorted(article.mentions.values_list("start", "end", "label__name", "text"))
        exported = ents(doc)
        assert len(exported) == len(stored)
        for (start, end, name, text), (ent_start, ent_end, ent_label, ent_text) in zip(stored, exported):
            assert ent_label == name
            if (ent_start, ent_end) == (start, end):
                assert ent_text == text
            else:  # widened to whole tokens, and reported
                assert ent_start <= start < end <= ent_end
                assert f"{article.text_hash[:12]} mention {name} {start}-{end} {text!r}: widened to " \
                       f"{ent_start}-{ent_end}" in err
        assert len(doc.spans["claims"]) == article.claims.count()
    # Four mentions and two claims ("… battalion 131" in "131-") are not on token edges.
    assert "6 spans did not fall on token edges: 6 widened to whole tokens, 0 left out." in err
    assert err.count(" mention ") == 4 and err.count(" claim CLAIM ") == 2


def test_spacy_to_a_directory_writes_shards_in_order(gold_articles, tmp_path):
    folder = tmp_path / "corpus"
    _, err = run("export_annotations", "--format", "spacy", "-o", str(folder), "--shard-size", "2")
    assert sorted(p.name for p in folder.iterdir()) == ["part-0001.spacy", "part-0002.spacy",
                                                        "part-0003.spacy"]
    shards = [load_docs(path) for path in sorted(folder.iterdir())]
    assert [len(docs) for docs in shards] == [2, 2, 1]
    hashes = [doc.user_data["text_hash"] for docs in shards for doc in docs]
    assert hashes == [a.text_hash for a in gold_articles]
    assert "Wrote 5 articles to" in err and "(3 files of up to 2)" in err


def test_spacy_refuses_a_directory_that_already_holds_spacy_files(gold_articles, tmp_path):
    folder = tmp_path / "corpus"
    run("export_annotations", "--format", "spacy", "-o", str(folder), "--shard-size", "4")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(CommandError, match="already holds .spacy files"):
        run("export_annotations", "--format", "spacy", "-o", str(folder))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_spacy_writes_binary_to_stdout_only_when_asked(article):
    with pytest.raises(CommandError, match="writes binary: give -o FILE.spacy"):
        run("export_annotations", "--format", "spacy")
    out = io.BytesIO()
    run("export_annotations", "--format", "spacy", "-o", "-", stdout=out)
    [doc] = load_docs(out.getvalue())
    assert doc.text == TEXT and len(doc.ents) == 3


def test_shard_size_is_for_spacy_and_positive(db, tmp_path):
    with pytest.raises(CommandError, match="--shard-size only applies to --format spacy"):
        run("export_annotations", "--format", "csv", "--shard-size", "5")
    with pytest.raises(CommandError, match="--shard-size must be 1 or more"):
        run("export_annotations", "--format", "spacy", "-o", str(tmp_path / "d"), "--shard-size", "0")
    assert not (tmp_path / "d").exists()


def test_spacy_train_reads_the_exported_directory(gold_articles, tmp_path):
    """Two training steps of a blank English NER on the shards: spaCy reads what we write."""
    folder = tmp_path / "corpus"
    run("export_annotations", "--format", "spacy", "-o", str(folder), "--shard-size", "2")
    config_path = tmp_path / "config.cfg"
    spacy_cli = [sys.executable, "-m", "spacy"]
    subprocess.run([*spacy_cli, "init", "config", str(config_path), "--lang", "en", "--pipeline",
                    "ner", "--optimize", "efficiency"], check=True, capture_output=True, timeout=60)
    result = subprocess.run(
        [*spacy_cli, "train", str(config_path), "--output", str(tmp_path / "model"),
         "--paths.train", str(folder), "--paths.dev", str(folder),
         "--training.max_steps", "2", "--training.eval_frequency", "1"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Saved pipeline" in result.stdout
    trained = spacy.load(tmp_path / "model" / "model-last")
    assert set(trained.get_pipe("ner").labels) == {"ACTOR", "GROUP", "PLACE", "FIGURE"}


# =============================================================================================
# Prodigy JSONL
# =============================================================================================

def test_prodigy_task_has_text_meta_tokens_spans_and_claims(article):
    out, _ = run("export_annotations", "--format", "prodigy")
    [task] = [json.loads(line) for line in out.splitlines()]
    assert task["text"] == TEXT and task["answer"] == "accept"
    assert task["meta"] == {"title": "Attack", "url": "https://news.example/attack", "source": "TAP",
                            "published": None, "text_hash": article.text_hash}
    tokens = task["tokens"]
    assert [t["id"] for t in tokens] == list(range(len(tokens)))
    assert "".join(t["text"] + (" " if t["ws"] else "") for t in tokens) == TEXT
    assert all(TEXT[t["start"]:t["end"]] == t["text"] for t in tokens)
    assert task["spans"] == [
        {"start": 0, "end": 11, "label": "ACTOR", "token_start": 0, "token_end": 1},
        {"start": 45, "end": 57, "label": "PLACE", "token_start": 8, "token_end": 9},
        {"start": 63, "end": 76, "label": "GROUP", "token_start": 12, "token_end": 12,
         "stored_start": 63, "stored_end": 67},
    ]
    for span in task["spans"]:  # token_end is the last token, inclusive, as in Prodigy
        assert tokens[span["token_start"]]["start"] == span["start"]
        assert tokens[span["token_end"]]["end"] == span["end"]
    assert task["claims"] == [{"start": 17, "end": 57, "text": "36 attackers were killed in Ben Guerdane",
                               "speaker": "Habib Essid", "speaker_start": 0, "speaker_end": 11,
                               "cue": "said", "direct": False, "credibility": None}]


def test_prodigy_hashes_are_stable_and_follow_the_text_and_spans(article):
    first = json.loads(run("export_annotations", "--format", "prodigy")[0])
    again = json.loads(run("export_annotations", "--format", "prodigy")[0])
    assert (first["_input_hash"], first["_task_hash"]) == (again["_input_hash"], again["_task_hash"])
    assert all(isinstance(first[key], int) and -2**31 <= first[key] < 2**31
               for key in ("_input_hash", "_task_hash"))
    article.mentions.filter(text="36").update(status="confirmed")
    changed = json.loads(run("export_annotations", "--format", "prodigy")[0])
    assert changed["_input_hash"] == first["_input_hash"]
    assert changed["_task_hash"] != first["_task_hash"]


# =============================================================================================
# CSV of mentions
# =============================================================================================

def test_csv_has_one_row_per_standing_mention(article, analyst):
    out, _ = run("export_annotations", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == exporting.MENTION_CSV_COLUMNS
    assert [(r["text"], r["label"], r["status"]) for r in rows] == [
        ("Habib Essid", "ACTOR", "confirmed"), ("36", "FIGURE", "suggested"),
        ("Ben Guerdane", "PLACE", "confirmed"), ("U.N.", "GROUP", "confirmed")]  # not "truce"
    essid = rows[0]
    assert (essid["article_hash"], essid["article_title"], essid["source"], essid["start"],
            essid["end"], essid["origin"], essid["decided_by"]) == (
        article.text_hash, "Attack", "TAP", "0", "11", "model", "alice")
    assert essid["decided_at"] == ""  # the factory does not set it


def test_csv_never_hands_a_spreadsheet_a_formula(db):
    text = "=SUM(A1) fell by -5 percent, @Essid said."
    article = ArticleFactory(text=text, title="+Gains", status=Article.Status.APPROVED)
    MentionFactory(article=article, **words(text, "=SUM(A1)"), label=label("GROUP"), status="confirmed")
    MentionFactory(article=article, **words(text, "-5 percent"), label=label("FIGURE"), status="confirmed")
    MentionFactory(article=article, **words(text, "@Essid"), status="confirmed")
    out, _ = run("export_annotations", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["text"] for r in rows] == ["'=SUM(A1)", "'-5 percent", "'@Essid"]
    assert {r["article_title"] for r in rows} == {"'+Gains"}


# =============================================================================================
# Which articles
# =============================================================================================

@pytest.mark.parametrize("format_", ["spacy", "prodigy", "csv"])
def test_by_default_only_approved_articles_are_exported(article, format_, tmp_path):
    submitted = ArticleFactory(status=Article.Status.SUBMITTED)
    MentionFactory(article=submitted, start=0, end=6, status="confirmed")

    def exported(*status: str) -> set[str]:
        path = tmp_path / f"out.{format_}"
        args = [arg for s in status for arg in ("--status", s)]
        run("export_annotations", "--format", format_, "-o", str(path), *args)
        if format_ == "spacy":
            return {doc.user_data["text_hash"] for doc in load_docs(path)}
        text = path.read_text(encoding="utf-8")
        if format_ == "prodigy":
            return {json.loads(line)["meta"]["text_hash"] for line in text.splitlines()}
        return {row["article_hash"] for row in csv.DictReader(io.StringIO(text))}

    assert exported() == {article.text_hash}
    assert exported("all") == {article.text_hash, submitted.text_hash}
    assert exported("submitted") == {submitted.text_hash}


def test_help_says_the_default_status(capsys):
    with pytest.raises(SystemExit):
        call_command("export_annotations", "--help")
    assert "Default: approved for spacy, prodigy and csv" in " ".join(capsys.readouterr().out.split())


def test_the_older_formats_still_export_every_article_by_default(article):
    ArticleFactory(status=Article.Status.NEW)
    out, _ = run("export_annotations", "--format", "jsonl")
    assert len(out.splitlines()) == 2


# =============================================================================================
# Queries
# =============================================================================================

def test_queries_do_not_grow_with_the_number_of_articles(db):
    def count(articles: int) -> int:
        Article.objects.all().delete()
        for n in range(articles):
            made = ArticleFactory(text=f"{n} {TEXT}", status=Article.Status.APPROVED)
            offset = len(f"{n} ")
            for phrase in ("Habib Essid", "Ben Guerdane", "U.N."):
                start = offset + TEXT.index(phrase)
                MentionFactory(article=made, start=start, end=start + len(phrase), status="confirmed")
            start = offset + TEXT.index("36 attackers")
            ClaimFactory(article=made, start=start, end=start + 12, status="confirmed")
        articles_qs = Article.objects.filter(status=Article.Status.APPROVED)
        with CaptureQueriesContext(connection) as queries:
            assert len(list(exporting.spacy_docs(articles_qs, chunk_size=100))) == articles
            assert len(list(exporting.prodigy_tasks(articles_qs, chunk_size=100))) == articles
            assert len(list(exporting.mention_rows(articles_qs, chunk_size=100))) == 3 * articles
            assert b"".join(exporting.spacy_zip(articles_qs, chunk_size=100))
        return len(queries)

    few, many = count(2), count(25)
    assert few == many <= 4 * 3, (few, many)


# =============================================================================================
# The download page
# =============================================================================================

@pytest.fixture
def admin_client(client, db):
    """An admin by the group's permissions alone, not a superuser."""
    client.force_login(UserFactory(username="ada", roles=["admin"]))
    return client


def download(client, **params):
    return client.get(reverse("annotation:download_export"), params)


@pytest.mark.urls(__name__)
def test_export_page_offers_formats_and_statuses(admin_client, article):
    response = admin_client.get(reverse("annotation:export_page"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'action="{reverse("annotation:download_export")}"' in html
    assert '<option value="spacy" selected>' in html
    assert '<option value="approved" selected>Approved (1)</option>' in html
    assert '<option value="all">All articles (1)</option>' in html
    assert '<option value="pretagged">Pre-tagged (0)</option>' in html


@pytest.mark.urls(__name__)
def test_admin_downloads_a_streamed_csv(admin_client, article):
    response = download(admin_client, format="csv", status="approved")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="sourcemark-csv-approved-')
    assert disposition.endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["text"] for r in rows] == ["Habib Essid", "36", "Ben Guerdane", "U.N."]


@pytest.mark.urls(__name__)
def test_admin_downloads_spacy_as_a_zip_of_shards(admin_client, gold_articles, tmp_path):
    response = download(admin_client, format="spacy", status="approved")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].endswith('.zip"')
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist() == ["part-0001.spacy", "misaligned.txt"]
    docs = load_docs(archive.read("part-0001.spacy"))
    assert [doc.user_data["text_hash"] for doc in docs] == [a.text_hash for a in gold_articles]
    assert len(archive.read("misaligned.txt").decode().splitlines()) == 6


@pytest.mark.urls(__name__)
def test_admin_downloads_prodigy_of_every_article(admin_client, article):
    ArticleFactory(status=Article.Status.NEW)
    response = download(admin_client, format="prodigy", status="all")
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["meta"]["text_hash"] == article.text_hash


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("params, message", [
    ({"format": "xml", "status": "approved"}, "“xml” is not a format: choose one of jsonl,"),
    ({"format": "csv", "status": "done"}, "“done” is not an article status: choose all or one of"),
    ({"status": "approved"}, "Choose a format."),
])
def test_bad_parameters_are_a_400_page_that_says_why(admin_client, db, params, message):
    response = download(admin_client, **params)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'id="export-errors"' in response.content.decode()


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("role", ["analyst", "reviewer"])
def test_analysts_and_reviewers_get_403(client, db, role):
    client.force_login(UserFactory(username=f"{role}-1", roles=[role]))
    assert client.get(reverse("annotation:export_page")).status_code == 403
    assert download(client, format="csv", status="approved").status_code == 403


@pytest.mark.urls(__name__)
def test_anonymous_visitor_is_sent_to_login(client, db):
    for url in (reverse("annotation:export_page"), reverse("annotation:download_export")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.urls(__name__)
def test_download_is_get_only(admin_client, db):
    assert admin_client.post(reverse("annotation:download_export"), {"format": "csv"}).status_code == 405


@pytest.mark.urls(__name__)
def test_download_queries_do_not_grow_with_the_number_of_articles(admin_client, db):
    def count(articles: int) -> int:
        Article.objects.all().delete()
        for n in range(articles):
            made = ArticleFactory(text=f"{n} {TEXT}", status=Article.Status.APPROVED)
            MentionFactory(article=made, start=0, end=1, label=label("FIGURE"), status="confirmed")
        with CaptureQueriesContext(connection) as queries:
            for format_ in ("spacy", "prodigy", "csv"):
                response = download(admin_client, format=format_, status="approved")
                assert b"".join(response.streaming_content)
        return len(queries)

    assert count(2) == count(30)

from django.db import migrations

# The four default labels (DESIGN.md). Colours are the Okabe–Ito palette, which stays
# distinguishable for the common kinds of colour blindness; each label also has a marker letter.
DEFAULT_LABELS = [
    ("ACTOR", "A named individual person", "#0072B2", "A", "1", ["PERSON"]),
    ("GROUP", "A named organisation or collective actor", "#D55E00", "G", "2", ["ORG", "NORP"]),
    ("PLACE", "A named location or facility", "#009E73", "P", "3", ["GPE", "LOC", "FAC"]),
    ("FIGURE", "A number that counts or measures something", "#CC79A7", "#", "4",
     ["CARDINAL", "QUANTITY", "PERCENT", "MONEY"]),
]


def create_labels(apps, schema_editor):
    Label = apps.get_model("annotation", "Label")
    for order, (name, description, colour, marker, key, spacy_labels) in enumerate(DEFAULT_LABELS):
        Label.objects.get_or_create(name=name, defaults={
            "description": description, "colour": colour, "marker": marker, "key": key,
            "spacy_labels": spacy_labels, "order": order})


class Migration(migrations.Migration):
    dependencies = [("annotation", "0001_initial")]
    operations = [migrations.RunPython(create_labels, migrations.RunPython.noop)]

"""config.links.url_for: reverse's address, built from a cached pattern."""

import pytest
from django.urls import clear_script_prefix, reverse, set_script_prefix

from config.links import url_for


@pytest.mark.parametrize("name", ["annotation:article_detail", "annotation:undo_decision",
                                  "annotation:add_mention", "corpus:batch_detail"])
@pytest.mark.parametrize("prefix", ["/", "/sourcemark/"])
def test_url_for_is_reverse_with_the_id_in_its_place(name, prefix):
    set_script_prefix(prefix)
    try:
        for pk in (1, 42, 987654321, 10**12):
            assert url_for(name, pk) == reverse(name, args=[pk])
        assert url_for(name, 7).startswith(prefix)
    finally:
        clear_script_prefix()

from django.urls import path

from annotation import claim_pages, claim_views, export_views, history, review_views, views

app_name = "annotation"
urlpatterns = [
    path("labels.css", views.label_css, name="label_css"),
    path("articles/<int:article_id>/", views.article_detail, name="article_detail"),
    path("articles/<int:article_id>/mentions/add/", views.add_mention, name="add_mention"),
    path("articles/<int:article_id>/history/", history.article_history, name="article_history"),
    path("articles/<int:article_id>/undo/", views.undo_decision, name="undo_decision"),
    path("articles/<int:article_id>/confirm-all/", views.confirm_all, name="confirm_all"),
    path("articles/<int:article_id>/submit/", views.submit_article, name="submit_article"),
    path("mentions/<int:mention_id>/confirm/", views.confirm_mention, name="confirm_mention"),
    path("mentions/<int:mention_id>/reject/", views.reject_mention, name="reject_mention"),
    path("mentions/<int:mention_id>/relabel/", views.relabel_mention, name="relabel_mention"),
    path("mentions/<int:mention_id>/resize/", views.resize_mention, name="resize_mention"),
    path("mentions/<int:mention_id>/delete/", views.delete_mention, name="delete_mention"),
    path("mentions/<int:mention_id>/link/accept/", views.accept_link, name="accept_link"),
    path("mentions/<int:mention_id>/link/clear/", views.clear_link, name="clear_link"),
    path("mentions/<int:mention_id>/link/change/", views.change_link, name="change_link"),
    path("articles/<int:article_id>/claims/add/", claim_views.add_claim, name="add_claim"),
    path("claims/<int:claim_id>/confirm/", claim_views.confirm_claim, name="confirm_claim"),
    path("claims/<int:claim_id>/reject/", claim_views.reject_claim, name="reject_claim"),
    path("claims/<int:claim_id>/resize/", claim_views.resize_claim, name="resize_claim"),
    path("claims/<int:claim_id>/span/", claim_views.span_claim, name="span_claim"),
    path("claims/<int:claim_id>/speaker/", claim_views.speaker_claim, name="speaker_claim"),
    path("claims/<int:claim_id>/cue/", claim_views.cue_claim, name="cue_claim"),
    path("claims/<int:claim_id>/grade/", claim_views.grade_claim, name="grade_claim"),
    path("claims/<int:claim_id>/delete/", claim_views.delete_claim, name="delete_claim"),
    path("claims/<int:claim_id>/link/", claim_views.link_claim, name="link_claim"),
    path("claims/<int:claim_id>/unlink/", claim_views.unlink_claim, name="unlink_claim"),
    path("claims/<int:claim_id>/links/", claim_views.claim_links, name="claim_links"),
    path("entities/<int:entity_id>/grade/", claim_views.grade_entity, name="grade_entity"),
    path("sources/<int:source_id>/grade/", claim_views.grade_source, name="grade_source"),
    path("entities/", views.entity_list, name="entity_list"),
    path("entities/<int:entity_id>/", views.entity_detail, name="entity_detail"),
    path("entities/<int:entity_id>/rename/", views.rename_entity, name="rename_entity"),
    path("entities/<int:entity_id>/merge/", views.merge_entity, name="merge_entity"),
    # Claim pages (annotation/claim_pages.py)
    path("claims/<int:claim_id>/", claim_pages.claim_detail, name="claim_detail"),
    path("figures/", claim_pages.figure_list, name="figure_list"),
    # Review (annotation/review_views.py)
    path("review/", review_views.review_list, name="review_list"),
    path("articles/<int:article_id>/review/", review_views.article_review, name="article_review"),
    path("articles/<int:article_id>/approve/", review_views.approve_article, name="approve_article"),
    path("articles/<int:article_id>/return/", review_views.return_article, name="return_article"),
    path("articles/<int:article_id>/reopen/", review_views.reopen_article, name="reopen_article"),
    path("mine/", review_views.my_articles, name="my_articles"),
    # Exports (admins)
    path("exports/", export_views.export_page, name="export_page"),
    path("exports/download/", export_views.download_export, name="download_export"),
    path("assignments/", review_views.assign_articles, name="assign_articles"),
]

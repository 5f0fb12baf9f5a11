from django.urls import path

from annotation import views

app_name = "annotation"
urlpatterns = [
    path("labels.css", views.label_css, name="label_css"),
    path("articles/<int:article_id>/", views.article_detail, name="article_detail"),
    path("articles/<int:article_id>/mentions/add/", views.add_mention, name="add_mention"),
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
    path("entities/", views.entity_list, name="entity_list"),
    path("entities/<int:entity_id>/", views.entity_detail, name="entity_detail"),
    path("entities/<int:entity_id>/rename/", views.rename_entity, name="rename_entity"),
    path("entities/<int:entity_id>/merge/", views.merge_entity, name="merge_entity"),
]

from django.urls import path

from annotation import views

app_name = "annotation"
urlpatterns = [
    path("labels.css", views.label_css, name="label_css"),
    path("articles/<int:article_id>/", views.article_detail, name="article_detail"),
    path("mentions/<int:mention_id>/confirm/", views.confirm_mention, name="confirm_mention"),
    path("mentions/<int:mention_id>/reject/", views.reject_mention, name="reject_mention"),
]

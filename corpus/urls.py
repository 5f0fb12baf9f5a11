from django.urls import path

from corpus import views

app_name = "corpus"
urlpatterns = [
    path("articles/", views.article_list, name="article_list"),
    path("search/", views.search, name="search"),
    path("imports/", views.import_list, name="import_list"),
    path("imports/<int:batch_id>/", views.batch_detail, name="batch_detail"),
    path("imports/<int:batch_id>/run/", views.rerun_batch, name="rerun_batch"),
]

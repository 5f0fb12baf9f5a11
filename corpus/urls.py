from django.urls import path

from corpus import views

app_name = "corpus"
urlpatterns = [
    path("articles/", views.article_list, name="article_list"),
    path("search/", views.search, name="search"),
]

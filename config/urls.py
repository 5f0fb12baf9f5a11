from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from config import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="corpus:article_list"), name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("sw.js", views.service_worker, name="service_worker"),
    path("admin/", admin.site.urls),
    path("", include("corpus.urls")),
    path("", include("annotation.urls")),
]

handler403 = "config.views.permission_denied"

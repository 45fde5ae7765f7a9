from django.urls import path

from mysite import views

urlpatterns = [
    path("", views.index),
    path("slow/", views.slow),
    path("pid/", views.pid),
    path("db/", views.db),
]

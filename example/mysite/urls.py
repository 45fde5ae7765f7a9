from django.urls import path

from mysite import views

urlpatterns = [
    path("", views.index),
    path("slow/", views.slow),
    path("pid/", views.pid),
    path("db/", views.db),
    # The benchmark's workloads (docs/backends/benchmarks.md) beside / and /db/.
    path("io/", views.io_wait),
    path("async-io/", views.async_io_wait),
    path("async-db/", views.async_db),
    path("page/", views.page),
]

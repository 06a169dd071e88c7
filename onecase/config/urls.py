from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("onecase.api.urls")),
    path("two-factor/", include("onecase.accounts.urls")),
    path("", include("onecase.web.urls")),
]

handler404 = "onecase.web.errors.not_found"
handler403 = "onecase.web.errors.forbidden"
handler500 = "onecase.web.errors.server_error"

from django.urls import path

from onecase.accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.two_factor_check, name="two_factor_verify"),
    path("setup/", views.two_factor_setup, name="two_factor_setup"),
]

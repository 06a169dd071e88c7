from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "onecase.accounts"
    label = "accounts"
    verbose_name = "Agencies, staff and roles"

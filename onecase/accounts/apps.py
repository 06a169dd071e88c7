from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "onecase.accounts"
    label = "accounts"
    verbose_name = "Agencies, staff and roles"

    def ready(self):
        from onecase.accounts import sign_in_audit  # noqa: F401  (sign-in, sign-out and failed sign-in are audited)

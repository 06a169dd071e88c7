from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "onecase.sharing"
    label = "sharing"
    verbose_name = "Sharing agreements, disclosure and audit"

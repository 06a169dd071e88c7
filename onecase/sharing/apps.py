from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "onecase.sharing"
    label = "sharing"
    verbose_name = "Sharing agreements, disclosure and audit"

    def ready(self):
        from onecase.sharing import checks  # noqa: F401  (registers the deployment checks)

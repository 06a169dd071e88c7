from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "onecase.web"
    label = "web"
    verbose_name = "Web pages"

    def ready(self):
        from onecase.web import admin_site, signals  # noqa: F401  (admin access rule, sign-in audit receivers)

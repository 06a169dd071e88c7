from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "onecase.web"
    label = "web"
    verbose_name = "Web pages"

    def ready(self):
        from onecase.web import admin_site  # noqa: F401  (admin access rule)

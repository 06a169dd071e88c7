from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "onecase.web"
    label = "web"
    verbose_name = "Web pages"

    def ready(self):
        from onecase.web import signals  # noqa: F401  (connects the sign-in audit receivers)

from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "onecase.web"
    label = "web"
    verbose_name = "Web pages"

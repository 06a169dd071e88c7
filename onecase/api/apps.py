from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "onecase.api"
    label = "api"
    verbose_name = "API v1"

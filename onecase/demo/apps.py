from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "onecase.demo"
    label = "demo"
    verbose_name = "Demo partnership"

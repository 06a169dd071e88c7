from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "onecase.imports"
    label = "imports"
    verbose_name = "Agency data imports"

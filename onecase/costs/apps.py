from django.apps import AppConfig


class CostsConfig(AppConfig):
    name = "onecase.costs"
    label = "costs"
    verbose_name = "Unit costs"

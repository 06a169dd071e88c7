from django.apps import AppConfig


class MeasuresConfig(AppConfig):
    name = "onecase.measures"
    label = "measures"
    verbose_name = "Measures"

from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "onecase.reports"
    label = "reports"
    verbose_name = "Reports"

from django.apps import AppConfig


class LinkageConfig(AppConfig):
    name = "onecase.linkage"
    label = "linkage"
    verbose_name = "Identity linkage: people and households"

from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "onecase.people"
    label = "people"
    verbose_name = "Agency people, people, households and addresses"

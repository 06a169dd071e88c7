from django.apps import AppConfig


class PlacesConfig(AppConfig):
    name = "onecase.places"
    label = "places"
    verbose_name = "Place-based data"

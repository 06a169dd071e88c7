from django.apps import AppConfig


class MeetingsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "onecase.meetings"
    label = "meetings"
    verbose_name = "Multi-agency meetings"

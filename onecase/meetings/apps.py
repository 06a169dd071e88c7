from django.apps import AppConfig


class MeetingsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "onecase.meetings"
    label = "meetings"
    verbose_name = "Multi-agency meetings"

    def ready(self):
        from onecase.meetings.selectors import meeting_work_purposes
        from onecase.sharing.purposes import purpose_source

        # A meeting's agenda carries the purpose of its type (MARAC: safety planning) into disclosures.
        purpose_source(meeting_work_purposes)

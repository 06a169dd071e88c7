from django.apps import AppConfig


def _break_glass_defaults(sender, *, actor, agency, **kwargs):
    from onecase.sharing.services import break_glass_roles_default

    break_glass_roles_default(actor=actor, agency=agency)


class SharingConfig(AppConfig):
    name = "onecase.sharing"
    label = "sharing"
    verbose_name = "Sharing agreements, disclosure and audit"

    def ready(self):
        from onecase.accounts.signals import agency_created
        from onecase.sharing import checks  # noqa: F401  (registers the deployment checks)

        # accounts sits below sharing, so a new agency's settings here answer its signal.
        agency_created.connect(_break_glass_defaults, dispatch_uid="sharing.break_glass_defaults")

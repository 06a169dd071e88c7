from django.apps import AppConfig


class CasesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "onecase.cases"
    verbose_name = "Cases"

    def ready(self):
        from onecase.cases.selectors import case_work_purposes, key_workers_for
        from onecase.contacts.demand import key_workers_from
        from onecase.sharing.purposes import purpose_source

        # The demand ranking names each live case's key worker, and a case's subject needs no owner.
        key_workers_from(key_workers_for)
        # Cases carry key work, and pull-ins their own purpose, into disclosures.
        purpose_source(case_work_purposes)

from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "onecase.contacts"
    label = "contacts"
    verbose_name = "The demand ledger"

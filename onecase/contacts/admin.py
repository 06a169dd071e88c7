from django.contrib import admin

from onecase.contacts.models import Contact
from onecase.people.admin import ReadOnlyAdmin


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdmin):
    list_display = ("record_id", "agency", "occurred_at", "contact_type", "outcome")
    list_filter = ("agency",)
    list_select_related = ("agency",)
    search_fields = ("record_id",)
    date_hierarchy = "occurred_at"
    raw_id_fields = ("agency_person", "address")
    readonly_fields = ("imported_at", "updated_at")
    show_full_result_count = False

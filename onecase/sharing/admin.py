from django.contrib import admin

from onecase.sharing.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail is append-only: it can be read here, never added to, changed or deleted."""

    list_display = ("at", "username", "agency_code", "role", "action", "object_type", "object_id", "ip")
    list_filter = ("action", "object_type", "agency_code")
    search_fields = ("username", "object_id")
    date_hierarchy = "at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

from django.contrib import admin

from onecase.imports.models import ImportJob


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """Read-only: jobs are created from an upload (which checks the file) and moved on by the worker."""

    list_display = ("id", "original_name", "agency", "status", "created_by", "total_rows", "created_at")
    list_filter = ("status", "agency")
    list_select_related = ("agency", "created_by")
    search_fields = ("original_name",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

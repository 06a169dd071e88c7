"""Admin pages for partnership administrators: the hourly rate table, series and meetings.

Every save is audited. Agendas, research, decisions and minutes are written on the meeting
pages, never here.
"""

from django.contrib import admin

from onecase.meetings.models import AttendeeRole, Meeting, Series
from onecase.meetings.rules import may_create_series
from onecase.sharing.models import AuditEvent
from onecase.sharing.services import audit_record, client_ip


class PartnershipAdmin(admin.ModelAdmin):
    object_type = ""

    def has_module_permission(self, request):
        return may_create_series(request.user)

    def has_view_permission(self, request, obj=None):
        return may_create_series(request.user)

    def has_add_permission(self, request):
        return may_create_series(request.user)

    def has_change_permission(self, request, obj=None):
        return may_create_series(request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # costs and agendas refer to them

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit_record(user=request.user, action=AuditEvent.Action.CHANGE, object_type=self.object_type,
                     object_id=obj.pk, ip=client_ip(request), detail={"admin": "changed" if change else "added"})


@admin.register(AttendeeRole)
class AttendeeRoleAdmin(PartnershipAdmin):
    """The hourly rate of each role around the table: meeting costs are hours × these rates."""

    object_type = "attendee_role"
    list_display = ("name", "code", "hourly_rate_gbp", "order")
    list_editable = ("hourly_rate_gbp", "order")
    search_fields = ("name", "code")


@admin.register(Series)
class SeriesAdmin(PartnershipAdmin):
    object_type = "meeting_series"
    list_display = ("name", "kind", "chair_agency")
    list_filter = ("kind",)
    filter_horizontal = ("members",)


@admin.register(Meeting)
class MeetingAdmin(PartnershipAdmin):
    object_type = "meeting"
    list_display = ("series", "held_on", "status")
    list_filter = ("status", "series")
    date_hierarchy = "held_on"
    fields = ("series", "held_on", "status")

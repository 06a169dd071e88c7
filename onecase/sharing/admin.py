from django.contrib import admin

from onecase.sharing.models import Agreement, AgreementParty, AuditEvent
from onecase.sharing.rules import may_manage_agreements, may_read_audit
from onecase.sharing.services import agreement_revoke, audit_record, client_ip


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail is append-only: it can be read here, never added to, changed or deleted."""

    list_display = ("at", "username", "agency_code", "role", "action", "object_type", "object_id", "ip")
    list_filter = ("action", "object_type", "agency_code")
    search_fields = ("username", "object_id")
    date_hierarchy = "at"
    show_full_result_count = False

    def has_module_permission(self, request):
        return may_read_audit(request.user)

    def has_view_permission(self, request, obj=None):
        return may_read_audit(request.user)

    def get_queryset(self, request):
        from onecase.sharing.selectors import audit_events_visible_to

        return audit_events_visible_to(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AgreementPartyInline(admin.TabularInline):
    model = AgreementParty
    extra = 2
    autocomplete_fields = ()


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    """Information sharing agreements, kept by partnership administrators.

    Writing a reason in "revoked reason" revokes the agreement: the very next request that
    relied on it is refused. Every save is audited, and PostgreSQL keeps the change history.
    """

    inlines = [AgreementPartyInline]
    list_display = ("reference", "title", "lawful_basis", "starts_on", "ends_on", "review_on", "revoked_at")
    list_filter = ("lawful_basis",)
    search_fields = ("reference", "title")
    readonly_fields = ("revoked_at", "created_at")

    def has_module_permission(self, request):
        return may_manage_agreements(request.user)

    def has_view_permission(self, request, obj=None):
        return may_manage_agreements(request.user)

    def has_add_permission(self, request):
        return may_manage_agreements(request.user)

    def has_change_permission(self, request, obj=None):
        return may_manage_agreements(request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # agreements are revoked, never deleted

    def save_model(self, request, obj, form, change):
        revoking = change and obj.revoked_reason and obj.revoked_at is None
        super().save_model(request, obj, form, change)
        if revoking:
            agreement_revoke(actor=request.user, agreement=obj, reason=obj.revoked_reason)
        else:
            audit_record(user=request.user, action=AuditEvent.Action.CHANGE, object_type="agreement",
                         object_id=obj.pk, ip=client_ip(request), detail={"admin": "changed" if change else "added"})

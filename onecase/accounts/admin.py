from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied

from onecase.accounts.models import Agency, User
from onecase.accounts.services import user_deactivate
from onecase.accounts.signals import agency_created
from onecase.audit.services import client_ip


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "sector", "created_at")
    list_filter = ("sector",)
    search_fields = ("name", "code")
    ordering = ("name",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            agency_created.send(sender=Agency, actor=request.user, agency=obj)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Agency and role", {"fields": ("agency", "role")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("Agency and role", {"classes": ("wide",), "fields": ("agency", "role")}),
    )
    list_display = ("username", "agency", "role", "is_active", "is_staff", "last_login")
    list_filter = ("role", "agency", "is_active", "is_staff", "is_superuser")
    list_select_related = ("agency",)
    actions = ["deactivate"]

    # Staff are switched off, never deleted: the audit trail keeps who did what.
    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Switch off the selected accounts")
    def deactivate(self, request, queryset):
        done = refused = 0
        for user in queryset:
            try:
                user_deactivate(actor=request.user, user=user, ip=client_ip(request))
            except PermissionDenied:
                refused += 1
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} account{'s' if done != 1 else ''} switched off.", messages.SUCCESS)
        if refused:
            self.message_user(request, f"{refused} account{'s' if refused != 1 else ''} not switched off: "
                              "you cannot switch off your own account or another agency's.", messages.WARNING)

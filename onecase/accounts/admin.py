from contextvars import ContextVar

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.core.exceptions import PermissionDenied

from onecase.accounts.models import Agency, User
from onecase.accounts.services import (
    USER_FIELDS,
    agency_create,
    user_create,
    user_deactivate,
    user_password_set,
    user_update,
)
from onecase.audit.services import client_ip


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "sector", "created_at")
    list_filter = ("sector",)
    search_fields = ("name", "code")
    ordering = ("name",)

    def get_readonly_fields(self, request, obj=None):
        return ("code", "created_at") if obj is not None else ("created_at",)  # imports key on the code

    def has_delete_permission(self, request, obj=None):
        return False  # records, cases and the audit trail refer to it

    def save_model(self, request, obj, form, change):
        saved = agency_create(actor=request.user, code=obj.code, name=obj.name, sector=obj.sector,
                              contact_route=obj.contact_route)
        obj.pk, obj.code = saved.pk, saved.code


# The request whose administrator is setting a password: Django's password page builds the form
# without it.
_password_request: ContextVar = ContextVar("password_request")


class PasswordForm(AdminPasswordChangeForm):
    """Django's set-password form, saved by ``user_password_set`` (audited)."""

    def save(self, commit=True):
        request = _password_request.get()
        password = self.cleaned_data["password1"] if self.cleaned_data.get("set_usable_password", True) else None
        return user_password_set(actor=request.user, user=self.user, password=password, ip=client_ip(request))


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    change_password_form = PasswordForm
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

    def save_model(self, request, obj, form, change):
        """Accounts are created by ``user_create`` and changed by ``user_update``, both audited."""
        if not change:
            usable = form.cleaned_data.get("set_usable_password", True)
            password = (form.cleaned_data.get("password1") or None) if usable else None
            obj.pk = user_create(actor=request.user, username=obj.username, agency=obj.agency, role=obj.role,
                                 password=password, email=obj.email, ip=client_ip(request)).pk
            return
        fields = {name: form.cleaned_data[name] for name in form.changed_data if name in USER_FIELDS}
        user_update(actor=request.user, user=obj, ip=client_ip(request), **fields)  # refused: 403

    def user_change_password(self, request, id, form_url=""):
        token = _password_request.set(request)
        try:
            return super().user_change_password(request, id, form_url)
        finally:
            _password_request.reset(token)

    def save_related(self, request, form, formsets, change):
        pass  # groups and permissions are saved by user_update; the add form has none

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

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from onecase.accounts.models import Agency, User


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "sector", "created_at")
    list_filter = ("sector",)
    search_fields = ("name", "code")
    ordering = ("name",)


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

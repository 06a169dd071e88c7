"""Django's admin pages, open to staff and to partnership administrators (for agreements)."""

from django.contrib import admin

from onecase.accounts.rules import sees_whole_partnership
from onecase.sharing.rules import may_read_audit


def _has_permission(request) -> bool:
    user = request.user
    return bool(user.is_active and (user.is_staff or sees_whole_partnership(user) or may_read_audit(user)))


admin.site.has_permission = _has_permission
admin.site.site_header = "OneCase administration"
admin.site.site_title = "OneCase administration"

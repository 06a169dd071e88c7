"""Agencies and staff, scoped to what the signed-in user may see."""

from django.db.models import Q, QuerySet

from onecase.accounts.models import Agency, ApiToken, Role
from onecase.accounts.rules import IMPORT_ROLES, is_staff_member, sees_whole_partnership


def agencies_visible_to(user) -> QuerySet[Agency]:
    """Agencies whose records ``user`` may see: all for the partnership, otherwise their own."""
    if not is_staff_member(user):
        return Agency.objects.none()
    if sees_whole_partnership(user):
        return Agency.objects.all()
    return Agency.objects.filter(pk=user.agency_id)


def import_agencies_for(user) -> QuerySet[Agency]:
    """Agencies ``user`` may import for (the same rule as ``may_import_for``)."""
    if sees_whole_partnership(user):
        return Agency.objects.all()
    if is_staff_member(user) and user.role in IMPORT_ROLES:
        return Agency.objects.filter(pk=user.agency_id)
    return Agency.objects.none()


def authenticator_being_set_up(user):
    """The user's own authenticator that is set up but not yet confirmed with a code, or None."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if not is_staff_member(user):
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()


def api_tokens_visible_to(user) -> QuerySet[ApiToken]:
    """API tokens ``user`` may see and revoke (the same rule as ``may_revoke_token``).

    Everyone sees their own; agency administrators their agency's; partnership administrators all.
    """
    if not is_staff_member(user):
        return ApiToken.objects.none()
    tokens = ApiToken.objects.select_related("user", "user__agency")
    if sees_whole_partnership(user):
        return tokens
    if user.role == Role.AGENCY_ADMIN and user.agency_id is not None:
        return tokens.filter(Q(user=user) | Q(user__agency_id=user.agency_id))
    return tokens.filter(user=user)

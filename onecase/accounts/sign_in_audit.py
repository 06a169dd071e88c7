"""Sign-in, sign-out and failed sign-in go to the audit trail (never the password)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from onecase.accounts.sign_in import typed_username_hash
from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record, client_ip


@receiver(user_logged_in, dispatch_uid="onecase.accounts.audit_sign_in")
def audit_sign_in(sender, request, user, **kwargs):
    audit_record(user=user, action=AuditEvent.Action.SIGN_IN, object_type="user", object_id=user.pk,
                 ip=client_ip(request))


@receiver(user_logged_out, dispatch_uid="onecase.accounts.audit_sign_out")
def audit_sign_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(user=user, action=AuditEvent.Action.SIGN_OUT, object_type="user", object_id=user.pk,
                     ip=client_ip(request))


@receiver(user_login_failed, dispatch_uid="onecase.accounts.audit_sign_in_failed")
def audit_sign_in_failed(sender, credentials, request=None, **kwargs):
    # ``credentials`` has the password masked already. The typed username is kept only as a
    # keyed hash: it may be a password typed into the wrong box. A matching account is linked.
    username = str(credentials.get("username", ""))[:150]
    account = get_user_model().objects.filter(username=username).first() if username else None
    audit_record(
        user=account,
        action=AuditEvent.Action.SIGN_IN_FAILED,
        object_type="user",
        object_id=account.pk if account else "",
        ip=client_ip(request),
        detail={"username_hash": typed_username_hash(username), "known_account": account is not None},
    )

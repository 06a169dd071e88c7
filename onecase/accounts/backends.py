"""Password sign-in: Django's model backend, refusing the published demo password in production."""

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from onecase.accounts.rules import refuses_demo_password
from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record, client_ip

# Read by the sign-in form, to say why instead of "wrong password".
DEMO_REFUSED = "onecase_demo_credentials_refused"


class AccountBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and refuses_demo_password(password):
            audit_record(user=user, action=AuditEvent.Action.REFUSED, object_type="user", object_id=user.pk,
                         ip=client_ip(request), detail={"demo_credentials": "password"})
            if request is not None:
                setattr(request, DEMO_REFUSED, True)
            raise PermissionDenied("Demo passwords cannot sign in when ONECASE_ENV=production.")
        return user

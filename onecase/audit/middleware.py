"""Every refused request by a signed-in user is audited (403 and 404 alike)."""

from onecase.audit.models import AuditEvent
from onecase.audit.services import audit_record, client_ip

REFUSED = {403, 404, 405}


class AuditRefusalMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if response.status_code in REFUSED and user is not None and user.is_authenticated:
            audit_record(
                user=user,
                action=AuditEvent.Action.REFUSED,
                object_type="request",
                ip=client_ip(request),
                detail={"status": response.status_code, "method": request.method, "path": request.path[:300]},
            )
        return response

"""Error pages: the service's own GOV.UK pages for people, JSON for the API.

Wired as ``handler404``, ``handler403`` and ``handler500`` in ``onecase.config.urls``. They are what
people see whenever DEBUG is off (``make demo`` and production): never Django's technical pages, which
list the URL patterns.
"""

from django.http import JsonResponse
from django.views import defaults


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def forbidden(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "You do not have permission to do this."}, status=403)
    return defaults.permission_denied(request, exception)


def server_error(request):
    """Rendered without the request's context, so that a failing database or session cannot fail it too."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Sorry, there is a problem with the service. Try again later."}, status=500)
    return defaults.server_error(request)

"""Session and sign-in security applied to every request.

- Two-factor: a signed-in user who has not verified a TOTP code this session is sent to
  set one up or enter one; nothing else is served to them (API: 403).
- Session lifetime: 30 minutes idle (SESSION_COOKIE_AGE) and 10 hours from sign-in, whatever the
  activity. The idle clock is pushed on at most once a minute (SESSION_REFRESH_SECONDS), so a
  busy user's requests do not each write their session: on SQLite that write would queue behind
  any long import.
- No caching of anything served to a signed-in user: it may hold personal data.
"""

import time

from django.conf import settings
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django_htmx.http import HttpResponseClientRedirect

SIGNED_IN_AT = "onecase_signed_in_at"
REFRESHED_AT = "onecase_refreshed_at"

# Paths a signed-in but not yet verified user may still reach.
TWO_FACTOR_ALLOWLIST = ("/sign-in/", "/sign-out/", "/two-factor/", "/static/", "/favicon.ico")


def _absolute_limit() -> int:
    return int(getattr(settings, "ONECASE_SESSION_ABSOLUTE_SECONDS", 10 * 60 * 60))


def _refresh_every() -> int:
    return int(getattr(settings, "SESSION_REFRESH_SECONDS", 60))


class SessionLifetimeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            started = request.session.get(SIGNED_IN_AT)
            if started is None:
                request.session[SIGNED_IN_AT] = request.session[REFRESHED_AT] = now
            elif now - started > _absolute_limit():
                logout(request)
                target = f"{reverse('web:login')}?expired=1"
                # An htmx poll must move the whole page, not put the sign-in form in a fragment.
                return HttpResponseClientRedirect(target) if getattr(request, "htmx", False) else redirect(target)
            elif now - request.session.get(REFRESHED_AT, 0) >= _refresh_every():
                request.session[REFRESHED_AT] = now  # saving the session pushes its idle expiry on
        return self.get_response(request)


class RequireTwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not user.is_verified()
            and not request.path.startswith(TWO_FACTOR_ALLOWLIST)
        ):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "Two-factor authentication is required."}, status=403)
            from django_otp import devices_for_user

            target = "accounts:two_factor_verify" if any(devices_for_user(user)) else "accounts:two_factor_setup"
            return redirect(f"{reverse(target)}?next={request.get_full_path()}")
        return self.get_response(request)


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or request.path.startswith("/api/"):
            patch_cache_control(response, no_store=True, private=True, max_age=0)
        return response

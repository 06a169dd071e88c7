"""Two-factor authentication pages: set up a TOTP authenticator, and verify a code."""

from base64 import b32encode
from urllib.parse import urlencode

import qrcode
import qrcode.image.svg
from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods
from django_otp import devices_for_user
from django_otp import login as otp_login

from onecase.accounts.rules import refuses_demo_device
from onecase.accounts.selectors import authenticator_being_set_up
from onecase.accounts.services import two_factor_confirm, two_factor_device_create, two_factor_verify
from onecase.audit.services import client_ip

DEMO_KEY_REFUSED = (
    "Your authenticator uses the published demo key, which cannot be used on this system. "
    "Ask your agency administrator to reset your two-factor authentication"
)


class CodeForm(forms.Form):
    code = forms.RegexField(
        regex=r"^\s*\d{6}\s*$",
        label="Code from your authenticator app",
        help_text="The 6-digit code, for example 123456",
        error_messages={"required": "Enter the 6-digit code", "invalid": "Enter the 6 digits of the code"},
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}),
    )


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/"
    return target


def _qr_svg(url: str) -> str:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_setup(request):
    """First sign-in: a button makes the secret key (a GET writes nothing), then the QR code and
    secret are shown until a code from the app confirms them."""
    if any(devices_for_user(request.user, confirmed=True)):
        return redirect(f"/two-factor/?next={_next(request)}")
    if request.method == "POST" and request.POST.get("start"):
        two_factor_device_create(actor=request.user, ip=client_ip(request))
        return redirect(f"{reverse('accounts:two_factor_setup')}?{urlencode({'next': _next(request)})}")
    device = authenticator_being_set_up(request.user)
    if device is None:
        return render(request, "accounts/two_factor_setup.html", {"next": _next(request)})
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if two_factor_confirm(actor=request.user, device=device, code=form.cleaned_data["code"].strip(),
                              ip=client_ip(request)):
            otp_login(request, device)
            return redirect(_next(request))
        form.add_error("code", "The code is not right. Check the time on your phone and try the newest code")
    secret = b32encode(device.bin_key).decode().rstrip("=")
    context = {
        "device": device,
        "form": form,
        "next": _next(request),
        "qr_svg": mark_safe(_qr_svg(device.config_url)),  # noqa: S308  # nosec B308 B703
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
    }
    return render(request, "accounts/two_factor_setup.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_check(request):
    """Every sign-in: enter the current code from the authenticator app."""
    if not any(devices_for_user(request.user, confirmed=True)):
        return redirect(f"/two-factor/setup/?next={_next(request)}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = two_factor_verify(actor=request.user, code=form.cleaned_data["code"].strip(), ip=client_ip(request))
        if device is not None:
            otp_login(request, device)
            return redirect(_next(request))
        if any(refuses_demo_device(d) for d in devices_for_user(request.user, confirmed=True)):
            form.add_error("code", DEMO_KEY_REFUSED)
        else:
            form.add_error("code", "The code is not right. Try the newest code from your authenticator app")
    return render(request, "accounts/two_factor_verify.html", {"form": form, "next": _next(request)})

"""API tokens: list your own (and, for administrators, your agency's), create one, revoke one."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import match_token

from onecase.accounts.rules import is_staff_member
from onecase.accounts.selectors import api_tokens_visible_to
from onecase.accounts.services import TOKEN_DAYS_MAX, TOKEN_NAME_MAX, token_create, token_revoke
from onecase.sharing.services import client_ip


class TokenForm(forms.Form):
    name = forms.CharField(
        label="Name", max_length=TOKEN_NAME_MAX,
        help_text="What the token is for, so you can tell it apart later. For example: case system import",
        error_messages={"required": "Enter a name for the token",
                        "max_length": f"The name must be {TOKEN_NAME_MAX} characters or fewer"},
    )
    days = forms.IntegerField(
        label="Days until it stops working", min_value=1, max_value=TOKEN_DAYS_MAX,
        error_messages={"required": "Enter the number of days", "invalid": "Enter the number of days as a number",
                        "min_value": "Enter at least 1 day",
                        "max_value": f"Enter {TOKEN_DAYS_MAX} days or fewer"},
    )
    code = forms.RegexField(
        regex=r"^\s*\d{6}\s*$", label="Code from your authenticator app",
        help_text="Enter a new code to confirm it is you, even though you signed in with one",
        error_messages={"required": "Enter the 6-digit code", "invalid": "Enter the 6 digits of the code"},
    )


def _staff(request):
    if not is_staff_member(request.user):
        raise PermissionDenied("Only staff accounts have API tokens.")
    return request.user


@login_required
@require_GET
def api_tokens(request):
    """The user's API tokens, and for administrators the tokens of the staff they look after."""
    user = _staff(request)
    tokens = list(api_tokens_visible_to(user))
    return render(request, "web/tokens/list.html", {
        "mine": [t for t in tokens if t.user_id == user.pk],
        "others": [t for t in tokens if t.user_id != user.pk],
    })


@login_required
@require_http_methods(["GET", "POST"])
def api_token_new(request):
    """Create a token after a fresh two-factor code; the secret is shown on this response only."""
    user = _staff(request)
    form = TokenForm(request.POST or None, initial={"days": settings.ONECASE_API_TOKEN_DAYS})
    if request.method == "POST" and form.is_valid():
        if match_token(user, form.cleaned_data["code"].strip()) is None:
            form.add_error("code", "The code is not right. Wait for a new code and try again")
        else:
            try:
                token, secret = token_create(actor=user, user=user, name=form.cleaned_data["name"],
                                             days=form.cleaned_data["days"], ip=client_ip(request))
            except ValidationError as exc:
                form.add_error("name", exc)
            else:
                return render(request, "web/tokens/created.html", {"token": token, "secret": secret})
    return render(request, "web/tokens/new.html", {"form": form})


@login_required
@require_POST
def api_token_revoke(request, pk: int):
    """Revoke a token the user may see; any other token id is not found."""
    token = get_object_or_404(api_tokens_visible_to(_staff(request)), pk=pk)
    name = token.name
    token_revoke(actor=request.user, token=token, ip=client_ip(request))
    messages.success(request, f"The API token “{name}” has been revoked. It no longer works.")
    return redirect("web:api_tokens")

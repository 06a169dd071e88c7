from pathlib import Path

from crispy_forms_gds.helper import FormHelper
from crispy_forms_gds.layout import Field, Layout
from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from onecase.accounts.backends import DEMO_REFUSED
from onecase.accounts.rules import may_import_for
from onecase.accounts.selectors import import_agencies_for
from onecase.imports.jobs import MAX_UPLOAD_BYTES, UPLOAD_SUFFIXES

AGENCY_IN_FILE = "in-file"


def _helper(*fields) -> FormHelper:
    helper = FormHelper()
    helper.form_tag = False  # the templates write the <form>, its CSRF token and button
    helper.disable_csrf = True
    helper.layout = Layout(*fields)
    return helper


DEMO_SIGN_IN_REFUSED = (
    "This is the published demo password, which cannot be used on this system. "
    "Ask your agency administrator to set you a new password."
)


class SignInForm(AuthenticationForm):
    error_messages = {
        "invalid_login": "Enter a correct username and password. Both are case-sensitive.",
        "inactive": "This account has been switched off. Ask your agency administrator.",
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        username, password = self.fields["username"], self.fields["password"]
        username.error_messages["required"] = "Enter your username"
        password.error_messages["required"] = "Enter your password"
        username.widget.attrs.pop("autofocus", None)
        username.widget.attrs.update({"autocomplete": "username", "spellcheck": "false", "autocapitalize": "none"})
        password.widget.attrs.update({"autocomplete": "current-password"})
        self.helper = _helper(Field.text("username", field_width=20), Field.text("password", field_width=20))

    def get_invalid_login_error(self):
        if getattr(self.request, DEMO_REFUSED, False):
            return ValidationError(DEMO_SIGN_IN_REFUSED, code="demo_credentials")
        return super().get_invalid_login_error()


class UploadForm(forms.Form):
    agency = forms.ChoiceField(
        label="Agency",
        help_text="The agency whose records are in the file.",
        error_messages={
            "required": "Select the agency the file belongs to",
            "invalid_choice": "Select the agency the file belongs to",
        },
    )
    file = forms.FileField(
        label="Upload a file",
        help_text="A CSV or Excel (.xlsx) file in the contact format, smaller than 200 MB.",
        error_messages={
            "required": "Select a CSV or XLSX file",
            "empty": "The selected file is empty",
            "invalid": "Select a CSV or XLSX file",
        },
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(agency.code, agency.name) for agency in import_agencies_for(user).order_by("name")]
        if may_import_for(user, None):
            choices.append((AGENCY_IN_FILE, "Named in the file (agency column)"))
        if len(choices) != 1:
            choices.insert(0, ("", "Choose an agency"))
        self.fields["agency"].choices = choices
        self.fields["file"].widget = forms.ClearableFileInput(attrs={"accept": ",".join(UPLOAD_SUFFIXES)})
        self.helper = _helper(Field.select("agency"), Field("file"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name or "").suffix.lower() not in UPLOAD_SUFFIXES:
            raise forms.ValidationError("The selected file must be a CSV or XLSX file")
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The selected file must be smaller than 200 MB")
        return upload

    @property
    def agency_code(self) -> str | None:
        """The chosen agency's code, or None when each row names its agency."""
        code = self.cleaned_data["agency"]
        return None if code == AGENCY_IN_FILE else code


class PeriodForm(forms.Form):
    """An optional date range (inclusive), as the demand pages filter by."""

    since = forms.DateField(label="From", required=False, help_text="For example, 2025-04-01")
    until = forms.DateField(label="To", required=False, help_text="For example, 2026-03-31")

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            self.add_error("until", "The end date must be the same as or after the start date")
        return data


MAX_CASE_FILE_BYTES = 5 * 1024 * 1024  # imported in the request; larger files: `onecase import_cases`


class CaseImportForm(forms.Form):
    file = forms.FileField(
        label="Upload a file",
        help_text="A CSV file in the case format, smaller than 5 MB.",
        error_messages={
            "required": "Select a CSV file",
            "empty": "The selected file is empty",
            "invalid": "Select a CSV file",
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].widget = forms.ClearableFileInput(attrs={"accept": ".csv"})
        self.helper = _helper(Field("file"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name or "").suffix.lower() != ".csv":
            raise forms.ValidationError("The selected file must be a CSV file")
        if upload.size > MAX_CASE_FILE_BYTES:
            raise forms.ValidationError("The selected file must be smaller than 5 MB; import larger files with "
                                        "the import_cases command")
        return upload

"""Upload historical cases from the old system (partnership administrators); imported in the request."""

import tempfile
from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from onecase.audit.services import client_ip
from onecase.cases.rules import may_import_cases
from onecase.cases.services import cases_import
from onecase.imports.services import ImportRejected
from onecase.web.forms import CaseImportForm


@login_required
@require_http_methods(["GET", "POST"])
def case_import(request):
    if not may_import_cases(request.user):
        raise PermissionDenied("Only partnership administrators may import cases.")
    form = CaseImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        with tempfile.TemporaryDirectory(prefix="onecase-cases-") as folder:
            path = Path(folder) / "cases.csv"
            with path.open("wb") as target:
                for chunk in upload.chunks():
                    target.write(chunk)
            try:
                result = cases_import(actor=request.user, path=path, name=Path(upload.name).name,
                                      ip=client_ip(request))
            except IntegrityError:
                # Another upload of the same cases committed first; this one kept nothing.
                form.add_error("file", "Another import of these cases finished while this one ran, so nothing from "
                                       "this upload was kept. Upload the file again: the cases already imported "
                                       "will be left as they are")
            except ImportRejected as exc:
                form.add_error("file", "The file was not imported; nothing from it was kept")
                for problem in exc.problems:
                    form.add_error("file", _sentence(str(problem)))
                if exc.more:
                    form.add_error("file", "There are more problems; fix these and upload the file again")
            else:
                cases = "case" if result.created == 1 else "cases"
                text = f"{result.created} {cases} imported, {result.unchanged} unchanged (imported before)."
                for warning in result.warnings:
                    text += f" Note: {warning}."
                messages.success(request, text)
                return redirect("web:case_import")
    return render(request, "web/cases/import.html", {"form": form})


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]

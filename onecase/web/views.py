from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from onecase.accounts.selectors import import_agencies_for
from onecase.imports.jobs import (
    job_create,
    job_preview_viewed,
    job_progress,
    job_sample,
    job_start,
    jobs_recover,
    jobs_visible_to,
)
from onecase.imports.models import ImportJob
from onecase.imports.rules import may_start_job
from onecase.reports.selectors import agency_counts_for
from onecase.sharing.services import client_ip
from onecase.web.forms import SignInForm, UploadForm

JOBS_PER_PAGE = 50


class SignInView(auth_views.LoginView):
    template_name = "web/login.html"
    form_class = SignInForm
    redirect_authenticated_user = True


class SignOutView(auth_views.LogoutView):
    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.success(request, "You have signed out.")
        return response


@login_required
@require_GET
def home(request):
    """Counts per agency the user may see, with a totals row."""
    rows = agency_counts_for(request.user)
    totals = {
        "contacts": sum(row["contacts"] for row in rows),
        "source_people": sum(row["source_people"] for row in rows),
    }
    may_upload = import_agencies_for(request.user).exists()
    return render(request, "web/home.html", {"rows": rows, "totals": totals, "may_upload": may_upload})


@login_required
@require_GET
def import_list(request):
    jobs_recover(page=True)  # so that a job whose worker died is shown as failed
    jobs = jobs_visible_to(request.user).select_related("agency", "created_by")
    page = Paginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    may_upload = import_agencies_for(request.user).exists()
    return render(request, "web/imports/list.html", {"page": page, "may_upload": may_upload})


@login_required
@require_http_methods(["GET", "POST"])
def import_new(request):
    if not import_agencies_for(request.user).exists():
        raise PermissionDenied("Only agency and partnership administrators may upload contacts.")
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            job = job_create(actor=request.user, upload=form.cleaned_data["file"], agency_code=form.agency_code)
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            return redirect("web:import_detail", pk=job.pk)
    return render(request, "web/imports/new.html", {"form": form})


@login_required
@require_GET
def import_detail(request, pk: int):
    jobs_recover(page=True)
    job = get_object_or_404(jobs_visible_to(request.user).select_related("agency", "created_by"), pk=pk)
    sample = None
    if job.status == ImportJob.Status.PREVIEWED:
        sample = job_sample(job)
        if sample and sample["rows"]:
            job_preview_viewed(actor=request.user, job=job, rows_shown=len(sample["rows"]), ip=client_ip(request))
    context = {
        "job": job,
        "sample": sample,
        "progress": job_progress(job),
        "may_start": may_start_job(request.user, job),
        "problems": job.errors if job.status in (ImportJob.Status.REJECTED, ImportJob.Status.FAILED) else [],
    }
    return render(request, "web/imports/detail.html", context)


@require_GET
def import_status(request, pk: int):
    """The progress region, polled by htmx while the job is active."""
    if not request.user.is_authenticated:
        # A plain redirect would put the sign-in page inside the progress region.
        login = redirect_to_login(reverse("web:import_detail", args=[pk]))
        if request.htmx:
            return HttpResponseClientRedirect(login["Location"])
        return login
    jobs_recover(page=True)
    job = get_object_or_404(jobs_visible_to(request.user), pk=pk)
    if not request.htmx:
        return redirect("web:import_detail", pk=job.pk)
    if not job.is_active:
        # The finished page has a different layout (panel or error summary): load it whole.
        return HttpResponseClientRefresh()
    return render(request, "web/imports/_status.html", {"job": job, "progress": job_progress(job)})


@login_required
@require_POST
def import_start(request, pk: int):
    job = get_object_or_404(jobs_visible_to(request.user), pk=pk)
    try:
        job_start(actor=request.user, job=job)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The import has started.")
    return redirect("web:import_detail", pk=job.pk)

import datetime as dt

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from onecase.accounts.models import Role
from onecase.accounts.selectors import import_agencies_for
from onecase.cases.rules import may_import_cases
from onecase.cases.selectors import my_cases_read
from onecase.imports.jobs import (
    job_create,
    job_linking,
    job_preview_viewed,
    job_progress,
    job_sample,
    job_start,
    jobs_recover,
    jobs_visible_to,
)
from onecase.imports.models import ImportJob
from onecase.imports.rules import may_start_job
from onecase.linkage.jobs import links_recover
from onecase.measures.rules import may_see_measures
from onecase.reports.rules import may_see_cohort_impact
from onecase.reports.selectors import agency_counts_for
from onecase.sharing.models import Alert
from onecase.sharing.selectors import alerts_for, disclosure_requests_to_decide
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


# Which home page each role starts from; every other role (analysts, auditors, the partnership)
# sees the counts per agency.
CASE_WORK_HOME = {Role.KEY_WORKER, Role.PRACTITIONER, Role.FRONT_DOOR, Role.VOLUNTARY_PARTNER}
HOME_IMPORTS = 10
HOME_REQUESTS = 10
ALERT_DAYS = 7


@login_required
@require_GET
def home(request):
    """The page each role starts from: case workers their cases, invitations and overdue actions; agency
    administrators their agency's imports; DPOs their agency's alerts and the requests it decides;
    everyone else the counts per agency they may see."""
    user = request.user
    context = {"may_upload": import_agencies_for(user).exists(), "may_import_cases": may_import_cases(user)}
    if user.role in CASE_WORK_HOME:
        context.update(_case_work(request))
        context["kind"] = "cases"
        return render(request, "web/home.html", context)
    if user.role in (Role.AGENCY_ADMIN, Role.DPO):
        context["deciding"] = list(disclosure_requests_to_decide(user)[:HOME_REQUESTS])
    if user.role == Role.DPO:
        since = timezone.now() - dt.timedelta(days=ALERT_DAYS)
        recent = alerts_for(user).filter(created_at__gte=since)
        counts = dict(recent.values_list("kind").annotate(n=Count("id")).order_by())
        context["kind"] = "dpo"
        context["alert_days"] = ALERT_DAYS
        context["alert_counts"] = [(label, counts.get(kind, 0)) for kind, label in Alert.Kind.choices]
        return render(request, "web/home.html", context)
    if user.role == Role.AGENCY_ADMIN:
        jobs_recover(page=True)  # so that a job whose worker died is shown as failed
        context["kind"] = "imports"
        context["jobs"] = list(jobs_visible_to(user).select_related("agency", "created_by")[:HOME_IMPORTS])
    else:
        context["kind"] = "counts"
        context["may_see_measures"] = may_see_measures(user)
        context["may_see_impact"] = may_see_cohort_impact(user)
    rows = agency_counts_for(user)
    context["rows"] = rows
    context["totals"] = {
        "contacts": sum(row["contacts"] for row in rows),
        "source_people": sum(row["source_people"] for row in rows),
    }
    return render(request, "web/home.html", context)


def _case_work(request) -> dict:
    """The case worker's cases, invitations and overdue actions (``my_cases`` marks the actions on cases
    they may no longer open, which are listed without a link)."""
    return {"mine": my_cases_read(request.user, ip=client_ip(request))}


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
    links_recover(page=True)  # so that a link whose worker died is not shown as running
    job = get_object_or_404(
        jobs_visible_to(request.user).select_related("agency", "created_by", "link_request__run"), pk=pk
    )
    sample = None
    if job.status == ImportJob.Status.PREVIEWED:
        sample = job_sample(job)
        if sample and sample["rows"]:
            job_preview_viewed(actor=request.user, job=job, rows_shown=len(sample["rows"]), ip=client_ip(request))
    context = {
        "job": job,
        "sample": sample,
        "progress": job_progress(job),
        "linking": job_linking(job),
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
    links_recover(page=True)
    job = get_object_or_404(jobs_visible_to(request.user).select_related("link_request__run"), pk=pk)
    if not request.htmx:
        return redirect("web:import_detail", pk=job.pk)
    linking = job_linking(job)
    if not job.is_active and not (linking and linking["pending"] and request.GET.get("linking") == "1"):
        # The finished page has a different layout (panel or error summary): load it whole. It
        # polls again, for linking (``linking=1``), while its records wait to be linked.
        return HttpResponseClientRefresh()
    return render(request, "web/imports/_status.html",
                  {"job": job, "progress": job_progress(job), "linking": linking})


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

"""The service's own 404, 403 and 500 pages, as `make demo` serves them (DEBUG off): plain words, never
Django's technical pages with their list of URL patterns."""

import datetime as dt
import shutil
import subprocess  # nosec B404
from pathlib import Path

import pytest
from django.test import Client
from django.urls import include, path
from django.utils import timezone

from onecase.accounts.models import Role
from onecase.cases import services
from onecase.cases.models import Action, Case
from onecase.config import urls as project_urls
from tests.auth import sign_in
from tests.factories import UserFactory
from tests.test_cases import open_case, team  # noqa: F401  (fixture)
from tests.test_demand import city  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

# What Django's debug pages show and the service's must not.
TECHNICAL = ("URLconf", "Using the URLconf", "urlpatterns", "Traceback", "Django tried these URL patterns")


def boom(request):
    raise RuntimeError("something broke")


# A URLconf for the 500 test: the project's own, its error handlers included, plus a view that fails.
urlpatterns = [path("boom/", boom), path("api/v1/boom", boom), path("", include(project_urls.urlpatterns))]
handler404 = project_urls.handler404
handler403 = project_urls.handler403
handler500 = project_urls.handler500


def assert_service_page(response, status: int, heading: str):
    body = response.content.decode()
    assert response.status_code == status
    assert 'class="govuk-template"' in body and f'<h1 class="govuk-heading-l">{heading}</h1>' in body
    assert "Go to the OneCase home page" in body
    for text in TECHNICAL:
        assert text not in body, text


def test_a_revoked_practitioners_old_case_link_gives_the_services_404_page(client, team, settings):  # noqa: F811
    settings.DEBUG = False  # as `make demo` serves
    case = open_case(team)
    officer = team["officer"]
    grant = services.grant_invite(actor=team["kw"], case=case, invitee=officer, purpose="Tenancy",
                                  ends_on=timezone.localdate() + dt.timedelta(days=30))
    services.grant_accept(actor=officer, grant=grant)
    action = services.action_add(actor=officer, case=case, title="Arrange a payment plan", owner=officer,
                                 due_on=timezone.localdate() + dt.timedelta(days=2))
    Action.objects.filter(pk=action.pk).update(due_on=timezone.localdate() - dt.timedelta(days=1))  # now overdue
    sign_in(client, officer)
    link = f'href="/cases/{case.pk}/"'
    assert link in client.get("/cases/").content.decode()  # "My actions" links to the case
    assert client.get(f"/cases/{case.pk}/").status_code == 200

    grant.refresh_from_db()
    services.grant_revoke(actor=team["kw"], grant=grant)
    response = client.get(f"/cases/{case.pk}/")
    assert_service_page(response, 404, "Page not found")
    assert "404.html" in [t.name for t in response.templates]
    assert "you may no longer have access" in response.content.decode()
    # The home page still lists the action, but no longer links to a case the practitioner cannot open.
    home = client.get("/").content.decode()
    assert "Arrange a payment plan" in home and link not in home
    assert "you can no longer open this case" in home


def test_an_unknown_address_gives_the_404_page_without_url_patterns(client, settings):
    settings.DEBUG = False
    sign_in(client, UserFactory(role=Role.KEY_WORKER))
    assert_service_page(client.get("/no-such-page/"), 404, "Page not found")
    assert_service_page(client.get(f"/cases/{Case.objects.count() + 999}/"), 404, "Page not found")


def test_the_api_answers_404_in_json(client, settings):
    settings.DEBUG = False
    sign_in(client, UserFactory(role=Role.KEY_WORKER))
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


def test_a_refused_page_gives_the_services_403_page(client, settings):
    settings.DEBUG = False
    analyst = UserFactory(role=Role.ANALYST)
    sign_in(client, analyst)
    response = client.get("/data-protection/")
    assert_service_page(response, 403, "You cannot see this page")
    assert "ask your agency administrator" in response.content.decode()


def test_a_failure_gives_the_services_500_page_and_the_api_json(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    body = response.content.decode()
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in body and 'class="govuk-template"' in body
    assert "something broke" not in body and "RuntimeError" not in body
    for text in TECHNICAL:
        assert text not in body, text
    api = client.get("/api/v1/boom")
    assert api.status_code == 500 and api.json()["detail"].startswith("Sorry, there is a problem")


ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_demo_serves_with_debug_off_unless_asked():
    def dry_run(*args):
        result = subprocess.run(["make", "-n", "demo", *args], cwd=ROOT, capture_output=True, text=True,  # nosec
                                timeout=60, env={"PATH": "/usr/bin:/bin"})
        assert result.returncode == 0, result.stderr
        return result.stdout

    lines = dry_run().splitlines()
    assert any("onecase collectstatic" in line for line in lines)  # WhiteNoise serves them with DEBUG off
    assert any(line.startswith("DEBUG=0 ") and "onecase runserver" in line for line in lines)
    assert any(line.startswith("DEBUG=1 ") and "onecase runserver" in line for line in dry_run("DEBUG=1").splitlines())

"""Who has looked at a record, unusual access, and subject access request exports."""

import csv
import io
import json
import zipfile

import pytest
from django.core.exceptions import PermissionDenied

from onecase.accounts.models import Role
from onecase.imports.services import import_contacts
from onecase.people.models import AgencyPerson, Person, PersonLink
from onecase.sharing.models import AuditEvent
from onecase.sharing.selectors import access_history_for, unusual_access
from onecase.sharing.services import audit_record, sar_export
from tests.factories import AgencyFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(write_file):
    content = (
        "agency,record_id,person_ref,occurred_at,contact_type,given_name,family_name,presenting_need\n"
        "POLICE,1,P1,2025-01-01,incident,Jon,Smith,my neighbour is threatening me\n"
        "HOUSING,9,H1,2025-01-03,repair_request,Jonathan,Smyth,the damp\n"
        "HOUSING,10,H2,2025-01-04,repair_request,Someone,Else,leak\n"
    )
    import_contacts(actor=None, path=write_file("p.csv", content))
    person = Person.objects.create()
    for record in AgencyPerson.objects.filter(person_ref__in=["P1", "H1"]):
        PersonLink.objects.create(agency_person=record, person=person, match_probability=0.99)
    return person


def test_who_has_looked_is_shown_to_the_dpo_of_a_holding_agency(person):
    """A holding agency's DPO sees its own staff's looks and every disclosure of its own records; not
    another agency's look or disclosure, which would say who else holds records about the person."""
    police, fire = AgencyFactory(code="POLICE"), AgencyFactory(code="FIRE")
    viewer = UserFactory(agency=AgencyFactory(code="CSC"), role=Role.KEY_WORKER)
    officer = UserFactory(agency=police, role=Role.PRACTITIONER)
    audit_record(user=viewer, action=AuditEvent.Action.VIEW, object_type="person", object_id=person.pk)
    audit_record(user=viewer, action=AuditEvent.Action.DISCLOSE, object_type="person", object_id=person.pk,
                 detail={"owner_agency_id": police.pk, "agreement": "ISA-1"})
    audit_record(user=viewer, action=AuditEvent.Action.DISCLOSE, object_type="person", object_id=person.pk,
                 detail={"owner_agency_id": fire.pk, "agreement": "ISA-2"})
    audit_record(user=officer, action=AuditEvent.Action.VIEW, object_type="person", object_id=person.pk)
    police_dpo = UserFactory(agency=police, role=Role.DPO)
    fire_dpo = UserFactory(agency=fire, role=Role.DPO)
    shown = [(e.username, e.action, e.detail.get("agreement")) for e in access_history_for(police_dpo, person_id=person.pk)]
    assert shown == [(officer.username, AuditEvent.Action.VIEW, None),
                     (viewer.username, AuditEvent.Action.DISCLOSE, "ISA-1")]
    # Fire holds no record of the person: no history at all, not even of its own records' disclosure.
    assert list(access_history_for(fire_dpo, person_id=person.pk)) == []
    assert list(access_history_for(viewer, person_id=person.pk)) == []
    auditor = UserFactory(agency=AgencyFactory(code="PARTNERSHIP"), role=Role.AUDITOR)
    assert access_history_for(auditor, person_id=person.pk).count() == 4


def test_unusual_access_flags_users_viewing_many_people(settings):
    settings.ONECASE_ACCESS_ANOMALY = {"volume_people": 10}
    busy = UserFactory(role=Role.PRACTITIONER)
    quiet = UserFactory(role=Role.PRACTITIONER)
    for n in range(12):
        audit_record(user=busy, action=AuditEvent.Action.VIEW, object_type="person", object_id=n)
    audit_record(user=quiet, action=AuditEvent.Action.VIEW, object_type="person", object_id=1)
    flagged = unusual_access(UserFactory(role=Role.AUDITOR))
    assert [(row["username"], row["people"]) for row in flagged if row["rule"] == "volume"] == [(busy.username, 12)]


def test_subject_access_request_bundle(person):
    viewer = UserFactory(agency=AgencyFactory(code="CSC"), role=Role.KEY_WORKER)
    audit_record(user=viewer, action=AuditEvent.Action.DISCLOSE, object_type="person", object_id=person.pk,
                 purpose="Safety planning", detail={"agreement": "KIL-ISA-001"})
    dpo = UserFactory(agency=AgencyFactory(code="HOUSING"), role=Role.DPO)
    with zipfile.ZipFile(io.BytesIO(sar_export(actor=dpo, person=person))) as bundle:
        records = list(csv.DictReader(io.StringIO(bundle.read("agency_records.csv").decode())))
        contacts = list(csv.DictReader(io.StringIO(bundle.read("contacts.csv").decode())))
        disclosures = list(csv.DictReader(io.StringIO(bundle.read("disclosures.csv").decode())))
        manifest = json.loads(bundle.read("manifest.json"))
    assert sorted(r["person_ref"] for r in records) == ["H1", "P1"]
    assert [c["record_id"] for c in contacts] == ["1", "9"]  # not the other housing tenant's
    assert disclosures[0]["username"] == viewer.username and disclosures[0]["agreement"] == "KIL-ISA-001"
    assert manifest["contacts"] == 2
    assert AuditEvent.objects.filter(action="export", object_id=str(person.pk)).count() == 1


def test_subject_access_export_is_refused_to_others(person):
    for user in (UserFactory(agency=AgencyFactory(code="FIRE"), role=Role.DPO),
                 UserFactory(agency=AgencyFactory(code="POLICE"), role=Role.PRACTITIONER)):
        with pytest.raises(PermissionDenied):
            sar_export(actor=user, person=person)
    assert not AuditEvent.objects.filter(action="export").exists()


def audit_reads():
    return AuditEvent.objects.filter(action=AuditEvent.Action.VIEW, object_type="audit")


def test_reading_the_audit_trail_in_the_admin_pages_is_audited_with_counts_only(client):
    from tests.auth import sign_in

    auditor = UserFactory(agency=AgencyFactory(code="PARTNERSHIP"), role=Role.AUDITOR)
    for n in range(3):
        audit_record(user=None, action=AuditEvent.Action.VIEW, object_type="person", object_id=n)
    sign_in(client, auditor)
    assert client.get("/admin/audit/auditevent/", {"q": "someone"}).status_code == 200
    listed = audit_reads().get()
    assert listed.user_id == auditor.pk
    assert listed.detail == {"page": "admin list", "shown": 0, "matching": 0}  # counts, never the search
    everything = AuditEvent.objects.count()  # an auditor sees every event: these three, the sign-in, the search
    client.get("/admin/audit/auditevent/")
    assert audit_reads().first().detail == {"page": "admin list", "shown": everything, "matching": everything}
    event = AuditEvent.objects.filter(object_type="person").first()
    assert client.get(f"/admin/audit/auditevent/{event.pk}/change/").status_code == 200
    opened = audit_reads().first()
    assert (opened.object_id, opened.detail) == (str(event.pk), {"page": "admin detail", "shown": 1})


def test_the_data_protection_page_is_audited(client):
    from tests.auth import sign_in

    dpo = UserFactory(agency=AgencyFactory(code="POLICE"), role=Role.DPO)
    sign_in(client, dpo)
    assert client.get("/data-protection/").status_code == 200
    read = audit_reads().get()
    assert (read.user_id, read.detail) == (dpo.pk, {"page": "data protection", "alerts": 0, "unusual": 0})
    sign_in(client, UserFactory(agency=dpo.agency, role=Role.PRACTITIONER))
    assert client.get("/data-protection/").status_code == 403
    assert audit_reads().count() == 1

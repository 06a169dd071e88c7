from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from onecase.concurrency import CONFLICT_MESSAGE, parse_version
from onecase.sharing.models import Agreement, AgreementParty, AuditEvent, BreakGlassRole, DataCategory, Purpose
from onecase.sharing.rules import BREAK_GLASS_ROLES, may_manage_agreements, may_manage_break_glass, may_read_audit
from onecase.sharing.services import (
    agreement_parties_set,
    agreement_save,
    agreement_validate,
    audit_trail_read,
    break_glass_role_set,
    client_ip,
)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """The audit trail is append-only: it can be read here, never added to, changed or deleted."""

    list_display = ("at", "username", "agency_code", "role", "action", "object_type", "object_id", "ip")
    list_filter = ("action", "object_type", "agency_code")
    search_fields = ("username", "object_id")
    date_hierarchy = "at"
    show_full_result_count = False

    def has_module_permission(self, request):
        return may_read_audit(request.user)

    def has_view_permission(self, request, obj=None):
        return may_read_audit(request.user)

    def get_queryset(self, request):
        from onecase.sharing.selectors import audit_events_visible_to

        return audit_events_visible_to(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # Reading the audit trail is itself audited, with counts only.
    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", None) or {}
        if response.status_code == 200 and "cl" in changelist:
            audit_trail_read(user=request.user, page="admin list", ip=client_ip(request),
                             shown=len(changelist["cl"].result_list), matching=changelist["cl"].result_count)
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if response.status_code == 200:
            audit_trail_read(user=request.user, page="admin detail", object_id=object_id, ip=client_ip(request),
                             shown=1)
        return response


class AgreementPartyFormSet(forms.BaseInlineFormSet):
    """The parties, checked by ``agreement_validate`` as the services check them: two agencies or more."""

    def parties(self) -> dict:
        return {form.cleaned_data["agency"]: form.cleaned_data["max_tier"] for form in self.forms
                if form.cleaned_data.get("agency") and not self._should_delete_form(form)}

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        try:
            agreement_validate(agencies=list(self.parties()))
        except ValidationError as error:
            raise forms.ValidationError(error.messages) from None


class AgreementPartyInline(admin.TabularInline):
    """Each party and its highest tier, saved by ``agreement_parties_set`` (audited)."""

    model = AgreementParty
    formset = AgreementPartyFormSet
    extra = 2
    autocomplete_fields = ()

    def has_view_permission(self, request, obj=None):
        return may_manage_agreements(request.user)

    def has_add_permission(self, request, obj=None):
        return may_manage_agreements(request.user)

    def has_change_permission(self, request, obj=None):
        return may_manage_agreements(request.user)

    def has_delete_permission(self, request, obj=None):
        return may_manage_agreements(request.user)  # a party leaves; the agreement itself is never deleted


class AgreementForm(forms.ModelForm):
    """The agreement, with the version it was opened at: a stale form is refused, showing both versions."""

    opened_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Agreement
        fields = ["reference", "title", "lawful_basis", "special_category_condition", "purposes", "purpose_codes",
                  "data_categories", "starts_on", "ends_on", "review_on", "signed_document_ref", "revoked_reason"]
        help_texts = {
            "purpose_codes": "A tier under this agreement holds only for work with one of these purposes. A list of: "
                             + "; ".join(f"{code} ({label})" for code, label in Purpose.choices) + ".",
            "data_categories": "A tier under this agreement holds only for the data categories listed. A list of: "
                               + "; ".join(f"{code} ({label})" for code, label in DataCategory.choices) + ".",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["opened_version"].initial = self.instance.version

    def clean(self):
        data = super().clean()
        try:
            agreement_validate(data_categories=data.get("data_categories"), purpose_codes=data.get("purpose_codes"),
                               starts_on=data.get("starts_on"), ends_on=data.get("ends_on"))
        except ValidationError as error:
            raise forms.ValidationError(error.messages) from None
        if self.instance.pk is None:
            return data
        # The admin saves inside one transaction: the row stays locked until the save is done.
        saved = Agreement.objects.select_for_update().get(pk=self.instance.pk)
        opened = parse_version(self.data.get("opened_version"))
        if opened != saved.version:
            theirs, yours = [], []
            for field in Agreement._meta.fields:
                if field.name in self.fields:
                    now, mine = getattr(saved, field.name), data.get(field.name, getattr(saved, field.name))
                    if now != mine:
                        label = self.fields[field.name].label
                        theirs.append(f"{label}: {now or 'blank'}")
                        yours.append(f"{label}: {mine or 'blank'}")
            # Re-show the form at the saved version, keeping what was typed, so saving again is deliberate.
            self.data = self.data.copy()
            self.data["opened_version"] = str(saved.version)
            raise forms.ValidationError(
                f"{CONFLICT_MESSAGE} Version {saved.version} is saved now; you opened "
                f"{'version ' + str(opened) if opened else 'an older version'}. "
                f"Theirs: {'; '.join(theirs) or 'no difference in these fields'}. "
                f"Yours: {'; '.join(yours) or 'no difference in these fields'}. "
                "Your changes are still in the form: check them and save again to replace theirs.",
                code="conflict",
            )
        return data


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    """Information sharing agreements, kept by partnership administrators.

    Writing a reason in "revoked reason" revokes the agreement: the very next request that
    relied on it is refused. Every save is audited, and PostgreSQL keeps the change history.
    """

    form = AgreementForm
    inlines = [AgreementPartyInline]
    list_display = ("reference", "title", "lawful_basis", "starts_on", "ends_on", "review_on", "revoked_at")
    list_filter = ("lawful_basis",)
    search_fields = ("reference", "title")
    readonly_fields = ("revoked_at", "created_at")

    def has_module_permission(self, request):
        return may_manage_agreements(request.user)

    def has_view_permission(self, request, obj=None):
        return may_manage_agreements(request.user)

    def has_add_permission(self, request):
        return may_manage_agreements(request.user)

    def has_change_permission(self, request, obj=None):
        return may_manage_agreements(request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # agreements are revoked, never deleted

    def save_model(self, request, obj, form, change):
        agreement_save(actor=request.user, agreement=obj, expected_version=form.cleaned_data.get("opened_version"),
                       ip=client_ip(request))

    def save_formset(self, request, form, formset, change):
        if not isinstance(formset, AgreementPartyFormSet):
            return super().save_formset(request, form, formset, change)
        agreement_parties_set(actor=request.user, agreement=form.instance, parties=formset.parties(),
                              ip=client_ip(request))
        # Read by the admin's change message; the service has written the rows.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


@admin.register(BreakGlassRole)
class BreakGlassRoleAdmin(admin.ModelAdmin):
    """Who may break the glass: one setting per agency and role, kept by partnership administrators.

    Each change goes through ``break_glass_role_set`` (audited) and holds from the very next
    request. Settings are switched off, never deleted.
    """

    list_display = ("agency", "role", "allowed")
    list_editable = ("allowed",)
    list_filter = ("allowed", "role", "agency__sector", "agency")
    list_select_related = ("agency",)
    fields = ("agency", "role", "allowed")

    def get_readonly_fields(self, request, obj=None):
        return ("agency", "role") if obj is not None else ()

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role":
            kwargs["choices"] = [("", "---------"), *((role.value, role.label) for role in BREAK_GLASS_ROLES)]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    def has_module_permission(self, request):
        return may_manage_break_glass(request.user)

    def has_view_permission(self, request, obj=None):
        return may_manage_break_glass(request.user)

    def has_add_permission(self, request):
        return may_manage_break_glass(request.user)

    def has_change_permission(self, request, obj=None):
        return may_manage_break_glass(request.user)

    def has_delete_permission(self, request, obj=None):
        return False  # switched off, never deleted

    def save_model(self, request, obj, form, change):
        saved = break_glass_role_set(actor=request.user, agency=obj.agency, role=obj.role, allowed=obj.allowed,
                                     ip=client_ip(request))
        obj.pk = saved.pk

from django.contrib import admin

from onecase.audit.services import client_ip
from onecase.people.models import Address, AgencyPerson, Household, Person, PersonLink
from onecase.people.services import person_vip_set


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows shown to read, for everyone, superusers included: no add, change or delete here.

    Agency records stay as the agency sent them (imports change them); links are undone on the
    linkage review pages, never deleted. The change page shows each field read-only.
    """

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # also takes away the bulk delete action


@admin.register(AgencyPerson)
class AgencyPersonAdmin(ReadOnlyAdmin):
    list_display = ("person_ref", "agency", "identity_as_of", "updated_at")
    list_filter = ("agency",)
    list_select_related = ("agency",)
    search_fields = ("person_ref",)
    readonly_fields = ("created_at", "updated_at")
    show_full_result_count = False


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    """Extra protection is set through ``person_vip_set`` (audited); the household only by linkage."""

    list_display = ("id", "household", "vip", "created_at")
    list_filter = ("vip",)
    fields = ("household", "vip", "created_at")
    readonly_fields = ("household", "created_at")
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # people come from linkage

    def save_model(self, request, obj, form, change):
        person_vip_set(actor=request.user, person=obj, vip=obj.vip, ip=client_ip(request))


@admin.register(Household)
class HouseholdAdmin(ReadOnlyAdmin):
    """Households are formed by linkage and addresses by imports: read here, never edited."""

    list_display = ("id", "address", "created_at")
    raw_id_fields = ("address",)
    show_full_result_count = False


@admin.register(Address)
class AddressAdmin(ReadOnlyAdmin):
    list_display = ("id", "postcode", "uprn", "created_at")
    search_fields = ("uprn", "postcode")
    show_full_result_count = False


@admin.register(PersonLink)
class PersonLinkAdmin(ReadOnlyAdmin):
    list_display = ("agency_person", "person", "match_probability", "method", "created_at", "undone_at")
    list_filter = ("method",)
    raw_id_fields = ("agency_person", "person", "created_by", "undone_by")
    readonly_fields = ("created_at",)
    show_full_result_count = False

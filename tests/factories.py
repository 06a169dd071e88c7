import factory

from onecase.accounts.models import Agency, Role, User


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"AG{n}")
    name = factory.LazyAttribute(lambda o: f"Agency {o.code}")
    sector = "other"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    agency = factory.SubFactory(AgencyFactory)
    role = Role.PRACTITIONER
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()

import pytest
from django.db import connection

from onecase.accounts.models import Role
from tests.factories import AgencyFactory, UserFactory

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Argon2 is right for real accounts and far too slow for hundreds of test users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _flush_past_the_audit_triggers():
    """Live-server tests empty the database after each test with DELETE, which the audit table's
    append-only triggers refuse on SQLite: they are lifted for that flush and put back straight after."""
    if connection.vendor != "sqlite":
        yield
        return
    operations = type(connection.ops)
    original = operations.execute_sql_flush

    def execute_sql_flush(self, sql_list):
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'sharing_auditevent'"
            )
            triggers = cursor.fetchall()
            for name, _ in triggers:
                cursor.execute(f'DROP TRIGGER "{name}"')
        try:
            original(self, sql_list)
        finally:
            with self.connection.cursor() as cursor:
                for _, sql in triggers:
                    cursor.execute(sql)

    operations.execute_sql_flush = execute_sql_flush
    yield
    operations.execute_sql_flush = original


@pytest.fixture
def partnership_admin(db):
    return UserFactory(username="admin1", role=Role.PARTNERSHIP_ADMIN, agency=AgencyFactory(code="PARTNERSHIP"))


@pytest.fixture
def agency_admin(db):
    return UserFactory(username="police_admin", role=Role.AGENCY_ADMIN, agency=AgencyFactory(code="POLICE"))


@pytest.fixture
def write_file(tmp_path):
    """Write bytes or text to a file in a temporary folder and return its path."""

    def write(name: str, content: str | bytes, encoding: str = "utf-8"):
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
        return path

    return write


def pytest_collection_modifyitems(config, items):
    # Live-server tests flush the database with TRUNCATE after each test, which PostgreSQL
    # refuses for the append-only audit table; browser tests run on the SQLite pass.
    if connection.vendor == "postgresql":
        skip = pytest.mark.skip(reason="browser tests run against SQLite (audit rows cannot be truncated)")
        for item in items:
            if "e2e" in item.keywords:
                item.add_marker(skip)

from django.core.management.base import BaseCommand

from onecase.contacts.services import needs_classify


class Command(BaseCommand):
    help = "Place presenting needs in need categories using the editable keyword table."

    def handle(self, *args, **options):
        counts = needs_classify(actor=None)
        for code, n in sorted(counts.items(), key=lambda item: -item[1]):
            self.stdout.write(f"{code}: {n:,}")

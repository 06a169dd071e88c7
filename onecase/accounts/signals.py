"""What accounts announces to the apps above it, which it does not import."""

from django.dispatch import Signal

# Sent with ``actor`` and ``agency`` inside the transaction that creates an agency (the services
# and the admin pages). Sharing answers with the agency's default break-the-glass settings.
agency_created = Signal()

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from onecase.reports.selectors import agency_counts_for


@login_required
def home(request):
    """Counts per agency the user may see."""
    return render(request, "web/home.html", {"rows": agency_counts_for(request.user)})

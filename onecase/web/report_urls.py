from django.urls import path

from onecase.web import report_views as v

urlpatterns = [
    path("demand/failure/", v.failure_demand, name="demand_failure"),
    path("demand/failure.csv", v.failure_demand_csv, name="demand_failure_csv"),
    path("demand/in-context/", v.demands_context, name="demand_context"),
    path("demand/in-context.csv", v.demands_context_csv, name="demand_context_csv"),
    path("contacts/<int:pk>/classify/", v.contact_classify, name="contact_classify"),
]

"""URLs of the linkage review pages (onecase/web/review_views.py), in the ``web`` namespace."""

from django.urls import path

from onecase.web import review_views

urlpatterns = [
    path("linkage/review/", review_views.review_queue, name="review_queue"),
    path("linkage/review/<int:pk>/", review_views.review_item, name="review_item"),
    path("linkage/decisions/", review_views.review_decisions, name="review_decisions"),
    path("linkage/decisions/<int:pk>/undo/", review_views.review_undo, name="review_undo"),
    path("linkage/people/<int:pk>/", review_views.review_person, name="review_person"),
    path("linkage/households/<int:pk>/", review_views.review_household, name="review_household"),
]

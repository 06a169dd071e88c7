from rest_framework.pagination import PageNumberPagination


class ForgivingPageNumberPagination(PageNumberPagination):
    """Pages of 50; a page number past the end gives the last page, a nonsense one the first."""

    page_size = 50

    def paginate_queryset(self, queryset, request, view=None):
        paginator = self.django_paginator_class(queryset, self.get_page_size(request))
        self.page = paginator.get_page(request.query_params.get(self.page_query_param))
        self.request = request
        return list(self.page)

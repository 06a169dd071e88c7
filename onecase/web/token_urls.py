from django.urls import path

from onecase.web import token_views as v

urlpatterns = [
    path("api-tokens/", v.api_tokens, name="api_tokens"),
    path("api-tokens/new/", v.api_token_new, name="api_token_new"),
    path("api-tokens/<int:pk>/revoke/", v.api_token_revoke, name="api_token_revoke"),
]

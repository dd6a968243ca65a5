"""Placeholder: being written (issue 11)."""

from django.http import JsonResponse


def _not_yet(request, **kwargs):
    return JsonResponse({"detail": "not implemented yet"}, status=501)


ingest = metrics = chat_page = _not_yet

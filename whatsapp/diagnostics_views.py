"""Placeholder: being written (issue 12)."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt
def _not_yet(request, **kwargs):
    return JsonResponse({"detail": "not implemented yet"}, status=501)


extract_latest = diagnostics = diagnostics_log = _not_yet

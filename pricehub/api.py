from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission


class IsStaffOrTokenUser(BasePermission):
    """Scripts authenticate with a token; browsers with a staff session."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        return request.auth is not None or user.is_staff


class IdCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"

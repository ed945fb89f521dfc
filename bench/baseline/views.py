"""A minimal DRF endpoint: parse JSON, insert one row, answer 201. What intake is compared to."""

from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.baseline.models import BaselineRow
from decisions.api.authentication import IntegrationKeyAuthentication
from decisions.api.throttling import PerKeyRateThrottle


class BaselineSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)


class BaselineView(APIView):
    """No authentication, no throttling: the cheapest DRF write there is."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    def post(self, request):
        serializer = BaselineSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = BaselineRow.objects.create(title=serializer.validated_data["title"], body=request.data)
        return Response({"id": row.pk, "title": row.title}, status=status.HTTP_201_CREATED)


class AuthenticatedBaselineView(BaselineView):
    """The same insert behind the API's own authentication (API key) and per-key throttle."""

    authentication_classes = [IntegrationKeyAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [PerKeyRateThrottle]

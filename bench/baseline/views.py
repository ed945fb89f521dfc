"""A minimal DRF endpoint: parse JSON, insert one row, answer 201. What intake is compared to."""

from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.baseline.models import BaselineRow


class BaselineSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)


class BaselineView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    def post(self, request):
        serializer = BaselineSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = BaselineRow.objects.create(title=serializer.validated_data["title"], body=request.data)
        return Response({"id": row.pk, "title": row.title}, status=status.HTTP_201_CREATED)

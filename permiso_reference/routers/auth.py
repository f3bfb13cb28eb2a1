"""Routes under `/auth` (work in progress)."""

from fastapi import APIRouter

router = APIRouter()

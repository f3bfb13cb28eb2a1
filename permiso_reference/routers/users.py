"""Routes under `/users` (work in progress)."""

from fastapi import APIRouter

router = APIRouter()

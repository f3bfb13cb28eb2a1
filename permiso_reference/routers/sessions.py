"""Routes under `/sessions` (work in progress)."""

from fastapi import APIRouter

router = APIRouter()

"""stub"""

from fastapi import APIRouter

from sharefab.web.render import PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)

"""Distances and truck transport between sites: one model for the platform and the generator.

Road distance is the great-circle distance times 1.3; a truck averages 50 km/h and needs 30
minutes to load and unload; a trip costs a call-out fee plus a rate per road kilometre.
"""

from __future__ import annotations

import math

ROAD_FACTOR = 1.3
AVERAGE_SPEED_KMH = 50.0
LOADING_MINUTES = 30
TRIP_BASE_FEN = 15_000  # 150 CNY call-out
TRIP_PER_KM_FEN = 450  # 4.5 CNY per road km


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def road_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Estimated road distance in kilometres."""
    return ROAD_FACTOR * haversine_km(lat1, lon1, lat2, lon2)


def truck_minutes(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """Minutes to move work between two places (0 when they are the same place)."""
    if (lat1, lon1) == (lat2, lon2):
        return 0
    return LOADING_MINUTES + math.ceil(road_km(lat1, lon1, lat2, lon2) / AVERAGE_SPEED_KMH * 60)


def truck_cost_minor(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """Price of one truck trip in fen (0 when the places are the same), rounded to whole yuan."""
    if (lat1, lon1) == (lat2, lon2):
        return 0
    return TRIP_BASE_FEN + round(road_km(lat1, lon1, lat2, lon2) * TRIP_PER_KM_FEN / 100) * 100

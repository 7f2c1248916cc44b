"""Matching, quotes, bookings and plans: rows to solver input and results back."""

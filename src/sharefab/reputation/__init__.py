"""Reputation: ratings between the parties of an order and published credit scores."""

"""Commanders' figures: the overview and the contract's annual evaluation, in SQL."""

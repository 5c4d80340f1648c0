"""Indicators of a problem's result: baseline, direction, target, measurements, evidence."""

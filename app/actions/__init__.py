"""Actions decided on problems and carried out by partner organisations."""
